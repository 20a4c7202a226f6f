"""A load generator process: many real Socket.IO clients (python-socketio, WebSocket).

Run by bench/ as `python -m bench.loadgen`; it reads one JSON command per line on stdin
and answers each with one JSON line on stdout (bench/protocol.py):

- `connect`: open the sockets (`key`, `cookie`, optional `server` and `channel` to join);
  answers the handshake times and failures.
- `send`: the listed sender sockets send `message:create` at a steady total rate for a
  duration (every content carries the sender key, a sequence number and the send time);
  answers acks, ack latencies and the accepted sequence ranges per channel, less the
  messages the server shed (`E_RATE_LIMITED`: not stored, so not expected).
- `collect`: wait until every receiver has what was accepted, then check it — lost,
  duplicated, out of order, unexpected — and answer the worst latency of each message
  over this process's receivers; forget what was checked.
- `close`: disconnect everything and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from bench import protocol
from bench.protocol import Arrival

PAD = "x" * 64


@dataclass
class Sock:
    """One client socket and what it received."""

    key: int
    channel: int | None
    sio: socketio.AsyncClient
    seq: int = 0
    got: list[Arrival] = field(default_factory=list)


class Worker:
    """The sockets of this process."""

    def __init__(self) -> None:
        self.socks: dict[int, Sock] = {}
        self.http: aiohttp.ClientSession | None = None
        self.arrived = 0

    async def connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if self.http is None:
            self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        url: str = cmd["url"]
        sem = asyncio.Semaphore(int(cmd.get("concurrency", 50)))
        times: list[float] = []
        failures: list[str] = []
        start = time.monotonic()

        async def one(spec: dict[str, Any]) -> None:
            async with sem:
                sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
                sock = Sock(int(spec["key"]), spec.get("channel"), sio)
                self._listen(sock)
                t0 = time.monotonic()
                try:
                    await sio.connect(
                        url,
                        headers={"Cookie": f"connect.sid={spec['cookie']}"},
                        transports=["websocket"],
                        wait_timeout=60,
                    )
                    times.append(time.monotonic() - t0)
                    if spec.get("server") is not None:
                        ack = await sio.call(
                            "server:join", {"serverId": spec["server"]}, timeout=60
                        )
                        if not ack.get("ok"):
                            raise RuntimeError(f"server:join {ack}")
                    if spec.get("channel") is not None:
                        ack = await sio.call(
                            "channel:join", {"channelId": spec["channel"]}, timeout=60
                        )
                        if not ack.get("ok"):
                            raise RuntimeError(f"channel:join {ack}")
                except Exception as exc:
                    failures.append(f"{spec['key']}: {exc!r}")
                    return
                self.socks[sock.key] = sock

        await asyncio.gather(*(one(s) for s in cmd["sockets"]))
        return {
            "connected": len(cmd["sockets"]) - len(failures),
            "failures": failures[:10],
            "failed": len(failures),
            "elapsed": time.monotonic() - start,
            "connect_s": times,
        }

    def _listen(self, sock: Sock) -> None:
        async def on_new(message: dict[str, Any]) -> None:
            now = time.monotonic()
            content = str(message.get("content", ""))
            parts = content.split("|", 4)
            if len(parts) < 4 or parts[0] != "bench":
                return
            sock.got.append(
                (
                    int(message["channel_id"]),
                    int(message["id"]),
                    int(parts[1]),
                    int(parts[2]),
                    now - float(parts[3]),
                )
            )
            self.arrived += 1

        sock.sio.on("message:new", on_new)

    async def send(self, cmd: dict[str, Any]) -> dict[str, Any]:
        senders = [self.socks[int(k)] for k in cmd["senders"]]
        channel_of = {int(k): int(c) for k, c in cmd["channels"].items()}
        rate = float(cmd["rate"])
        total = max(1, round(rate * float(cmd["duration"])))
        acks: list[float] = []
        refused: list[Any] = []
        pending = 0
        done = asyncio.Event()
        first_seq = {s.key: s.seq for s in senders}
        accepted_seqs: dict[int, list[int]] = defaultdict(list)
        shed_seqs: dict[int, list[int]] = defaultdict(list)

        def on_ack(sock: Sock, seq: int, sent_at: float) -> Any:
            def callback(reply: Any) -> None:
                nonlocal pending
                acks.append(time.monotonic() - sent_at)
                if isinstance(reply, dict) and reply.get("ok"):
                    accepted_seqs[sock.key].append(seq)
                elif isinstance(reply, dict) and reply.get("code") == "E_RATE_LIMITED":
                    shed_seqs[sock.key].append(seq)  # the server shed it: not stored
                else:
                    refused.append(reply)
                pending -= 1
                if pending == 0:
                    done.set()

            return callback

        start = time.monotonic()
        for i in range(total):
            target = start + i / rate
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sock = senders[i % len(senders)]
            seq = sock.seq
            sock.seq += 1
            now = time.monotonic()
            content = f"bench|{sock.key}|{seq}|{now:.6f}|{PAD}"
            pending += 1
            await sock.sio.emit(
                "message:create",
                {"channelId": channel_of[sock.key], "content": content},
                callback=on_ack(sock, seq, now),
            )
        send_elapsed = time.monotonic() - start
        deadline = time.monotonic() + float(cmd.get("ack_timeout", 60))
        while pending > 0 and time.monotonic() < deadline:
            done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=deadline - time.monotonic())
        accepted: dict[int, dict[int, list[Any]]] = defaultdict(dict)
        for sock in senders:
            seqs = accepted_seqs.get(sock.key, [])
            shed = sorted(shed_seqs.get(sock.key, []))
            # [first, end) less the messages refused with E_RATE_LIMITED (not expected).
            accepted[channel_of[sock.key]][sock.key] = [first_seq[sock.key], sock.seq, shed]
            answered = sorted([*seqs, *shed])
            if answered != list(range(first_seq[sock.key], sock.seq)):
                missing = sock.seq - first_seq[sock.key] - len(answered)
                refused.append(f"sender {sock.key}: {missing}")
        return {
            "sent": total,
            "acked": len(acks),
            "ok": sum(len(v) for v in accepted_seqs.values()),
            "rate_limited": sum(len(v) for v in shed_seqs.values()),
            "unanswered": pending,
            "refused": len(refused),
            "refusals": [str(r)[:200] for r in refused[:5]],
            "ack_s": acks,
            "send_elapsed": send_elapsed,
            "accepted": {str(c): {str(k): v for k, v in m.items()} for c, m in accepted.items()},
        }

    async def collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return await protocol.collect(self.socks, cmd)

    async def close(self) -> dict[str, Any]:
        await asyncio.gather(
            *(s.sio.disconnect() for s in self.socks.values()), return_exceptions=True
        )
        self.socks.clear()
        if self.http is not None:
            await self.http.close()
        return {"closed": True}


async def serve() -> None:
    worker = Worker()
    await protocol.serve(
        {
            "connect": worker.connect,
            "send": worker.send,
            "collect": worker.collect,
            "close": lambda _cmd: worker.close(),
        }
    )


if __name__ == "__main__":
    protocol.run(serve)
