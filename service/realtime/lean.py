"""Lean asyncio containers for state every socket keeps for its life.

`asyncio.Queue` and `asyncio.Event` allocate their deques up front; an idle socket holds
an Engine.IO packet queue, uvicorn's receive queue and its `writable` flag, and the
memory probe counted 5 KiB per socket in them. These have the same semantics for what
python-engineio and uvicorn use of them (tests/realtime/test_lean_queue.py) and hold
their containers only while something waits.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any


def _enlisted(
    waiters: list[asyncio.Future[None]] | None,
) -> tuple[list[asyncio.Future[None]], asyncio.Future[None]]:
    """A new waiter appended to the list (made on first use): the list and the waiter."""
    waiter = asyncio.get_running_loop().create_future()
    if waiters is None:
        waiters = []
    waiters.append(waiter)
    return waiters, waiter


class LeanQueue:
    """The part of `asyncio.Queue` python-engineio uses, in a fraction of its memory.

    An `asyncio.Queue` holds four deques (items, getters, putters, and its `Event`'s
    waiters) and a dict: about 5 KiB per idle socket in the bench's tracemalloc probe.
    This one holds its items' deque only while items wait, getters and joiners only while
    someone waits.
    Unbounded, so `put` never waits (DirectQueue bounds it by disconnecting).
    """

    __slots__ = ("_getters", "_joiners", "_queue", "_unfinished")

    def __init__(self) -> None:
        # Only while items wait: a deque is 760 bytes, and most sockets are idle.
        self._queue: collections.deque[Any] | None = None
        self._getters: list[asyncio.Future[None]] | None = None
        self._joiners: list[asyncio.Future[None]] | None = None
        self._unfinished = 0

    def qsize(self) -> int:
        """How many items wait."""
        return len(self._queue) if self._queue else 0

    def empty(self) -> bool:
        """Whether no item waits."""
        return not self._queue

    def put_nowait(self, item: Any) -> None:
        """Append an item and wake one waiting getter."""
        if self._queue is None:
            self._queue = collections.deque()
        self._queue.append(item)
        self._unfinished += 1
        self._wake_getter()

    async def put(self, item: Any) -> None:
        """As `put_nowait` (the queue is unbounded)."""
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        """The oldest item; `asyncio.QueueEmpty` when there is none."""
        if not self._queue:
            raise asyncio.QueueEmpty
        return self._pop(self._queue)

    async def get(self) -> Any:
        """The oldest item, waiting for one."""
        while not self._queue:
            self._getters, waiter = _enlisted(self._getters)
            try:
                await waiter
            except BaseException:
                if self._getters is not None and waiter in self._getters:
                    self._getters.remove(waiter)
                if self._queue and not waiter.cancelled():
                    self._wake_getter()  # it was woken, then cancelled: pass it on
                raise
        return self._pop(self._queue)

    def _pop(self, queue: collections.deque[Any]) -> Any:
        item = queue.popleft()
        if not queue:
            self._queue = None
        return item

    def task_done(self) -> None:
        """One item taken is processed (for `join`)."""
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners:
            for joiner in self._joiners:
                if not joiner.done():
                    joiner.set_result(None)
            self._joiners = None

    async def join(self) -> None:
        """Wait until every item put has been processed."""
        if self._unfinished > 0:
            self._joiners, joiner = _enlisted(self._joiners)
            await joiner

    def _wake_getter(self) -> None:
        getters = self._getters
        while getters:
            waiter = getters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not getters:
            self._getters = None


class LeanEvent:
    """`asyncio.Event` (set, clear, wait, is_set) without a deque of waiters while none
    waits: uvicorn's `writable` flag, waited on only while the transport is paused."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        """Whether the flag is set."""
        return self._value

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Clear the flag."""
        self._value = False

    async def wait(self) -> bool:
        """Return at once when the flag is set, else when it is set next."""
        if self._value:
            return True
        self._waiters, waiter = _enlisted(self._waiters)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
