"""The scenarios: what each measures on one running server (or group of servers).

- `connections`: ramp to n idle authenticated sockets (light receivers), each in its
  server's room and its channel's room: handshakes/s, connect p50/p99, RSS/connection.
- `fanout`: one python-socketio sender (not in the room), a room of light receivers in
  one channel; a rate ladder until the sender → last receiver p99 passes 100 ms, then
  the overload steps (multiples of the knee, up to 3×): the plateau.
  Against bench/ceiling_server.mjs the same scenario is the generator's ceiling.
- `create`: 100 channels of 10 members (python-socketio clients), every member sending;
  a ladder until p99 passes 200 ms, then the overload steps.
- `history`: REST pages on a channel of `history_rows` messages.
- `cluster`: the sender on process A, the room on process B (Redis between them).
- `metrics`: fan-out (room of 100) and `create` on a Zizany with metrics on or off, and a
  check of what its `/metrics` counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from bench.databases import stored
from bench.generators import Kind, connect_all, loadgens, split
from bench.params import CREATE_P99_LIMIT_MS, FANOUT_P99_LIMIT_MS, PLATEAU_MIN_RATIO, Params
from bench.servers import Measured, ServerGroup, ServerProc
from bench.steps import (
    Ledger,
    best_of,
    brief,
    ladder_done,
    ms,
    pct,
    plateau,
    plateau_rates,
    run_step,
)
from bench.world import World


async def connections(server: ServerProc, world: World, n: int) -> dict[str, Any]:
    """Ramp to n idle sockets, each in its server's room and its channel's room."""
    specs = [
        {
            "key": u,
            "cookie": world.cookies[u],
            "server": world.conn_server_of[u][0],
            "channel": world.conn_server_of[u][1],
        }
        for u in world.conn_users[:n]
    ]
    in_flight = 25 * max(2, n // 1250)  # as many handshakes in flight as before (25 a process)
    await asyncio.sleep(0.5)
    rss0 = server.rss_bytes()
    cpu0 = server.cpu_seconds()
    async with loadgens(1, "light") as gens:
        gen0 = gens[0].cpu_seconds()
        t0 = time.monotonic()
        replies = await connect_all(gens, server.url, [specs], conc=in_flight)
        elapsed = time.monotonic() - t0
        cpu = server.cpu_seconds() - cpu0
        gen_cpu = gens[0].cpu_seconds() - gen0
        await asyncio.sleep(1.0)
        rss1 = server.rss_bytes()
    times = [t for r in replies for t in r["connect_s"]]
    return {
        "sockets": n,
        "in_flight": in_flight,
        "ramp_s": round(elapsed, 2),
        "handshakes_per_s": round(n / elapsed, 1),
        "connect_p50_ms": ms(pct(times, 50)),
        "connect_p99_ms": ms(pct(times, 99)),
        "rss_before_mb": round(rss0 / 2**20, 1),
        "rss_after_mb": round(rss1 / 2**20, 1),
        "rss_per_connection_kb": round((rss1 - rss0) / n / 1024, 1),
        "server_cpu_ms_per_connection": round(cpu / n * 1000, 3),
        "receiver_cpu_ms_per_connection": round(gen_cpu / n * 1000, 3),
    }


def lenient(server: Measured) -> bool:
    """The baseline has no overload protection: its problems past the knee are reported."""
    return isinstance(server, ServerProc) and server.impl != "zizany"


async def overload_steps(
    server: Measured,
    params: Params,
    steps: list[dict[str, Any]],
    run: Callable[[float], Awaitable[dict[str, Any]]],
    ledger: Ledger,
    reported: Ledger,
    where: str,
) -> int:
    """Climb past the knee (params.plateau_factors × the knee rate); the accepted count.

    Every problem counts as in any step, except on the baseline (`reported`); shedding
    (E_RATE_LIMITED) is a figure, never a problem.
    """
    accepted = 0
    for rate in plateau_rates(steps, params.plateau_factors):
        step = await run(rate)
        step["overload"] = True
        step["passed"] = False  # not a candidate for the knee
        accepted += step["accepted"]
        (reported if lenient(server) else ledger).check(f"{where} @ {rate:g}/s (overload)", step)
        steps.append(step)
        print(f"  {where} overload: {brief(step)}", flush=True)
    return accepted


def plateau_of(steps: list[dict[str, Any]], rss_before: int, where: str) -> dict[str, Any] | None:
    out = plateau(steps, rss_before, PLATEAU_MIN_RATIO)
    if out is not None:
        print(
            f"  {where} plateau: best {out['best_deliveries_per_s']:g} deliveries/s "
            f"@ {out['best_rate']:g}/s, {out['top_deliveries_per_s']:g} @ {out['top_rate']:g}/s "
            f"(ratio {out['ratio']}, shed {out['top_rate_limited']}), "
            f"RSS {out['rss_before_mb']} -> {out['rss_top_mb']} MB",
            flush=True,
        )
    return out


async def fanout(
    server: ServerProc | ServerGroup,
    world: World,
    params: Params,
    size: int,
    rates: Sequence[float],
    ledger: Ledger,
    label: str,
    *,
    channel: int | None = None,
    receiver_kind: Kind = "light",
    overload: bool = True,
) -> dict[str, Any]:
    """One sender (on the first server), `size` receivers (on the last) in one channel room;
    climb the ladder of `rates`, then (`overload`) past the knee to 3× it."""
    group = server if isinstance(server, ServerGroup) else ServerGroup([server])
    send_to, recv_from = group.servers[0], group.servers[-1]
    channel = channel if channel is not None else world.fan_channel.get(size, 1)
    receivers = world.fan_receivers[:size]
    steps: list[dict[str, Any]] = []
    accepted = 0
    reported = Ledger()
    rss_before = group.rss_bytes()
    conc = 50 if receiver_kind == "light" else 40
    async with loadgens(1) as senders, loadgens(1, receiver_kind) as recv_gens:
        send_gen = senders[0]
        specs = [{"key": u, "cookie": world.cookies[u], "channel": channel} for u in receivers]
        t0 = time.monotonic()
        await connect_all(recv_gens, recv_from.url, [specs], conc=conc)
        connect_s = time.monotonic() - t0
        sender = world.fan_sender
        await connect_all(
            [send_gen], send_to.url, [[{"key": sender, "cookie": world.cookies[sender]}]]
        )
        if len(group.servers) > 1:
            await asyncio.sleep(0.5)  # let the other process's room subscriptions settle
        for rate in rates:
            step = await run_step(
                group,
                [(send_gen, {sender: channel})],
                recv_gens,
                rate,
                max(params.step_seconds, 12 / rate),
            )
            accepted += step["accepted"]
            ok = ledger.check(f"{label} fan-out {size} @ {rate:g}/s", step)
            p99 = step["p99_ms"]
            step["passed"] = bool(
                ok and not step["rate_limited"] and p99 is not None and p99 < FANOUT_P99_LIMIT_MS
            )
            steps.append(step)
            print(f"  {label} fan-out room {size}: {brief(step)}", flush=True)
            if ladder_done(steps):
                break

        async def step_at(rate: float) -> dict[str, Any]:
            return await run_step(
                group,
                [(send_gen, {sender: channel})],
                recv_gens,
                rate,
                max(params.step_seconds, 12 / rate),
            )

        if overload:
            accepted += await overload_steps(
                group, params, steps, step_at, ledger, reported, f"{label} fan-out {size}"
            )
    stored_ok: bool | None = None
    if send_to.stores:
        rows, distinct = await stored(send_to.location, [channel])
        stored_ok = rows == accepted == distinct
        if not stored_ok:
            (reported if lenient(send_to) and reported.problems else ledger).problems.append(
                f"{label} fan-out {size}: {accepted} accepted, {rows} stored ({distinct} distinct)"
            )
    return {
        "room": size,
        "receivers_connect_s": round(connect_s, 2),
        "steps": steps,
        "best": best_of(steps, "deliveries_per_s"),
        "lowest": steps[0] if steps else None,
        "stored_ok": stored_ok,
        "plateau": plateau_of(steps, rss_before, f"{label} fan-out {size}"),
        "reported_problems": reported.problems,
    }


async def create(
    server: ServerProc,
    world: World,
    params: Params,
    ledger: Ledger,
    label: str,
    *,
    overload: bool = True,
) -> dict[str, Any]:
    """100 channels of 10 members, every member sending; climb until p99 > 200 ms, then
    (`overload`) past the knee to 3× it."""
    socks = [
        {"key": u, "cookie": world.cookies[u], "channel": c}
        for c, us in world.create_members.items()
        for u in us
    ]
    workers = 2
    steps: list[dict[str, Any]] = []
    accepted = 0
    reported = Ledger()
    rss_before = server.rss_bytes()
    async with loadgens(workers) as gens:
        parts = split(socks, workers)
        await connect_all(gens, server.url, parts)
        senders = [
            (g, {s["key"]: s["channel"] for s in p}) for g, p in zip(gens, parts, strict=True)
        ]
        for rate in params.create_rates:
            step = await run_step(server, senders, gens, rate, params.step_seconds)
            accepted += step["accepted"]
            # The contract orders the events of one socket; with several processes, two
            # senders' messages in one channel may reach the processes' receivers in
            # different orders (each process broadcasts its own first): reported only.
            figures = ["order_diverged_channels"] if (server.workers or 1) > 1 else []
            ok = ledger.check(f"{label} message:create @ {rate}/s", step, figures)
            p99 = step["p99_ms"]
            step["passed"] = bool(
                ok and not step["rate_limited"] and p99 is not None and p99 < CREATE_P99_LIMIT_MS
            )
            steps.append(step)
            print(f"  {label} message:create: {brief(step)}", flush=True)
            if ladder_done(steps):
                break

        async def step_at(rate: float) -> dict[str, Any]:
            return await run_step(server, senders, gens, rate, params.step_seconds)

        if overload:
            accepted += await overload_steps(
                server, params, steps, step_at, ledger, reported, f"{label} message:create"
            )
    rows, distinct = await stored(server.location, list(world.create_members))
    if rows != accepted or distinct != accepted:
        (reported if lenient(server) and reported.problems else ledger).problems.append(
            f"{label} message:create: {accepted} accepted, {rows} stored ({distinct} distinct)"
        )
    return {
        "steps": steps,
        "best": best_of(steps, "messages_per_s"),
        "stored_ok": rows == accepted == distinct,
        "processes": server.workers or 1,
        "plateau": plateau_of(steps, rss_before, f"{label} message:create"),
        "reported_problems": reported.problems,
    }


async def history(server: ServerProc, world: World, params: Params) -> dict[str, Any]:
    """`GET /api/channels/{id}/messages` pages: the newest, and one deep in the past."""
    url = f"{server.url}/api/channels/{world.history_channel}/messages"
    headers = {"Cookie": f"connect.sid={world.cookies[world.history_user]}"}
    out: dict[str, Any] = {"rows": params.history_rows}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(url, params={"limit": "50"}) as r:
            first = await r.json()
            if r.status != 200:
                raise RuntimeError(f"history: {r.status} {first}")
        newest = first["messages"][-1]["id"]
        deep = newest - params.history_rows + 1000  # ~1000 messages from the channel's start
        for name, query in (
            ("first_page", {"limit": "50"}),
            ("deep_cursor", {"limit": "50", "before": str(deep)}),
        ):
            times: list[float] = []
            for _ in range(params.history_requests):
                t0 = time.monotonic()
                async with http.get(url, params=query) as r:
                    page = await r.json()
                times.append(time.monotonic() - t0)
                ids = [m["id"] for m in page["messages"]]
                if r.status != 200 or len(ids) != 50 or ids != sorted(ids):
                    raise RuntimeError(f"history {name}: bad page {r.status}")
            out[name] = {"p50_ms": ms(pct(times, 50)), "p99_ms": ms(pct(times, 99))}
    return out


async def cluster(
    group: ServerGroup, world: World, params: Params, ledger: Ledger, label: str
) -> dict[str, Any]:
    """One sender on process A, a room of receivers on process B; fan-out's room-of-100
    ladder."""
    out = await fanout(
        group,
        world,
        params,
        params.cluster_room,
        params.fanout_rates[100],
        ledger,
        label,
        channel=world.cluster_channel,
        overload=False,
    )
    out["processes"] = len(group.servers)
    return out


async def metrics(
    server: ServerProc, world: World, params: Params, ledger: Ledger, label: str, *, on: bool
) -> dict[str, Any]:
    """Fan-out's ladder for the room of `metrics_room`, then message:create, on a Zizany
    with metrics `on` or off; then what its `/metrics` counted (on: every acked
    message:create counted `ok`; off: no `/metrics` at all). `--quick` runs only the top
    step of each ladder (the most deliveries, so the finest CPU figure)."""
    size = params.metrics_room
    rates = params.fanout_rates[size]
    if params.quick:
        rates = rates[-1:]
        params = dataclasses.replace(params, create_rates=params.create_rates[-1:])
    out: dict[str, Any] = {
        "metrics": on,
        "fanout": [await fanout(server, world, params, size, rates, ledger, label)],
    }
    await server.quiesce()
    out["message_create"] = await create(server, world, params, ledger, label)
    acked = sum(s["accepted"] for r in (*out["fanout"], out["message_create"]) for s in r["steps"])
    async with aiohttp.ClientSession() as http, http.get(f"{server.url}/metrics") as r:
        text = await r.text()
        status = r.status
    counted = _sample_sum(text, "zizany_client_events_total", event="message:create", code="ok")
    delivered = _sample_sum(text, "zizany_broadcast_deliveries_total", event="message:new")
    out["scrape"] = {"status": status, "create_ok_counted": counted, "deliveries": delivered}
    print(f"  {label} /metrics: {out['scrape']} (message:create acked ok: {acked})", flush=True)
    if on and (status != 200 or counted < acked):
        ledger.problems.append(f"{label}: /metrics {status}, counted {counted} of {acked} acks")
    if not on and status != 404:
        ledger.problems.append(f"{label}: metrics are off, yet /metrics answered {status}")
    return out


def _sample_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the exposition samples of `name` that have these `labels`."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.startswith(name + "{") and all(w in head for w in wanted):
            total += float(value)
    return total
