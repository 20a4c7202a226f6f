"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio
import logging
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service.settings import Settings

logger = logging.getLogger(__name__)

# OWASP's floor for argon2id (m=19 MiB, t=2, p=1). Weaker settings are allowed (tests
# lower them to run fast) but logged, so a production misconfiguration is visible.
OWASP_MIN_MEMORY_KIB = 19456
OWASP_MIN_TIME_COST = 2


class Passwords:
    """Hashes and verifies passwords with one set of argon2id parameters."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_cost: int,
        parallelism: int,
    ) -> None:
        if memory_cost < OWASP_MIN_MEMORY_KIB or time_cost < OWASP_MIN_TIME_COST:
            logger.warning(
                "argon2id parameters m=%r KiB t=%r are below the OWASP minimum m=%r KiB t=%r",
                memory_cost,
                time_cost,
                OWASP_MIN_MEMORY_KIB,
                OWASP_MIN_TIME_COST,
            )
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.ID,
        )
        self._dummy_hash: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        """Build with the costs from the settings."""
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_cost,
            parallelism=settings.argon2_parallelism,
        )

    async def hash_password(self, password: str) -> str:
        """Hash a password (argon2id, random salt) in a worker thread."""
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify_password(self, password_hash: str, password: str) -> bool:
        """Check a password against a stored hash in a worker thread; False on any mismatch."""
        return await asyncio.to_thread(self._verify, password_hash, password)

    async def verify_or_dummy(self, password_hash: str | None, password: str) -> bool:
        """Verify against the stored hash, or a dummy one (always False) for an unknown account."""
        # Both paths run one argon2 verification with the same parameters, so a wrong
        # email and a wrong password take about the same time.
        if password_hash is None:
            await self.verify_password(await self.dummy_hash(), password)
            return False
        return await self.verify_password(password_hash, password)

    async def dummy_hash(self) -> str:
        """A hash of a random password with our parameters, made once per instance."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash_password(secrets.token_urlsafe(32))
        return self._dummy_hash

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    def _verify(self, password_hash: str, password: str) -> bool:
        """argon2's verify (constant-time comparison) as a boolean."""
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
