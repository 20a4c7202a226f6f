"""Process configuration, read from `ZIZANY_*` environment variables."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from generated.realtime.limits import RATE_LIMITS

LogLevel = Literal["CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"]

DEFAULT_ALLOWED_ORIGINS = (
    "http://localhost:4000",
    "http://127.0.0.1:4000",
    "http://localhost:3000",
)

SECRET_KEY_FILENAME = "secret_key"

# Users write the short forms; the service needs the async drivers.
_DRIVER_ALIASES = {
    "postgres://": "postgresql+asyncpg://",
    "postgresql://": "postgresql+asyncpg://",
    "sqlite://": "sqlite+aiosqlite://",
}


_MESSAGES = RATE_LIMITS["message:create"]


class RateLimitSetting(BaseModel):
    """A deployment's values for one counter of the spec's `x-rate-limit`s."""

    limit: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class Settings(BaseSettings):
    """Everything configurable about one Zizany process."""

    model_config = SettingsConfigDict(env_prefix="ZIZANY_", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=4000, ge=0, le=65535)
    cookie_secure: bool = False
    session_ttl_seconds: int = Field(default=86400, gt=0)
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_ORIGINS)
    )
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, gt=0)
    # The `messages` counter (message:create and REST create_message); the spec's default.
    message_rate_limit: int = Field(default=_MESSAGES.limit, ge=1)
    message_rate_window_seconds: float = Field(default=_MESSAGES.window_seconds, gt=0)
    # Other counters of the spec's `x-rate-limit`s, by counter name, e.g.
    # ZIZANY_RATE_LIMITS='{"typing": {"limit": 40, "window_seconds": 10}}'.
    rate_limits: dict[str, RateLimitSetting] = Field(default_factory=dict)
    # At most one presence:update per server room per interval for connects/disconnects.
    presence_interval_seconds: float = Field(default=1.0, ge=0)
    typing_timeout_seconds: float = Field(default=10.0, gt=0)
    max_body_bytes: int = Field(default=65536, gt=0)
    # A WebSocket recipient holding more unsent than this is dropped, not buffered on
    # (service.realtime.direct): bytes in its connection's buffer, packets on its queue.
    max_send_buffer_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    max_send_queue_packets: int = Field(default=2048, gt=0)
    # Overload (service.chat.saturation): new messages are refused with E_RATE_LIMITED while
    # the writer holds this many, the event loop lags this much (smoothed), or the event
    # waited this long for its socket's turn; the refusal suggests retrying after a while.
    saturation_max_pending_messages: int = Field(default=1024, ge=1)
    saturation_max_loop_lag_seconds: float = Field(default=1.0, gt=0)
    saturation_max_queue_delay_seconds: float = Field(default=5.0, gt=0)
    saturation_retry_after_seconds: float = Field(default=1.0, ge=0)
    # Events of one socket waiting for their turn; past it a message:create is refused at
    # once (a client that never waits for its acks cannot queue without end).
    saturation_max_waiting_events: int = Field(default=256, ge=1)
    # Engine.IO keepalive: the server pings every interval; no answer within the timeout
    # closes the socket.
    ping_interval_seconds: float = Field(default=25.0, gt=0)
    ping_timeout_seconds: float = Field(default=20.0, gt=0)
    # Hostile clients (issue 13): how deep a socket payload may nest; transport limits.
    max_payload_depth: int = Field(default=32, ge=2)
    request_read_timeout_seconds: float = Field(default=10.0, gt=0)
    keep_alive_timeout_seconds: int = Field(default=5, ge=1)
    max_connections: int = Field(default=4096, ge=1)
    # A graceful shutdown (SIGTERM) ends within this many seconds (service.shutdown).
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    strict_emits: bool = False
    validate_emits: bool = True
    # Several processes (issue 6): a Redis key prefix per deployment, a stable id per process.
    redis_prefix: str = Field(default="zizany", pattern=r"^[^\s|]+$")
    instance_id: str | None = Field(default=None, pattern=r"^[^|]+$")
    presence_lease_seconds: float = Field(default=15.0, gt=0)
    presence_refresh_seconds: float = Field(default=5.0, gt=0)
    presence_sweep_seconds: float = Field(default=5.0, gt=0)
    # After the pub/sub lost broadcasts, the connections that may have missed some are
    # dropped (their clients reconnect and catch up), each within this many seconds.
    resync_spread_seconds: float = Field(default=5.0, ge=0, le=600)
    log_level: LogLevel = "INFO"
    # Operating (issue 14): `json` = one JSON object per line; metrics at /metrics when on,
    # behind `Authorization: Bearer <metrics_token>` when a token is set.
    log_format: Literal["text", "json"] = "text"
    metrics: bool = False
    metrics_token: SecretStr | None = None

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """Accept a comma-separated string (the environment form) as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        """Accept `JSON` as well as `json`."""
        return value.lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        """Accept `debug` as well as `DEBUG`."""
        return value.upper() if isinstance(value, str) else value

    @property
    def effective_database_url(self) -> str:
        """The configured database URL with an async driver, or the embedded SQLite file."""
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.data_dir}/zizany.db"
        for prefix, replacement in _DRIVER_ALIASES.items():
            if self.database_url.startswith(prefix):
                return replacement + self.database_url[len(prefix) :]
        return self.database_url

    @property
    def session_ttl(self) -> timedelta:
        """Session lifetime as a timedelta."""
        return timedelta(seconds=self.session_ttl_seconds)


def resolve_secret_key(settings: Settings) -> str:
    """The configured secret key, else the one kept in `{data_dir}/secret_key` (made once)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / SECRET_KEY_FILENAME
    existing = _read_secret_file(path)
    if existing is not None:
        return existing
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_urlsafe(48)
    # Write a complete private file under a temporary name, then link it into place:
    # the link fails if another process won the race, and nobody ever reads a half file.
    fd, tmp_name = tempfile.mkstemp(prefix=".secret_key.", dir=settings.data_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(candidate + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp_name, path)
        except FileExistsError:
            winner = _read_secret_file(path)
            if winner is None:
                raise RuntimeError(f"secret key file {str(path)!r} is empty") from None
            return winner
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
    return candidate


def _read_secret_file(path: Path) -> str | None:
    """Read a secret key file, or None when it does not exist or is blank."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return text or None
