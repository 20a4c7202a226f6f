"""The `connect.sid` cookie on HTTP responses: set (signed, rolling) and cleared."""

from __future__ import annotations

import math
from datetime import datetime

from starlette.responses import Response

from service.auth.logins import SESSION_COOKIE_NAME, sign_login_id
from service.db.timestamps import utcnow
from service.settings import Settings


def set_session_cookie(
    response: Response,
    *,
    settings: Settings,
    secret: str,
    login_id: str,
    expires_at: datetime | None = None,
) -> None:
    """Send the signed session cookie, valid until the session's expiry (else a full TTL)."""
    if expires_at is None:
        max_age = settings.session_ttl_seconds
    else:
        max_age = max(1, math.floor((expires_at - utcnow()).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE_NAME,
        sign_login_id(secret, login_id),
        max_age=max_age,
        expires=max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, *, settings: Settings) -> None:
    """Tell the client to drop the session cookie (empty value, Max-Age=0)."""
    response.delete_cookie(
        SESSION_COOKIE_NAME,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
