"""One Zizany process for the scale-out tests: `python -m tests.support.launcher PORT [N]`.

Runs `service.workers.serve` (what `zizany serve [--workers N]` runs) with the settings
from the environment, like the CLI.
"""

from __future__ import annotations

import logging
import sys

from service.app import create_app
from service.settings import Settings
from service.workers import serve


def main() -> int:
    """Serve on the port given (with the number of workers given, default 1)."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    port = int(sys.argv[1])
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    return serve(settings, host="127.0.0.1", port=port, workers=workers, app_factory=create_app)


if __name__ == "__main__":
    sys.exit(main())
