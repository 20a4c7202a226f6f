"""schemathesis against spec/openapi.yaml on the live server: every operation, every check.

Each operation gets positive and negative cases; half of them aim at resources that exist
(a server, channel and message of the fuzzing user, made fresh for the operation), the
others at whatever ids schemathesis draws. Every answer goes through all of
schemathesis's registered checks plus one of ours: an error's `code` is in the
operation's `x-error-codes`. Calls are made with a signed-in session (a throwaway one for
`logout`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok

from conformance.coverage import Coverage
from conformance.fuzz import draw
from conformance.observer import Violation
from conformance.rest import GENERIC_ERROR_CODES

PASSWORD = "conformance-horse-battery"


def error_code_in_x_error_codes(ctx: Any, response: Any, case: Case[Any]) -> bool | None:
    """An error body's `code` is one the operation lists in `x-error-codes`."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    codes = case.operation.definition.raw.get("x-error-codes")
    if not isinstance(codes, list) or not isinstance(body, dict) or "code" not in body:
        return True
    if body["code"] not in codes and body["code"] not in GENERIC_ERROR_CODES:
        raise AssertionError(
            f"{case.operation.label}: error code {body['code']!r} is not in x-error-codes {codes}"
        )
    return True


@dataclass
class RestFuzzResult:
    """What schemathesis found."""

    failures: list[str] = field(default_factory=list)
    calls: int = 0
    operations: set[str] = field(default_factory=set)

    @property
    def violations(self) -> list[Violation]:
        """The failures, as violations (so known deviations can explain them)."""
        return [Violation("schemathesis", text) for text in self.failures]


@dataclass
class Fixture:
    """Resources of the fuzzing user that path parameters can point at."""

    ids: dict[str, int]


def _signup(base_url: str) -> tuple[str, int]:
    """A new user's session cookie and id."""
    tag = uuid.uuid4().hex[:10]
    email = f"st{tag}@conformance.example"
    with httpx.Client(base_url=base_url, timeout=30) as http:
        r = http.post(
            "/api/auth/signup",
            json={"username": f"st{tag}", "email": email, "password": PASSWORD},
        )
        r.raise_for_status()
        return r.cookies["connect.sid"], int(r.json()["user"]["id"])


def _fixture(base_url: str, cookie: str) -> Fixture:
    """A fresh server (with a channel, a message and a second member) of the fuzzing user."""
    headers = {"Cookie": f"connect.sid={cookie}"}
    other_cookie, user_id = _signup(base_url)
    with httpx.Client(base_url=base_url, timeout=30) as http:
        server = http.post(
            "/api/servers", json={"name": "fuzzed", "is_public": True}, headers=headers
        ).json()
        assert "server" in server, f"create_server answered {server!r}"
        server_id = server["server"]["id"]
        channels = http.get(f"/api/servers/{server_id}/channels", headers=headers).json()
        channel_id = channels["channels"][0]["id"]
        message = http.post(
            f"/api/channels/{channel_id}/messages", json={"content": "x"}, headers=headers
        ).json()
        http.post(
            f"/api/servers/{server_id}/join",
            json={},
            headers={"Cookie": f"connect.sid={other_cookie}"},
        )
    return Fixture(
        ids={
            "serverId": server_id,
            "channelId": channel_id,
            "messageId": message["message"]["id"],
            "userId": user_id,
        },
    )


def run_schemathesis(
    spec_path: Path,
    base_url: str,
    coverage: Coverage,
    *,
    examples: int = 6,
    seed: int = 1,
    log: Callable[[str], None] | None = None,
) -> RestFuzzResult:
    """Run schemathesis on every operation (positive and negative data, all checks)."""
    say = log or (lambda _: None)
    load_all_checks()
    # Every registered check (all are functions; class-based ones would need a whole run),
    # and ours, passed here rather than registered: other suites' schemathesis runs in this
    # process keep their own set.
    checks = [c for c in CHECKS.get_all() if not isinstance(c, type)]
    checks.append(error_code_in_x_error_codes)
    schema = schemathesis.openapi.from_path(spec_path)
    result = RestFuzzResult()
    seen: set[str] = set()
    cookie, _ = _signup(base_url)
    for i, found in enumerate(schema.get_all_operations()):
        if not isinstance(found, Ok):
            result.failures.append(f"schemathesis cannot read an operation: {found.err()}")
            continue
        operation = found.ok()
        op_id = str(operation.definition.raw.get("operationId", operation.label))
        fixture = _fixture(base_url, cookie)
        params = {
            p.name: fixture.ids[p.name] for p in operation.path_parameters if p.name in fixture.ids
        }
        # The session is the spec's cookie parameter, so negative cases may leave it out
        # (and must then be refused); no session where the operation needs none (signup
        # and login replace the session they are sent with), a throwaway one for logout.
        needs_session = operation.definition.raw.get("security") != []
        session = cookie if op_id != "logout" else _signup(base_url)[0]
        cookies = {"connect.sid": session} if needs_session else None
        cases: list[Case[Any]] = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            cases += draw(
                operation.as_strategy(generation_mode=mode, cookies=cookies),
                examples,
                seed_value=seed + i,
            )
            if params:
                cases += draw(
                    operation.as_strategy(
                        generation_mode=mode, path_parameters=params, cookies=cookies
                    ),
                    examples,
                    seed_value=seed + i + 1000,
                )
        for case in cases:
            if op_id == "logout" and needs_session:
                case.cookies = {"connect.sid": _signup(base_url)[0]}
            response = case.call(base_url=base_url)
            result.calls += 1
            result.operations.add(op_id)
            coverage.rest_call(op_id, response.status_code, schemathesis=True)
            try:
                case.validate_response(
                    response,
                    checks=checks,
                    transport_kwargs={"base_url": base_url},
                )
            except (Failure, FailureGroup) as exc:
                lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
                text = f"{op_id}: " + " | ".join(lines[:8])
                if text not in seen:
                    seen.add(text)
                    result.failures.append(text)
        say(f"schemathesis {op_id}: {len(cases)} cases")
    return result
