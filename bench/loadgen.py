"""A load generator process: many real Socket.IO clients (python-socketio, WebSocket).

Run by bench/run.py as `python -m bench.loadgen`; it reads one JSON command per line on
stdin and answers each with one JSON line on stdout:

- `connect`: open the sockets (`key`, `cookie`, optional `server` and `channel` to join);
  answers the handshake times and failures.
- `send`: the listed sender sockets send `message:create` at a steady total rate for a
  duration (every content carries the sender key, a sequence number and the send time);
  answers acks, ack latencies and the accepted sequence ranges per channel.
- `collect`: wait until every receiver has what was accepted, then check it — lost,
  duplicated, out of order, unexpected — and answer the worst latency of each message
  over this process's receivers; forget what was checked.
- `close`: disconnect everything and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import resource
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

PAD = "x" * 64


@dataclass
class Sock:
    """One client socket and what it received."""

    key: int
    channel: int | None
    sio: socketio.AsyncClient
    seq: int = 0
    # (channel id, message id, sender key, seq, latency seconds), in arrival order
    got: list[tuple[int, int, int, int, float]] = field(default_factory=list)


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
        accepted: dict[int, dict[int, list[int]]] = defaultdict(dict)
        refused: list[Any] = []
        pending = 0
        done = asyncio.Event()
        first_seq = {s.key: s.seq for s in senders}
        accepted_seqs: dict[int, list[int]] = defaultdict(list)

        def on_ack(sock: Sock, seq: int, sent_at: float) -> Any:
            def callback(reply: Any) -> None:
                nonlocal pending
                acks.append(time.monotonic() - sent_at)
                if isinstance(reply, dict) and reply.get("ok"):
                    accepted_seqs[sock.key].append(seq)
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
        for sock in senders:
            seqs = accepted_seqs.get(sock.key, [])
            accepted[channel_of[sock.key]][sock.key] = [first_seq[sock.key], sock.seq]
            if sorted(seqs) != list(range(first_seq[sock.key], sock.seq)):
                refused.append(f"sender {sock.key}: {sock.seq - first_seq[sock.key] - len(seqs)}")
        return {
            "sent": total,
            "acked": len(acks),
            "unanswered": pending,
            "refused": len(refused),
            "refusals": [str(r)[:200] for r in refused[:5]],
            "ack_s": acks,
            "send_elapsed": send_elapsed,
            "accepted": {str(c): {str(k): v for k, v in m.items()} for c, m in accepted.items()},
        }

    async def collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        # expected: {channel: {sender key: [first seq, end seq)}}
        expected = {
            int(c): {int(k): (int(v[0]), int(v[1])) for k, v in m.items()}
            for c, m in cmd["expected"].items()
        }
        want = {
            key: sum(hi - lo for lo, hi in expected.get(s.channel, {}).values())
            for key, s in self.socks.items()
            if s.channel is not None
        }
        deadline = time.monotonic() + float(cmd.get("wait", 10))
        while time.monotonic() < deadline:
            if all(len(self.socks[k].got) >= n for k, n in want.items()):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(float(cmd.get("settle", 0.2)))  # let duplicates show up
        lost = dup = disorder = unexpected = deliveries = inversions = 0
        worst: dict[str, float] = {}
        orders: dict[int, set[str]] = defaultdict(set)  # channel -> digests of arrival orders
        for sock in self.socks.values():
            if sock.channel is None:
                continue
            ranges = expected.get(sock.channel, {})
            seen: dict[int, list[int]] = defaultdict(list)
            last_id = 0
            order: list[int] = []
            for channel, msg_id, sender, seq, latency in sock.got:
                rng = ranges.get(sender)
                if channel != sock.channel or rng is None or not rng[0] <= seq < rng[1]:
                    unexpected += 1
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
                lost += (hi - lo) - len(distinct)
                disorder += sum(1 for a, b in itertools.pairwise(seqs) if b <= a)
            # The same digest as bench/receiver.mjs: receivers of both kinds compare.
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

    async def close(self) -> dict[str, Any]:
        await asyncio.gather(
            *(s.sio.disconnect() for s in self.socks.values()), return_exceptions=True
        )
        self.socks.clear()
        if self.http is not None:
            await self.http.close()
        return {"closed": True}


async def serve() -> None:
    """Answer commands from stdin until `close`."""
    worker = Worker()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            break
        cmd = json.loads(line)
        name = cmd["cmd"]
        try:
            if name == "connect":
                reply = await worker.connect(cmd)
            elif name == "send":
                reply = await worker.send(cmd)
            elif name == "collect":
                reply = await worker.collect(cmd)
            elif name == "close":
                reply = await worker.close()
            else:
                reply = {"error": f"unknown command {name!r}"}
        except Exception as exc:
            reply = {"error": repr(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
        if name == "close":
            break


def main() -> None:
    """Raise the fd limit, run on uvloop."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
