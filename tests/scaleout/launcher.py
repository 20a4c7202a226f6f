"""One Zizany process for the scale-out tests: `python -m tests.scaleout.launcher PORT [N]`.

Runs `service.workers.serve` (what `zizany serve [--workers N]` runs) with the settings
from the environment, like the CLI.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from fastapi import FastAPI

from service.api.notifier import GuardedNotifier
from service.app import create_app
from service.realtime.server import create_realtime
from service.settings import Settings
from service.workers import serve


def app_factory(settings: Settings) -> Any:
    """`create_app(settings)`, with the real-time side mounted if create_app does not yet."""
    app = create_app(settings)
    if not isinstance(app, FastAPI):
        return app
    context = app.state.api
    realtime = create_realtime(
        settings=settings, sessionmaker=context.sessionmaker, secret=context.secret
    )
    context.notifier = GuardedNotifier(realtime)
    context.message_limiter = realtime.message_rate
    context.login_throttle = realtime.login_throttle
    return realtime.asgi(app)


def main() -> int:
    """Serve on the port given (with the number of workers given, default 1)."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    return serve(settings, host="127.0.0.1", port=port, workers=workers, app_factory=app_factory)


if __name__ == "__main__":
    sys.exit(main())
