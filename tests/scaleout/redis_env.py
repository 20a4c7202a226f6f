"""Which Redis the scale-out tests use, and fresh key prefixes on it."""

from __future__ import annotations

import os
import uuid

REDIS_URL = os.environ.get("ZIZANY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def new_prefix() -> str:
    """A key prefix no other test (or run) uses."""
    return f"zizany-test-{uuid.uuid4().hex[:12]}"
