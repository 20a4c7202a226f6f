"""In-process experiments: proposed changes, applied to a bench server with `BENCH_PATCHES`.

An experiment patches a Zizany server in-process, so that `./dev bench -- --patches NAME`
measures it against the unpatched server in the same run before anyone edits the service.

The two experiments measured so far are in the service now, and so no longer here:
`fanout` (a room broadcast without a task per recipient: service/realtime/fanout.py)
and `store` (message:create builds the wire message from the inserted row:
`Realtime.store_message`). bench/README.md keeps their figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

PATCHES: dict[str, Callable[[], None]] = {}


def apply(names: Sequence[str]) -> None:
    """Apply the named patches (before the app is built)."""
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise SystemExit(f"bench: no experiment named {unknown!r}; known: {sorted(PATCHES)!r}")
    for name in names:
        PATCHES[name]()
