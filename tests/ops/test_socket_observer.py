"""service.observe.SocketObserver in process: the log context it sets around each event.

The live tests (test_logs.py, test_metrics.py) check the lines and figures it produces;
these check that the context ends with the event (an access line logged after a polling
handshake, in the same task, must not name the socket).
"""

from __future__ import annotations

from service import logs
from service.observe import SocketObserver

USERS: dict[str, int] = {"s1": 7}
NOBODY: dict[str, int] = {}


def test_an_event_s_lines_name_its_socket_user_and_event_until_it_ends() -> None:
    observer = SocketObserver(USERS.get)
    done = observer.event_started("s1", "message:create")
    assert logs.context_fields() == {"socket_id": "s1", "user_id": 7, "event": "message:create"}
    done(None)
    assert logs.context_fields() == {}


def test_a_connection_s_user_is_named_once_accepted_and_forgotten_after() -> None:
    observer = SocketObserver(NOBODY.get)
    done = observer.event_started("s2", "connect")
    assert logs.context_fields() == {"socket_id": "s2", "event": "connect"}
    observer.user_of = {"s2": 9}.get  # authenticated: the dispatcher knows the principal now
    observer.connected("s2")
    assert logs.context_fields()["user_id"] == 9
    done(None)
    assert logs.context_fields() == {}
    observer.disconnected("s2")
    observer.disconnected("s2")  # a second one changes nothing (the gauge counts once)
    assert observer.accepted == set()
