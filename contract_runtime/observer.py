"""What a Dispatcher tells an observer about the events it runs (metrics and log context).

The dispatcher owns every connection (connect, disconnect) and every operation of the
spec; an observer set on it (`Dispatcher.observer`) hears of each, through public calls
only, so metrics and logs need no hook inside python-socketio:

- `event_started(sid, event)` as each begins: "connect", "disconnect" or an operation's
  event name, before the event waits for the socket's earlier ones. It returns the
  callback the dispatcher calls exactly once as that event ends, with its outcome: None
  when it succeeded (an ok ack, an accepted connection), else the error code (the failed
  ack's, the connection refusal's; "E_INTERNAL" when the event was cancelled or crashed).
- `connected(sid)` once the socket is accepted (before `on_connected` runs), and
  `disconnected(sid)` as the accepted socket's disconnect ends (after `on_disconnected`).

Every call runs in the task that runs the event, so a context variable set in
`event_started` (and reset by its callback) holds for whatever the event logs. The
default observer does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

EventDone = Callable[[str | None], None]
"""Called once as an event ends: None for success, else its error code."""

CONNECT = "connect"
DISCONNECT = "disconnect"


class DispatchObserver(Protocol):
    """Hears of each event a Dispatcher runs (see the module doc for when each is called)."""

    def event_started(self, sid: str, event: str) -> EventDone:
        """`sid`'s event `event` begins; the result is called once as it ends."""
        ...

    def connected(self, sid: str) -> None:
        """`sid` was accepted (its principal is known)."""
        ...

    def disconnected(self, sid: str) -> None:
        """The accepted socket `sid` is gone."""
        ...


def _nothing(code: str | None) -> None:
    return None


class NoObserver:
    """The default: observes nothing (and allocates nothing per event)."""

    def event_started(self, sid: str, event: str) -> EventDone:
        """Nothing to do."""
        return _nothing

    def connected(self, sid: str) -> None:
        """Nothing to do."""

    def disconnected(self, sid: str) -> None:
        """Nothing to do."""
