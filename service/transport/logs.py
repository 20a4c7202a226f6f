"""One log handler for the Socket.IO libraries: ours (the root logger's), not theirs too.

python-engineio and python-socketio, given no logger, add a `StreamHandler` of their own
to `engineio.server` / `socketio.server` and still propagate to the root logger, so each
of their lines is printed twice. Their level stays what they choose (ERROR); their own
handlers go, and setting the level first keeps a server built later from adding one.
"""

from __future__ import annotations

import logging

LIBRARY_LOGGERS = ("engineio.server", "socketio.server")


def use_one_log_handler() -> None:
    """Remove the libraries' own handlers; their records reach the root logger once."""
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.ERROR)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:
                logger.removeHandler(handler)
