"""What ZizanyRedisManager relies on in python-socketio is still there (no Redis needed).

It overrides private methods and depends on the method resolution order; a new
python-socketio that renames, drops or stops calling one of them must fail here, not in
production as broadcasts that silently stop crossing processes.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import socketio
from socketio.async_pubsub_manager import AsyncPubSubManager

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
