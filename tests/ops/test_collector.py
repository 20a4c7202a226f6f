"""The serving process's garbage-collector settings (service.collector)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from service.collector import THRESHOLDS, tune_collector


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_collector")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    class StartUp:
        pass

    made_at_start_up = StartUp()
    tune_collector()
    assert gc.get_threshold() == THRESHOLDS
    assert THRESHOLDS[0] > 700 and THRESHOLDS[2] > 10  # CPython's defaults: (700, 10, 10)
    # Frozen: the collections to come no longer traverse it.
    assert gc.get_freeze_count() > 1000
    assert not any(o is made_at_start_up for o in gc.get_objects())
    assert gc.is_tracked(made_at_start_up)


@pytest.mark.usefixtures("restored_collector")
def test_cycles_made_after_start_up_are_still_collected() -> None:
    tune_collector()

    class Node:
        other: object

    a, b = Node(), Node()
    a.other, b.other = b, a
    watched = weakref.ref(a)
    del a, b
    assert watched() is not None  # a cycle: reference counting alone keeps it
    gc.collect()
    assert watched() is None
