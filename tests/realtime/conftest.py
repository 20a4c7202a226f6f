"""Fixtures of the real-time tests: the live app and its seeded world (tests/support/seeded.py)."""

from __future__ import annotations

from tests.support.seeded import live_world, settings, world

__all__ = ["live_world", "settings", "world"]
