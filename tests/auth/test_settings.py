"""Settings from the environment, and the secret key kept in the data directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from service.settings import Settings, resolve_secret_key


def test_allowed_origins_come_from_a_comma_separated_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZIZANY_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("ZIZANY_STRICT_EMITS", "true")
    monkeypatch.setenv("ZIZANY_PORT", "4100")

    settings = Settings()

    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert (settings.strict_emits, settings.port) == (True, 4100)


def test_defaults_use_the_embedded_sqlite_file_under_the_data_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [name for name in os.environ if name.startswith("ZIZANY_")]:
        monkeypatch.delenv(name)

    settings = Settings()

    assert settings.effective_database_url == "sqlite+aiosqlite:///data/zizany.db"
    assert settings.allowed_origins == [
        "http://localhost:4000",
        "http://127.0.0.1:4000",
        "http://localhost:3000",
    ]
    assert (settings.host, settings.port, settings.session_ttl_seconds) == (
        "127.0.0.1",
        4000,
        86400,
    )
    assert settings.redis_url is None


def test_plain_database_urls_get_the_async_drivers() -> None:
    assert (
        Settings(database_url="postgresql://u@h/db").effective_database_url
        == "postgresql+asyncpg://u@h/db"
    )
    assert (
        Settings(database_url="postgresql+asyncpg://u@h/db").effective_database_url
        == "postgresql+asyncpg://u@h/db"
    )
    assert (
        Settings(database_url="sqlite:////tmp/z.db").effective_database_url
        == "sqlite+aiosqlite:////tmp/z.db"
    )


def test_a_configured_secret_key_is_used_as_is(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="configured")

    assert resolve_secret_key(settings) == "configured"
    assert not (tmp_path / "secret_key").exists()


def test_without_a_secret_key_one_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")

    first = resolve_secret_key(settings)
    second = resolve_secret_key(Settings(data_dir=tmp_path / "data"))

    path = tmp_path / "data" / "secret_key"
    assert first == second
    assert len(first) >= 64
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret_key"]


def test_settings_construction_touches_no_files(tmp_path: Path) -> None:
    Settings(data_dir=tmp_path / "never")

    assert not (tmp_path / "never").exists()
