"""Passwords: argon2id with the configured costs, verified off the event loop."""

from __future__ import annotations

import statistics
import time

import pytest

from service.auth.passwords import OWASP_MIN_MEMORY_KIB, OWASP_MIN_TIME_COST, Passwords
from service.settings import Settings

pytestmark = pytest.mark.anyio

CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


async def test_hashes_are_argon2id_with_the_configured_parameters() -> None:
    passwords = Passwords(time_cost=2, memory_cost=4096, parallelism=1)

    hashed = await passwords.hash_password("correct horse battery staple")

    assert hashed.startswith("$argon2id$v=19$m=4096,t=2,p=1$")
    assert hashed != await passwords.hash_password("correct horse battery staple")


async def test_the_default_settings_meet_the_owasp_minimum() -> None:
    # Built from the declared defaults, whatever ZIZANY_* variables the environment sets.
    defaults = {
        name: field.default
        for name, field in Settings.model_fields.items()
        if name.startswith("argon2_")
    }
    passwords = Passwords(
        time_cost=defaults["argon2_time_cost"],
        memory_cost=defaults["argon2_memory_cost"],
        parallelism=defaults["argon2_parallelism"],
    )

    hashed = await passwords.hash_password("pw-for-defaults")

    assert defaults == {"argon2_time_cost": 3, "argon2_memory_cost": 65536, "argon2_parallelism": 1}
    assert defaults["argon2_memory_cost"] >= OWASP_MIN_MEMORY_KIB
    assert defaults["argon2_time_cost"] >= OWASP_MIN_TIME_COST
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=1$")


async def test_the_right_password_verifies_and_a_wrong_one_does_not() -> None:
    passwords = Passwords(**CHEAP)
    hashed = await passwords.hash_password("s3cret-password")

    assert await passwords.verify_password(hashed, "s3cret-password") is True
    assert await passwords.verify_password(hashed, "s3cret-passwordX") is False
    assert await passwords.verify_password(hashed, "") is False
    assert await passwords.verify_password("not-a-hash", "s3cret-password") is False


async def test_an_unknown_account_still_costs_one_verification() -> None:
    # Real OWASP-minimum costs so the verification dominates the noise.
    passwords = Passwords(
        time_cost=OWASP_MIN_TIME_COST, memory_cost=OWASP_MIN_MEMORY_KIB, parallelism=1
    )
    known = await passwords.hash_password("the-password")
    await passwords.dummy_hash()

    async def timed(password_hash: str | None) -> float:
        started = time.perf_counter()
        outcome = await passwords.verify_or_dummy(password_hash, "a-wrong-password")
        assert outcome is False
        return time.perf_counter() - started

    known_times = [await timed(known) for _ in range(5)]
    unknown_times = [await timed(None) for _ in range(5)]

    assert statistics.median(unknown_times) > 0.5 * statistics.median(known_times)
    assert await passwords.verify_or_dummy(known, "the-password") is True
    assert await passwords.verify_or_dummy(None, "the-password") is False


async def test_hashes_made_with_other_parameters_need_a_rehash() -> None:
    weak = Passwords(**CHEAP)
    strong = Passwords(time_cost=2, memory_cost=2048, parallelism=1)
    weak_hash = await weak.hash_password("pw")

    assert strong.needs_rehash(weak_hash) is True
    assert weak.needs_rehash(weak_hash) is False
    assert strong.needs_rehash("garbage") is True
