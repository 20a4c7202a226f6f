"""Domain errors with stable codes, mapped once to HTTP bodies and socket error events."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from contract_runtime.errors import ContractError


class DomainError(ContractError):
    """An expected failure a client can act on; `code` is the stable string clients switch on.

    It is a `ContractError`, so the generated router maps it to the socket error event and
    failed ack of its code, as the REST error handler maps it to the HTTP body.
    """

    code: str = "E_INTERNAL"
    http_status: int = 500
    default_message: str = "internal error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message: str = message if message is not None else self.default_message
        self.details: list[dict[str, object]] | None = (
            [dict(item) for item in details] if details is not None else None
        )
        self.headers: dict[str, str] = dict(headers) if headers is not None else {}
        super().__init__(self.message, extra=self.socket_extra())

    def http_body(self) -> dict[str, object]:
        """The JSON error body of the REST API."""
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body

    def socket_extra(self) -> dict[str, object]:
        """Fields the socket error event / ack carries besides `code` and `message`."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class Unauthorized(DomainError):
    """No valid session."""

    code = "E_UNAUTHORIZED"
    http_status = 401
    default_message = "authentication required"


class Forbidden(DomainError):
    """The caller can see the resource but lacks the permission."""

    code = "E_FORBIDDEN"
    http_status = 403
    default_message = "forbidden"


class ValidationFailed(DomainError):
    """The request does not satisfy the contract; `details` says which field and why."""

    code = "E_VALIDATION"
    http_status = 422
    default_message = "invalid request"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Sequence[Mapping[str, object]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, details=details if details is not None else [], headers=headers)

    def socket_extra(self) -> dict[str, object]:
        """Socket validation errors carry the details too."""
        return {"details": self.details or []}


class NotFound(DomainError):
    """A resource does not exist or the caller may not know that it does."""

    code = "E_NOT_FOUND"
    http_status = 404
    default_message = "not found"


class ServerNotFound(NotFound):
    """No such server (or a private one the caller may not see)."""

    code = "E_SERVER_NOT_FOUND"

    def __init__(self, server_id: int, message: str | None = None) -> None:
        self.server_id = server_id
        super().__init__(message or f"no server {server_id!r}")


class ChannelNotFound(NotFound):
    """No such channel (or one in a server the caller may not see)."""

    code = "E_CHANNEL_NOT_FOUND"

    def __init__(self, channel_id: int, message: str | None = None) -> None:
        self.channel_id = channel_id
        super().__init__(message or f"no channel {channel_id!r}")


class MessageNotFound(NotFound):
    """No such message."""

    code = "E_MESSAGE_NOT_FOUND"

    def __init__(self, message_id: int, message: str | None = None) -> None:
        self.message_id = message_id
        super().__init__(message or f"no message {message_id!r}")


class UserNotFound(NotFound):
    """No such user (or no such member of the server in question)."""

    code = "E_USER_NOT_FOUND"

    def __init__(self, user_id: int, message: str | None = None) -> None:
        self.user_id = user_id
        super().__init__(message or f"no user {user_id!r}")


class EmailTaken(DomainError):
    """An account with this email exists."""

    code = "E_EMAIL_TAKEN"
    http_status = 409

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__(f"email {email!r} is already registered")


class InvalidCredentials(DomainError):
    """Wrong email or password; deliberately the same for both."""

    code = "E_INVALID_CREDENTIALS"
    http_status = 401
    default_message = "invalid email or password"


class RateLimited(DomainError):
    """Too many attempts; retry after the given time."""

    code = "E_RATE_LIMITED"
    http_status = 429

    def __init__(self, retry_after_seconds: float, message: str | None = None) -> None:
        self.retry_after_seconds = max(0.0, float(retry_after_seconds))
        self.retry_after_ms = math.ceil(self.retry_after_seconds * 1000)
        # Retry-After takes whole seconds; rounding up never invites an early retry.
        header_seconds = max(1, math.ceil(self.retry_after_seconds))
        super().__init__(
            message or f"too many attempts, retry after {header_seconds!r} s",
            headers={"Retry-After": str(header_seconds)},
        )

    def socket_extra(self) -> dict[str, object]:
        """The socket error carries `retryAfterMs`."""
        return {"retryAfterMs": self.retry_after_ms}


class AlreadyMember(DomainError):
    """The user already belongs to the server."""

    code = "E_ALREADY_MEMBER"
    http_status = 409

    def __init__(self, server_id: int, message: str | None = None) -> None:
        self.server_id = server_id
        super().__init__(message or f"already a member of server {server_id!r}")


class InviteRequired(DomainError):
    """A private server needs an invite code to join."""

    code = "E_INVITE_REQUIRED"
    http_status = 403

    def __init__(self, server_id: int, message: str | None = None) -> None:
        self.server_id = server_id
        super().__init__(message or f"server {server_id!r} needs an invite code")


class InviteNotFound(DomainError):
    """No invite with this code (for this server)."""

    code = "E_INVITE_NOT_FOUND"
    http_status = 404

    def __init__(self, invite_code: str, message: str | None = None) -> None:
        self.invite_code = invite_code
        super().__init__(message or f"no invite {invite_code!r}")


class InviteExpired(DomainError):
    """The invite expired or was used up."""

    code = "E_INVITE_EXPIRED"
    http_status = 410

    def __init__(self, invite_code: str, message: str | None = None) -> None:
        self.invite_code = invite_code
        super().__init__(message or f"invite {invite_code!r} has expired or is used up")


class OwnerCannotLeave(DomainError):
    """The owner must transfer ownership before leaving (and cannot be kicked)."""

    code = "E_OWNER_CANNOT_LEAVE"
    http_status = 403

    def __init__(self, server_id: int, message: str | None = None) -> None:
        self.server_id = server_id
        super().__init__(message or f"the owner cannot leave server {server_id!r}")


class ChannelNameTaken(DomainError):
    """The server already has a channel with this name."""

    code = "E_CHANNEL_NAME_TAKEN"
    http_status = 409

    def __init__(self, name: str, message: str | None = None) -> None:
        self.name = name
        super().__init__(message or f"channel name {name!r} is taken")


class PayloadTooLarge(DomainError):
    """The request body exceeds the configured limit."""

    code = "E_PAYLOAD_TOO_LARGE"
    http_status = 413

    def __init__(self, limit_bytes: int, message: str | None = None) -> None:
        self.limit_bytes = limit_bytes
        super().__init__(message or f"payload larger than {limit_bytes!r} bytes")


class Internal(DomainError):
    """Something unexpected failed; details are in the server log, not the response."""

    code = "E_INTERNAL"
    http_status = 500
    default_message = "internal error"
