"""The load generator processes, driven over stdin/stdout (one JSON line each way).

Two kinds speak the same commands (`connect`, `collect`, `close`; bench/protocol.py):
`python` is bench/loadgen.py (python-socketio clients; the only kind that also `send`s,
with acks), `light` is bench/receiver.py (raw Engine.IO / Socket.IO over picows, thousands
of receiving sockets in one process at ~10× less CPU per delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

from bench.servers import ROOT, cpu_seconds_of

Kind = Literal["python", "light"]


class Loadgen:
    """One load generator process."""

    def __init__(self, proc: asyncio.subprocess.Process, kind: Kind) -> None:
        self.proc = proc
        self.kind = kind

    @classmethod
    async def start(cls, kind: Kind = "python") -> Loadgen:
        module = "bench.loadgen" if kind == "python" else "bench.receiver"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 28,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        return cls(proc, kind)

    def cpu_seconds(self) -> float:
        return cpu_seconds_of([self.proc.pid])

    async def ask(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator ({self.kind}) exited ({await self.proc.wait()})")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"load generator ({self.kind}): {reply['error']}")
        return reply

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ask({"cmd": "close"}), 30)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)  # it exits after answering `close`
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
        await self.proc.wait()


@contextlib.asynccontextmanager
async def loadgens(n: int, kind: Kind = "python") -> AsyncIterator[list[Loadgen]]:
    gens = await asyncio.gather(*(Loadgen.start(kind) for _ in range(n)))
    try:
        yield list(gens)
    finally:
        await asyncio.gather(*(g.close() for g in gens))


def split(items: Sequence[Any], n: int) -> list[list[Any]]:
    return [list(items[i::n]) for i in range(n)]


async def connect_all(
    gens: Sequence[Loadgen], url: str, per_gen: Sequence[Sequence[dict[str, Any]]], conc: int = 40
) -> list[dict[str, Any]]:
    """Open the sockets (`per_gen[i]` on `gens[i]`, `conc` handshakes in flight on each)."""
    replies = await asyncio.gather(
        *(
            g.ask({"cmd": "connect", "url": url, "sockets": list(s), "concurrency": conc})
            for g, s in zip(gens, per_gen, strict=True)
        )
    )
    failed = sum(r["failed"] for r in replies)
    if failed:
        first = next(r["failures"] for r in replies if r["failed"])
        raise RuntimeError(f"{failed} sockets failed to connect: {first}")
    return list(replies)
