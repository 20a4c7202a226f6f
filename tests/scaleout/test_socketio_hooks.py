"""What the service relies on in python-socketio is still there (no Redis needed).

ZizanyRedisManager overrides private methods and depends on the method resolution order;
a new python-socketio that renames, drops or stops calling one of them must fail here, not
in production as broadcasts that silently stop crossing processes. Every other private
hook the service has on python-socketio or python-engineio is listed in `PRIVATE_HOOKS`
with the test that guards it; metrics and logs use none (they are told by the
dispatcher's observer and a public catch-all handler, service.realtime.assembly).
"""

from __future__ import annotations

import hashlib
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager
from socketio.base_manager import BaseManager

from service.realtime.assembly import Realtime
from service.realtime.drain import _EVENT_TASK
from service.realtime.fanout import DirectFanoutManager
from service.realtime.scaleout.manager import ZizanyRedisManager


def test_python_socketio_is_a_tested_version() -> None:
    major, minor, *_ = (int(part) for part in version("python-socketio").split("."))
    assert (major, minor) == (5, 18), "re-check tests/scaleout/test_socketio_hooks.py, then the cap"


def test_every_overridden_method_exists_in_the_library_and_is_called_by_it() -> None:
    pubsub = AsyncPubSubManager
    for name in ZizanyRedisManager.OVERRIDES:
        assert name in vars(ZizanyRedisManager), f"{name} is no longer overridden: update OVERRIDES"
        assert hasattr(socketio.AsyncRedisManager, name), f"python-socketio has no {name} any more"
        callers = [
            member
            for member in vars(pubsub).values()
            if inspect.isfunction(member) and f"self.{name}(" in inspect.getsource(member)
        ]
        assert callers, f"AsyncPubSubManager no longer calls self.{name}()"
    for name in ZizanyRedisManager.CALLS:
        assert inspect.isfunction(getattr(socketio.AsyncRedisManager, name, None)), name


def test_the_redis_connection_attributes_it_reads_are_set_by_redis_connect() -> None:
    source = inspect.getsource(socketio.AsyncRedisManager._redis_connect)
    assert "self.redis =" in source and "self.pubsub =" in source
    assert "self.thread =" in inspect.getsource(AsyncPubSubManager.initialize)


def test_local_delivery_goes_through_the_direct_fanout_emit() -> None:
    mro = ZizanyRedisManager.__mro__
    emitters = [cls for cls in mro if "emit" in vars(cls)]
    assert emitters[:3] == [AsyncPubSubManager, DirectFanoutManager, socketio.AsyncManager]
    # AsyncPubSubManager delivers an emit to this process's sockets with super().emit.
    assert "super().emit(" in inspect.getsource(AsyncPubSubManager._handle_emit)


SERVICE = Path(__file__).resolve().parents[2] / "service"
# A private attribute reached on a Socket.IO or Engine.IO server object, or the trigger.
_PRIVATE_USE = re.compile(r"\b(?:sio|eio|server)\._[a-z]\w*|_trigger_event")
# Each private hook of the service on the libraries, and the test that guards it.
PRIVATE_HOOKS = {
    ("realtime/direct.py", "eio._async"): (
        "tests/realtime/test_direct_writes.py::"
        "test_the_library_hooks_direct_writes_rely_on_are_still_there"
    ),
    ("realtime/drain.py", "sio._handle_event"): (
        "tests/scaleout/test_socketio_hooks.py::"
        "test_the_drain_gates_every_client_event_where_the_library_starts_it"
    ),
}


def test_the_drain_gates_every_client_event_where_the_library_starts_it() -> None:
    # service.realtime.drain wraps AsyncServer._handle_event (to refuse events once the
    # shutdown began) and tracks the tasks started for _handle_event_internal (to wait for
    # their acks). Both must still be where every client EVENT packet goes.
    params = list(inspect.signature(socketio.AsyncServer._handle_event).parameters)
    assert params == ["self", "eio_sid", "namespace", "id", "data"]
    dispatch = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "await self._handle_event(eio_sid, pkt.namespace, pkt.id," in dispatch
    start = inspect.getsource(socketio.AsyncServer._handle_event)
    assert "self.start_background_task(" in start and "self._handle_event_internal" in start
    assert socketio.AsyncServer._handle_event_internal.__name__ == _EVENT_TASK


def test_every_private_hook_on_the_servers_is_listed_with_its_guard() -> None:
    found = {
        (str(path.relative_to(SERVICE)), use)
        for path in SERVICE.rglob("*.py")
        for use in _PRIVATE_USE.findall(path.read_text())
    }
    # ZizanyRedisManager's overrides are checked above; `self._x` is not matched here.
    assert found == set(PRIVATE_HOOKS), "list the new hook here with a test that guards it"


def test_the_catch_all_that_counts_unhandled_events_keeps_them_unacked() -> None:
    # Realtime.observe registers `*` and returns `not_handled`: the library must still call
    # a catch-all for unknown names only, and send no ack for `not_handled`.
    assert "not_handled" in inspect.getsource(Realtime.observe)
    resolve = inspect.getsource(socketio.AsyncServer._get_event_handler)
    assert "'*' in self.handlers[namespace]" in resolve and "reserved_events" in resolve
    assert "r != self.not_handled" in inspect.getsource(socketio.AsyncServer._handle_event_internal)
    sio = socketio.AsyncServer(async_mode="asgi")
    sio.on("known", lambda sid, data: None)
    sio.on("*", lambda event, sid, data: None)
    handler, args = sio._get_event_handler("no:such", "/", ("sid", 1))
    assert handler is sio.handlers["/"]["*"] and args == ("no:such", "sid", 1)
    assert sio._get_event_handler("disconnect", "/", ("sid",))[0] is None


# sha256 of python-socketio 5.18's BaseManager.basic_disconnect, which DirectFanoutManager
# mirrors with its room index: a release that changes what a disconnect clears must be
# looked at (and the mirror updated) before the cap moves.
MIRRORED_DISCONNECT = "2933b50bc4b2ea7b"


def test_the_room_index_sees_every_change_of_the_rooms() -> None:
    source = inspect.getsource(BaseManager.basic_disconnect)
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == MIRRORED_DISCONNECT
    # Rooms change only through basic_enter_room and basic_leave_room (the index's hooks):
    # connects enter, closing a room leaves, and nothing else of the library writes them.
    assert "self.basic_enter_room(" in inspect.getsource(BaseManager.pre_connect)
    assert "self.basic_leave_room(" in inspect.getsource(BaseManager.basic_close_room)
    writes = re.compile(r"self\.rooms\[[^\]]*\](\[[^\]]*\])* = |del self\.rooms|self\.rooms = ")
    writers = [
        name
        for name, member in vars(BaseManager).items()
        if inspect.isfunction(member) and writes.search(inspect.getsource(member))
    ]
    assert sorted(writers) == ["__init__", "basic_enter_room", "basic_leave_room"], writers
    for name in ("basic_enter_room", "basic_leave_room", "get_rooms", "basic_disconnect"):
        assert name in vars(DirectFanoutManager) and hasattr(BaseManager, name), name
