"""A live Zizany app for REST tests: its test settings, and what it told the real-time side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.settings import Settings
from tests.support.live import LiveServer
from tests.support.notifier import RecordingNotifier

# Cheap argon2id so hundreds of signups stay fast (the service logs that it is weak).
FAST_HASHING: dict[str, Any] = {"argon2_time_cost": 1, "argon2_memory_cost": 1024}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Test settings: a data directory, fast hashing, limits no shared test reaches."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        **FAST_HASHING,
        "login_max_failures": 1000,
        "message_rate_limit": 100_000,
        "strict_emits": True,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Deployment:
    """A running app: its URL, its settings and what it told the real-time side."""

    live: LiveServer
    settings: Settings
    notifier: RecordingNotifier
    backend: str

    @property
    def url(self) -> str:
        """The base URL (http://127.0.0.1:PORT)."""
        return self.live.url
