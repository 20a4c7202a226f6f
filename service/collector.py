"""The cyclic garbage collector's settings for a serving process.

Measured (bench connections, 1,000 then 5,000 idle sockets, py-spy and `gc.callbacks`):
with CPython's defaults the collector took 3.6 s of the run's CPU, about 0.6 ms per
handshake, 3.0 s of it in ten full collections of 300 ms each. Every socket keeps about
180 objects the collector tracks, and a full collection runs whenever the long-lived
objects have grown by a quarter, so a process gaining sockets scans all of them again
and again; each of those collections also stalls every connection for its 300 ms.

`tune_collector`, once the app is built:
- freezes what start-up made (modules, schemas, the SQLAlchemy metadata: 150,000
  objects) out of every later collection: they live as long as the process;
- collects the young generations less often (every 20,000 net allocations instead of
  700, the middle one every 10 of those) and considers a full collection after 100 of
  the middle ones instead of 10. Most garbage is freed by reference counting; the
  cycles that die young are still found by the young collections.
Same run: 1.0 s in the collector, one full collection; handshakes/s 287 → 353 (1,000)
and 328 → 395 (5,000), connect p99 at 5,000 910 → 323 ms.
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 10, 100)


def tune_collector() -> None:
    """Freeze start-up's objects and collect less often (module doc)."""
    gc.collect()  # start-up's own garbage, so that none of it is frozen
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
