"""Tag `auth`: accounts and the session cookie."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from generated.rest.models import LoginRequest, SignupRequest, User, UserResponse
from service.api.body import strict
from service.api.cookies import clear_session_cookie, set_session_cookie
from service.api.deps import (
    ApiContext,
    ApiDep,
    ClientAddress,
    CurrentLogin,
    CurrentUser,
    DbSessionDep,
)
from service.api.views import user_out
from service.auth import logins
from service.auth.logins import principal_from_cookie_header
from service.db import users as users_db
from service.db.tables import UserRow
from service.errors import InvalidCredentials, Unauthorized

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/signup", operation_id="signup", status_code=201)
async def signup(
    request: Request,
    response: Response,
    context: ApiDep,
    session: DbSessionDep,
    body: Annotated[SignupRequest, strict(SignupRequest)],
) -> UserResponse:
    """Create an account and sign it in with a new session."""
    password_hash = await context.passwords.hash_password(body.password)
    user = await users_db.create_user(
        session=session, username=body.username, email=body.email, password_hash=password_hash
    )
    return await _signed_in(user, request, response, context, session)


@router.post("/login", operation_id="login")
async def login(
    request: Request,
    response: Response,
    address: ClientAddress,
    context: ApiDep,
    session: DbSessionDep,
    body: Annotated[LoginRequest, strict(LoginRequest)],
) -> UserResponse:
    """Sign in with a new session id; one answer for a wrong email and a wrong password."""
    email = users_db.normalize_email(body.email)
    await context.login_throttle.check(email=email, address=address)
    user = await users_db.get_user_by_email(session=session, email=email)
    # Always one argon2 verification (a dummy one for an unknown email): same timing.
    stored_hash = user.password_hash if user is not None else None
    verified = await context.passwords.verify_or_dummy(stored_hash, body.password)
    if user is None or not verified:
        await context.login_throttle.record_failure(email=email, address=address)
        raise InvalidCredentials("wrong email or password")
    await context.login_throttle.record_success(email=email, address=address)
    if context.passwords.needs_rehash(user.password_hash):
        new_hash = await context.passwords.hash_password(body.password)
        await users_db.set_password_hash(session=session, user_id=user.id, password_hash=new_hash)
    return await _signed_in(user, request, response, context, session)


@router.post("/logout", operation_id="logout", status_code=204)
async def logout(principal: CurrentLogin, context: ApiDep, session: DbSessionDep) -> Response:
    """End this session, disconnect its sockets and clear the cookie."""
    await logins.end_login(session=session, login_id=principal.login_id)
    await session.commit()
    await context.notifier.login_ended(principal.login_id)
    response = Response(status_code=204)
    clear_session_cookie(response, settings=context.settings)
    return response


@router.get("/me", operation_id="get_me")
async def get_me(principal: CurrentUser, session: DbSessionDep) -> User:
    """The signed-in user."""
    user = await users_db.get_user(session=session, user_id=principal.user_id)
    if user is None:
        raise Unauthorized("sign in first")
    return user_out(user)


async def _signed_in(
    user: UserRow, request: Request, response: Response, context: ApiContext, session: AsyncSession
) -> UserResponse:
    """Start a new login session for `user` (commits), replace the one the request carried,
    and set its cookie."""
    login_id = await logins.start_login(
        session=session, user_id=user.id, ttl=context.settings.session_ttl
    )
    await session.commit()
    await _end_carried_session(request, context)
    set_session_cookie(
        response, settings=context.settings, secret=context.secret, login_id=login_id
    )
    return UserResponse(user=user_out(user))


async def _end_carried_session(request: Request, context: ApiContext) -> None:
    """Destroy the session a signup/login request carried: a new id replaces it, never reuses it."""
    carried = await principal_from_cookie_header(
        sessionmaker=context.sessionmaker,
        secret=context.secret,
        cookie_header=request.headers.get("cookie"),
    )
    if carried is None:
        return
    async with context.sessionmaker() as session:
        await logins.end_login(session=session, login_id=carried.login_id)
        await session.commit()
    await context.notifier.login_ended(carried.login_id)
