"""Accounts and sessions: signup, login (new ids, one answer, throttling), logout, me, cookie."""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path

import httpx
import pytest

from generated.rest.operations import OPERATIONS
from service.app import create_app
from service.auth.logins import sign_login_id
from service.settings import resolve_secret_key
from tests.support.clients import PASSWORD, Api, expect
from tests.support.deployment import Deployment, make_settings
from tests.support.live import serve

pytestmark = pytest.mark.anyio

PUBLIC_OPERATIONS = {"get_health", "signup", "login"}


def new_email() -> str:
    return f"new.{uuid.uuid4().hex[:12]}@example.com"


def cookie_attributes(response: httpx.Response) -> dict[str, str]:
    """The attributes of the response's `connect.sid` Set-Cookie, lower-cased names."""
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith("connect.sid=")]
    first, *rest = [part.strip() for part in header.split(";")]
    attributes = {"value": first.partition("=")[2]}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


async def test_signup_creates_the_account_signs_it_in_and_stores_the_email_lower_cased(
    api: Api,
) -> None:
    client = api.client()
    email = new_email()
    response = await client.post(
        "/api/auth/signup",
        json={"username": "Sara_1", "email": email.upper(), "password": PASSWORD},
    )
    user = expect(response, 201)["user"]
    assert set(user) == {"id", "username", "email", "thumbnail", "created_at"}
    assert (user["username"], user["email"], user["thumbnail"]) == ("Sara_1", email, None)
    cookie = cookie_attributes(response)
    assert cookie["value"]
    assert cookie["path"] == "/"
    assert cookie["samesite"].lower() == "lax"
    assert "httponly" in cookie
    assert "secure" not in cookie
    assert cookie["max-age"] == "86400"
    assert expect(await client.get("/api/auth/me"), 200) == user


async def test_signup_with_a_registered_email_in_another_case_is_409_email_taken(
    api: Api,
) -> None:
    person = await api.person()
    response = await api.client().post(
        "/api/auth/signup",
        json={"username": "other", "email": person.email.upper(), "password": PASSWORD},
    )
    expect(response, 409, "E_EMAIL_TAKEN")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "x", "password": PASSWORD}, "username"),
        ({"username": "a" * 25, "password": PASSWORD}, "username"),
        ({"username": "has space", "password": PASSWORD}, "username"),
        ({"username": "ok", "email": "not-an-email", "password": PASSWORD}, "email"),
        ({"username": "ok", "password": "short"}, "password"),
        ({"username": "ok", "password": "p" * 129}, "password"),
        ({"username": "ok", "password": PASSWORD, "admin": True}, "admin"),
        ({"password": PASSWORD}, "username"),
    ],
    ids=[
        "short-username",
        "long-username",
        "username-charset",
        "bad-email",
        "short-password",
        "long-password",
        "unknown-field",
        "missing-username",
    ],
)
async def test_signup_with_an_invalid_field_is_422_naming_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    body = {"email": new_email(), **body}
    error = expect(await api.client().post("/api/auth/signup", json=body), 422, "E_VALIDATION")
    assert ["body", field] in [detail["loc"] for detail in error["details"]]
    assert all(set(detail) == {"loc", "msg", "type"} for detail in error["details"])


async def test_login_issues_a_new_session_id_every_time_and_ends_the_one_it_carried(
    api: Api, deployment: Deployment
) -> None:
    person = await api.person()
    carried = person.http.cookies["connect.sid"]
    credentials = {"email": person.email.upper(), "password": PASSWORD}
    first = await person.http.post("/api/auth/login", json=credentials)
    assert expect(first, 200)["user"]["id"] == person.id
    second = await api.client().post("/api/auth/login", json=credentials)
    values = {carried, cookie_attributes(first)["value"], cookie_attributes(second)["value"]}
    assert len(values) == 3
    # The session the login request carried is over (and its sockets were told).
    stale = api.client(cookies={"connect.sid": carried})
    expect(await stale.get("/api/auth/me"), 401, "E_UNAUTHORIZED")
    ended = [str(args["login_id"]) for args in _session_ends(deployment)]
    secret = resolve_secret_key(deployment.settings)
    assert any(sign_login_id(secret, login_id) == carried for login_id in ended)
    for response in (first, second):
        client = api.client(cookies={"connect.sid": cookie_attributes(response)["value"]})
        expect(await client.get("/api/auth/me"), 200)


def _session_ends(deployment: Deployment) -> list[dict[str, object]]:
    return [args for name, args in deployment.notifier.effects() if name == "login_ended"]


