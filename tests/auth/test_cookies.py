"""Session cookies: signing, tamper detection and Cookie-header parsing."""

from __future__ import annotations

from service.auth.logins import (
    cookie_values,
    new_login_id,
    sign_login_id,
    unsign_login_id,
)

SECRET = "cookie-signing-secret-for-tests-0123456789"


def test_a_signed_session_id_unsigns_to_itself() -> None:
    login_id = new_login_id()

    signed = sign_login_id(SECRET, login_id)

    assert signed.startswith(login_id + ".")
    assert unsign_login_id(SECRET, signed) == login_id


def test_a_tampered_or_foreign_signature_is_rejected() -> None:
    login_id = new_login_id()
    signed = sign_login_id(SECRET, login_id)
    value, signature = signed.rsplit(".", 1)
    other_id = new_login_id()

    assert unsign_login_id(SECRET, f"{other_id}.{signature}") is None
    assert unsign_login_id(SECRET, f"{value}.{signature[:-2]}xx") is None
    assert unsign_login_id("another-secret", signed) is None
    assert unsign_login_id(SECRET, login_id) is None
    assert unsign_login_id(SECRET, "") is None
    assert unsign_login_id(SECRET, "é.é") is None


def test_cookie_values_picks_every_connect_sid_in_order_and_tolerates_junk() -> None:
    header = (
        'a=1; connect.sid=first; b; connect.sid="second" ;connect.sidx=no; =x; '
        "connect.sid=s%3Athird"
    )

    assert cookie_values(header) == ["first", "second", "s:third"]
    assert cookie_values(None) == []
    assert cookie_values("") == []
