"""Password guessing against a live server: the guesser waits, the owner gets in."""

from __future__ import annotations

import httpx
import pytest

from tests.hostile.process import PASSWORD, ServerProcess, signup

pytestmark = pytest.mark.timeout(300)


def _login(server: ServerProcess, address: str, password: str) -> httpx.Response:
    return httpx.post(
        server.url + "/api/auth/login",
        json={"email": "owner@example.com", "password": password},
        headers={"X-Forwarded-For": address},
        timeout=10,
    )


def test_wrong_passwords_from_one_address_do_not_lock_the_owner_out(
    server: ServerProcess,
) -> None:
    signup(server.url, "owner")
    # The hostile server allows 3 failures per (account, address).
    statuses = [_login(server, "203.0.113.5", "guess").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # The guesser's address waits even with the right password...
    assert _login(server, "203.0.113.5", PASSWORD).status_code == 429
    # ...the owner, from an address that has not failed, gets in at once.
    assert _login(server, "198.51.100.20", PASSWORD).status_code == 200