async def test_login_with_a_wrong_password_or_an_unknown_email_answers_the_same_401(
    api: Api,
) -> None:
    person = await api.person()
    client = api.client()
    wrong_password = await client.post(
        "/api/auth/login", json={"email": person.email, "password": "wrong-password"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": new_email(), "password": PASSWORD}
    )
    expect(wrong_password, 401, "E_INVALID_CREDENTIALS")
    expect(unknown_email, 401, "E_INVALID_CREDENTIALS")
    assert wrong_password.content == unknown_email.content
    assert "set-cookie" not in wrong_password.headers


def test_login_takes_similar_time_for_an_unknown_email_and_a_wrong_password(
    tmp_path: Path,
) -> None:
    # Real argon2 costs here: an unknown email must still pay for one verification.
    settings = make_settings(
        tmp_path, argon2_time_cost=2, argon2_memory_cost=19456, login_max_failures=1000
    )
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        email = new_email()
        signup = {"username": "timed", "email": email, "password": PASSWORD}
        expect(client.post("/api/auth/signup", json=signup), 201)

        def timed(body: dict[str, str]) -> float:
            started = time.perf_counter()
            expect(client.post("/api/auth/login", json=body), 401)
            return time.perf_counter() - started

        # Interleaved, so that a busy machine slows both kinds alike.
        wrong, unknown = [], []
        for _ in range(7):
            wrong.append(timed({"email": email, "password": "wrong-password"}))
            unknown.append(timed({"email": new_email(), "password": "wrong-password"}))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2, (wrong, unknown)


def test_login_is_throttled_per_address_and_account_without_locking_the_owner_out(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path, login_max_failures=3, login_window_seconds=60)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        email = new_email()
        signup = {"username": "target", "email": email, "password": PASSWORD}
        expect(client.post("/api/auth/signup", json=signup), 201)

        def login(address: str, who: str, password: str = "wrong-password") -> httpx.Response:
            return client.post(
                "/api/auth/login",
                json={"email": who, "password": password},
                headers={"X-Forwarded-For": address},
            )

        for _ in range(3):
            expect(login("10.0.0.1", email), 401, "E_INVALID_CREDENTIALS")
        # The address that failed waits, even with the right password...
        limited = login("10.0.0.1", email, PASSWORD)
        expect(limited, 429, "E_RATE_LIMITED")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # ...while the owner, from an address that has not failed, gets in.
        expect(login("10.0.0.2", email, PASSWORD), 200)
        # One address spraying many accounts: blocked after 4 x 3 failures.
        for _ in range(12):
            expect(login("10.0.0.3", new_email()), 401, "E_INVALID_CREDENTIALS")
        expect(login("10.0.0.3", new_email()), 429, "E_RATE_LIMITED")
        expect(login("10.0.0.4", new_email()), 401, "E_INVALID_CREDENTIALS")


async def test_logout_ends_only_this_session_clears_the_cookie_and_disconnects_its_sockets(
    api: Api, deployment: Deployment
) -> None:
    person = await api.person()
    other = api.client()
    expect(
        await other.post("/api/auth/login", json={"email": person.email, "password": PASSWORD}),
        200,
    )
    cookie = person.http.cookies["connect.sid"]
    response = await person.http.post("/api/auth/logout")
    expect(response, 204)
    cleared = cookie_attributes(response)
    assert cleared["value"] in {"", '""'}
    assert cleared["max-age"] == "0"
    stale = api.client(cookies={"connect.sid": cookie})
    expect(await stale.get("/api/auth/me"), 401, "E_UNAUTHORIZED")
    expect(await stale.post("/api/auth/logout"), 401, "E_UNAUTHORIZED")
    expect(await other.get("/api/auth/me"), 200)
    secret = resolve_secret_key(deployment.settings)
    ended = [args["login_id"] for args in _session_ends(deployment)]
    assert [sid for sid in ended if sign_login_id(secret, str(sid)) == cookie] != []


async def test_me_answers_the_signed_in_user_and_refreshes_the_cookie(api: Api) -> None:
    person = await api.person()
    response = await person.http.get("/api/auth/me")
    me = expect(response, 200)
    assert (me["id"], me["username"], me["email"]) == (person.id, person.username, person.email)
    refreshed = cookie_attributes(response)
    assert refreshed["value"] == person.http.cookies["connect.sid"]
    assert 86000 <= int(refreshed["max-age"]) <= 86400


@pytest.mark.parametrize(
    "cookie",
    [None, "garbage", "abc.def", "x" * 40 + ".forged-signature"],
    ids=["none", "garbage", "unsigned", "forged"],
)
async def test_me_without_a_valid_session_is_401(api: Api, cookie: str | None) -> None:
    client = api.client(cookies={"connect.sid": cookie} if cookie else None)
    expect(await client.get("/api/auth/me"), 401, "E_UNAUTHORIZED")


@pytest.mark.parametrize(
    ("method", "path"),
    [(m, p) for op, (m, p, _tag) in OPERATIONS.items() if op not in PUBLIC_OPERATIONS],
    ids=[op for op in OPERATIONS if op not in PUBLIC_OPERATIONS],
)
async def test_every_operation_but_health_signup_and_login_needs_a_session(
    api: Api, method: str, path: str
) -> None:
    for name in ("serverId", "channelId", "userId", "messageId"):
        path = path.replace("{" + name + "}", "1")
    body: dict[str, object] | None = {} if method in {"POST", "PATCH"} else None
    response = await api.client().request(method, path, json=body)
    expect(response, 401, "E_UNAUTHORIZED")


def test_an_expired_session_is_401(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, session_ttl_seconds=1)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        signup = {"username": "brief", "email": new_email(), "password": PASSWORD}
        expect(client.post("/api/auth/signup", json=signup), 201)
        expect(client.get("/api/auth/me"), 200)
        time.sleep(1.2)
        expect(client.get("/api/auth/me"), 401, "E_UNAUTHORIZED")


def test_the_cookie_is_secure_when_configured(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cookie_secure=True)
    with serve(create_app(settings)) as live, httpx.Client(base_url=live.url) as client:
        signup = {"username": "safe", "email": new_email(), "password": PASSWORD}
        response = client.post("/api/auth/signup", json=signup)
        expect(response, 201)
        assert "secure" in cookie_attributes(response)
