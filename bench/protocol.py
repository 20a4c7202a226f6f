"""What the load generator processes share: the command loop on stdin/stdout and the check
of what the receivers got (`collect`).

A process reads one JSON command per line (`{"cmd": name, ...}`) and answers each with one
JSON line; `close` ends it. `collect` waits until every receiving socket has what was
accepted, then checks it: lost, duplicated, out of order, unexpected, and the digest of
each socket's arrival order (all receivers of a channel must see one order); it answers
the worst latency of each message over this process's receivers and forgets what it
checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import resource
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

# (channel id, message id, sender key, seq, latency seconds), in arrival order
Arrival = tuple[int, int, int, int, float]
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Receiving(Protocol):
    """A socket that receives `message:new`: its channel and what arrived."""

    channel: int | None
    got: list[Arrival]


async def collect(socks: Mapping[int, Receiving], cmd: dict[str, Any]) -> dict[str, Any]:
    """Wait for what was accepted (`cmd["expected"]`), check it, forget it."""
    # expected: {channel: {sender key: [first seq, end seq, optional [shed seqs]]}}; the
    # shed ones (refused with E_RATE_LIMITED) were never accepted, so never expected.
    expected = {
        int(c): {int(k): (int(v[0]), int(v[1])) for k, v in m.items()}
        for c, m in cmd["expected"].items()
    }
    shed = {
        (int(c), int(k)): frozenset(int(q) for q in v[2])
        for c, m in cmd["expected"].items()
        for k, v in m.items()
        if len(v) > 2 and v[2]
    }
    want = {
        key: sum(
            hi - lo - len(shed.get((s.channel, k), ()))
            for k, (lo, hi) in expected.get(s.channel, {}).items()
        )
        for key, s in socks.items()
        if s.channel is not None
    }
    deadline = time.monotonic() + float(cmd.get("wait", 10))
    while time.monotonic() < deadline:
        if all(len(socks[k].got) >= n for k, n in want.items()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(float(cmd.get("settle", 0.2)))  # let duplicates show up
    lost = dup = disorder = unexpected = deliveries = inversions = 0
    worst: dict[str, float] = {}
    orders: dict[int, set[str]] = defaultdict(set)  # channel -> digests of arrival orders
    for sock in socks.values():
        if sock.channel is None:
            continue
        ranges = expected.get(sock.channel, {})
        seen: dict[int, list[int]] = defaultdict(list)
        last_id = 0
        order: list[int] = []
        for channel, msg_id, sender, seq, latency in sock.got:
            rng = ranges.get(sender)
            if (
                channel != sock.channel
                or rng is None
                or not rng[0] <= seq < rng[1]
                or seq in shed.get((channel, sender), ())
            ):
                unexpected += 1  # a shed message must not arrive either
                continue
            deliveries += 1
            if msg_id <= last_id:
                inversions += 1  # arrival order differs from id order (reported only)
            last_id = msg_id
            order.append(msg_id)
            seen[sender].append(seq)
            mkey = f"{sender}:{seq}"
            if latency > worst.get(mkey, -1.0):
                worst[mkey] = latency
        for sender, (lo, hi) in ranges.items():
            seqs = seen.get(sender, [])
            distinct = set(seqs)
            dup += len(seqs) - len(distinct)
            lost += (hi - lo) - len(shed.get((sock.channel, sender), ())) - len(distinct)
            disorder += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
        digest = hashlib.sha1(",".join(map(str, order)).encode()).hexdigest()[:16]
        orders[sock.channel].add(digest)
        sock.got = []
    return {
        "lost": lost,
        "duplicated": dup,
        "out_of_order": disorder,
        "unexpected": unexpected,
        "id_inversions": inversions,
        "orders": {str(c): sorted(h) for c, h in orders.items()},
        "deliveries": deliveries,
        "worst": worst,
    }


async def serve(handlers: Mapping[str, Handler]) -> None:
    """Answer commands from stdin until `close`."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        name = cmd["cmd"]
        handler = handlers.get(name)
        try:
            reply = await handler(cmd) if handler else {"error": f"unknown command {name!r}"}
        except Exception as exc:
            reply = {"error": repr(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if name == "close":
            break


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Raise the fd limit, run `main()` on uvloop."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
