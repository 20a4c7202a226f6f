"""One error body everywhere: unknown routes, wrong methods, bad ids and bodies, oversized
bodies, unexpected failures; and health when what the service depends on is down."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from generated.rest.models import Error
from generated.rest.operations import OPERATIONS
from service.app import create_app
from tests.support.clients import PASSWORD, Api, expect
from tests.support.deployment import Deployment, make_settings
from tests.support.live import serve
from tests.support.services import need

pytestmark = pytest.mark.anyio

# A port nothing listens on (the discard service): connections are refused at once.
CLOSED = "127.0.0.1:9"


def assert_error_body(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json"
    Error.model_validate(response.json())


async def test_an_unknown_path_is_404_e_not_found(api: Api) -> None:
    for path in ("/api/nothing", "/nothing", "/api/servers/1/nothing"):
        response = await api.client().get(path)
        expect(response, 404, "E_NOT_FOUND")
        assert_error_body(response)


async def test_a_known_path_with_another_method_is_405_with_allow(api: Api) -> None:
    response = await api.client().put("/api/servers")
    expect(response, 405, "E_METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error_body(response)


PATH_ID_OPERATIONS = [op for op, (_m, path, _t) in OPERATIONS.items() if "{" in path]


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1.5", "2147483648"])
@pytest.mark.parametrize("operation", PATH_ID_OPERATIONS)
async def test_a_path_id_that_is_not_a_positive_32_bit_integer_is_422(
    api: Api, deployment: Deployment, operation: str, bad_id: str
) -> None:
    person = await _signed_in(api, deployment)
    method, path, _tag = OPERATIONS[operation]
    first_param = path[path.index("{") + 1 : path.index("}")]
    path = path.replace("{" + first_param + "}", bad_id, 1)
    for name in ("serverId", "channelId", "userId", "messageId"):
        path = path.replace("{" + name + "}", "1")
    body: dict[str, object] | None = {} if method in {"POST", "PATCH"} else None
    response = await person.request(method, path, json=body)
    error = expect(response, 422, "E_VALIDATION")
    assert ["path", first_param] in [detail["loc"] for detail in error["details"]]
    assert_error_body(response)


_SIGNED_IN: dict[str, httpx.Cookies] = {}


async def _signed_in(api: Api, deployment: Deployment) -> httpx.AsyncClient:
    """A signed-in client, one account per backend for these many small cases."""
    cookies = _SIGNED_IN.get(deployment.backend)
    if cookies is None:
        cookies = (await api.person("paths")).http.cookies
        _SIGNED_IN[deployment.backend] = cookies
    return api.client(cookies=cookies)


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"email": "a@example.com",', "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"text"', "application/json"),
        (b"email=a@example.com", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "application/json"),
        (b"", "application/json"),
    ],
    ids=["truncated-json", "array", "string", "form", "not-utf8", "empty"],
)
async def test_a_body_that_is_not_the_documented_json_is_422(
    api: Api, content: bytes, content_type: str
) -> None:
    response = await api.client().post(
        "/api/auth/login", content=content, headers={"content-type": content_type}
    )
    error = expect(response, 422, "E_VALIDATION")
    assert error["details"] and error["details"][0]["loc"][0] == "body"
    assert_error_body(response)


@pytest.mark.parametrize("route", ["invites", "join"])
async def test_an_optional_body_may_be_left_out_but_a_json_null_is_422(
    api: Api, route: str
) -> None:
    owner, guest = await api.person(), await api.person()
    created = expect(
        await owner.http.post("/api/servers", json={"name": "P", "is_public": True}), 201
    )
    server_id = created["server"]["id"]
    person = owner if route == "invites" else guest
    path = f"/api/servers/{server_id}/{route}"
    null = await person.http.post(
        path, content=b"null", headers={"content-type": "application/json"}
    )
    error = expect(null, 422, "E_VALIDATION")
    assert error["details"][0]["loc"] == ["body"]
    assert_error_body(null)
    expect(await person.http.post(path), 201)


async def test_a_body_over_64_kib_is_413_declared_or_streamed(api: Api) -> None:
    person = await api.person()
    too_big = b'{"content": "' + b"x" * 65536 + b'"}'
    declared = await person.http.post(
        "/api/servers", content=too_big, headers={"content-type": "application/json"}
    )
    expect(declared, 413, "E_PAYLOAD_TOO_LARGE")
    assert_error_body(declared)

    async def chunks() -> Iterator[bytes]:  # type: ignore[misc]
        for start in range(0, len(too_big), 8192):
            yield too_big[start : start + 8192]

    streamed = await person.http.post(
        "/api/servers", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in streamed.request.headers
    expect(streamed, 413, "E_PAYLOAD_TOO_LARGE")
    # Just under the limit is parsed (and validated) as usual.
    fits = b'{"name": "' + b"x" * 65000 + b'"}'
    response = await person.http.post(
        "/api/servers", content=fits, headers={"content-type": "application/json"}
    )
    expect(response, 422, "E_VALIDATION")


@pytest.fixture
def database_down(tmp_path: Path) -> Iterator[str]:
    """An app whose PostgreSQL does not answer."""
    settings = make_settings(
        tmp_path, database_url=f"postgresql+asyncpg://postgres@{CLOSED}/zizany"
    )
    with serve(create_app(settings)) as live:
        yield live.url


def test_an_unexpected_failure_is_500_e_internal_logged_with_its_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        signup = {"username": "broken", "email": "broken@example.com", "password": PASSWORD}
        expect(client.post("/api/auth/signup", json=signup), 201)
        expect(client.post("/api/servers", json={"name": "s"}), 201)  # channel 1: general
        # A schema the code does not expect: every query on it fails.
        with sqlite3.connect(tmp_path / "zizany.db") as db:
            db.execute("DROP TABLE messages")
        with caplog.at_level(logging.ERROR):
            response = client.get("/api/channels/1/messages")
    expect(response, 500, "E_INTERNAL")
    assert response.json() == {"code": "E_INTERNAL", "message": "internal error"}
    assert "messages" not in response.text
    logged = [r for r in caplog.records if r.name == "service.api.errors"]
    assert logged and logged[0].exc_info is not None


def test_an_unreachable_database_is_503_e_internal_with_retry_after(
    database_down: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), httpx.Client(base_url=database_down) as client:
        response = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    expect(response, 503, "E_INTERNAL")
    assert response.headers["retry-after"] == "5"
    assert "Traceback" not in response.text
    assert [r for r in caplog.records if r.name == "service.api.errors"]


def test_health_is_503_naming_the_database_when_it_is_down(database_down: str) -> None:
    response = httpx.get(f"{database_down}/api/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "redis": "disabled",
    }


async def test_health_answers_ok_without_a_session(api: Api) -> None:
    response = await api.client().get("/api/health")
    assert expect(response, 200) == {"status": "ok", "database": "ok", "redis": "disabled"}


@pytest.mark.redis
def test_health_checks_a_configured_redis(tmp_path: Path) -> None:
    up = make_settings(tmp_path / "up", redis_url="redis://127.0.0.1:6379/0")
    with serve(create_app(up)) as live:
        response = httpx.get(f"{live.url}/api/health")
        need(response.status_code == 200, f"Redis at 127.0.0.1:6379 unavailable: {response.text}")
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    down = make_settings(tmp_path / "down", redis_url=f"redis://{CLOSED}/0")
    with serve(create_app(down)) as live:
        response = httpx.get(f"{live.url}/api/health")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "database": "ok",
            "redis": "unavailable",
        }


async def test_signup_login_and_health_need_no_session(api: Api) -> None:
    client = api.client()
    email = "free.signup@example.com"
    body = {"username": "free", "email": email, "password": PASSWORD}
    assert (await client.post("/api/auth/signup", json=body)).status_code in {201, 409}
    fresh = api.client()
    expect(await fresh.post("/api/auth/login", json={"email": email, "password": PASSWORD}), 200)
