"""LeanQueue and LeanEvent: what python-engineio and uvicorn use of asyncio.Queue and Event."""

from __future__ import annotations

import asyncio
import sys

import pytest

from service.realtime.direct import DirectQueue
from service.realtime.lean import LeanEvent, LeanQueue

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_items_come_out_in_order_and_get_nowait_raises_queue_empty() -> None:
    queue = LeanQueue()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()
    for item in ("a", None, "b"):
        await queue.put(item)
    assert (queue.qsize(), queue.empty()) == (3, False)
    assert [queue.get_nowait(), await queue.get(), await queue.get()] == ["a", None, "b"]
    assert queue.empty()


async def test_a_waiting_getter_is_woken_by_a_put() -> None:
    queue = LeanQueue()
    getter = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not getter.done()
    queue.put_nowait("x")
    assert await asyncio.wait_for(getter, 1) == "x"


async def test_a_getter_woken_then_cancelled_passes_the_item_to_the_next() -> None:
    queue = LeanQueue()
    first = asyncio.ensure_future(queue.get())
    second = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("x")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(second, 1) == "x"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_getter_cancelled_by_a_timeout_leaves_nothing_behind() -> None:
    queue = LeanQueue()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), 0.01)
    queue.put_nowait("x")
    assert queue.get_nowait() == "x"


async def test_join_waits_until_every_item_is_done() -> None:
    queue = LeanQueue()
    await queue.join()  # nothing put: returns at once
    queue.put_nowait(1)
    queue.put_nowait(2)
    joined = asyncio.ensure_future(queue.join())
    await queue.get()
    queue.task_done()
    await asyncio.sleep(0)
    assert not joined.done()
    await queue.get()
    queue.task_done()
    await asyncio.wait_for(joined, 1)
    with pytest.raises(ValueError, match="too many times"):
        queue.task_done()


def test_an_idle_queue_holds_a_fraction_of_an_asyncio_queue() -> None:
    # What each idle socket keeps: the queue object and its containers.
    def size(queue: object) -> int:
        names = [n for klass in type(queue).__mro__ for n in getattr(klass, "__slots__", ())]
        slots = [getattr(queue, name, None) for name in names]
        contents = list(vars(queue).values()) if hasattr(queue, "__dict__") else slots
        total = sys.getsizeof(queue) + sum(sys.getsizeof(v) for v in contents)
        finished = getattr(queue, "_finished", None)  # asyncio.Queue's Event
        if finished is not None:
            total += sum(sys.getsizeof(v) for v in vars(finished).values())
        return total

    lean, stock = DirectQueue(), asyncio.Queue[object]()
    # No deque while nothing waits (760 bytes each): a tenth of the stock queue.
    assert size(lean) * 10 < size(stock), (size(lean), size(stock))
    lean.put_nowait("x")
    assert lean.get_nowait() == "x"
    assert size(lean) * 10 < size(stock), "a drained queue keeps its deque"


async def test_a_lean_event_wakes_every_waiter_on_set_and_waits_again_after_clear() -> None:
    event = LeanEvent()
    assert not event.is_set()
    waiters = [asyncio.ensure_future(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    assert not any(w.done() for w in waiters)
    event.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert await event.wait() is True  # set: returns at once
    event.clear()
    later = asyncio.ensure_future(event.wait())
    await asyncio.sleep(0)
    assert not later.done()
    event.set()
    assert await asyncio.wait_for(later, 1) is True


async def test_a_lean_event_waiter_cancelled_by_a_timeout_leaves_nothing_behind() -> None:
    event = LeanEvent()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(event.wait(), 0.01)
    assert event._waiters in (None, [])
    event.set()
    assert event.is_set()


def test_an_idle_lean_event_holds_a_fraction_of_an_asyncio_event() -> None:
    lean, stock = LeanEvent(), asyncio.Event()
    lean_size = sys.getsizeof(lean)
    stock_size = sys.getsizeof(stock) + sum(sys.getsizeof(v) for v in vars(stock).values())
    assert lean_size * 5 < stock_size, (lean_size, stock_size)
