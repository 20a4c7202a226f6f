"""The run's report: the markdown summary (printed, and written beside the JSON), the ratio
figures, and the chart (.png).

Sections: Zizany against Node (one table, the ratios), the scale curve (deliveries/s and
CPU-µs per delivery from rooms of 10 to 5,000, with the receivers' CPU per delivery and
the generator's ceiling), `message:create` on 1 and 2 processes on Redis, the memory
probe's per-connection figures and top allocation sites, and the cost of metrics (the same
scenarios on a Zizany with `ZIZANY_METRICS=true` and one without).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)


def comparison(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Zizany against Node: the markdown table and the ratio figures."""
    z, n = results.get("zizany-sqlite", {}), results.get("node-sqlite", {})
    lines = [
        "| scenario | figure | Zizany | Node | Zizany / Node |",
        "|---|---|---:|---:|---:|",
    ]
    ratios: dict[str, Any] = {}

    def row(scn: str, fig: str, a: float | None, b: float | None) -> None:
        r = ratio(a, b)
        ratios[f"{scn} · {fig}"] = r
        lines.append(f"| {scn} | {fig} | {fmt(a)} | {fmt(b)} | {fmt(r)} |")

    for zc, nc in zip(z.get("connections", []), n.get("connections", []), strict=False):
        scn = f"connections {zc['sockets']}"
        row(scn, "handshakes/s", zc["handshakes_per_s"], nc["handshakes_per_s"])
        row(scn, "connect p99 ms", zc["connect_p99_ms"], nc["connect_p99_ms"])
        row(scn, "RSS KiB/connection", zc["rss_per_connection_kb"], nc["rss_per_connection_kb"])
    for zf, nf in zip(z.get("fanout", []), n.get("fanout", []), strict=False):
        scn = f"fan-out room {zf['room']}"
        zb, nb = zf["best"] or {}, nf["best"] or {}
        row(scn, "deliveries/s (p99<100ms)", zb.get("deliveries_per_s"), nb.get("deliveries_per_s"))
        row(scn, "p99 ms at that rate", zb.get("p99_ms"), nb.get("p99_ms"))
        row(scn, "CPU-µs/delivery", zb.get("cpu_us_per_delivery"), nb.get("cpu_us_per_delivery"))
        zl, nl = zf.get("lowest") or {}, nf.get("lowest") or {}
        if zl and nl:
            scn_low = f"{scn} @ {zl['rate']:g} msg/s"
            row(scn_low, "p50 ms", zl.get("p50_ms"), nl.get("p50_ms"))
            row(scn_low, "p99 ms", zl.get("p99_ms"), nl.get("p99_ms"))
            row(
                scn_low,
                "CPU-µs/delivery",
                zl.get("cpu_us_per_delivery"),
                nl.get("cpu_us_per_delivery"),
            )
    for backend in ("sqlite", "postgresql"):
        zm = results.get(f"zizany-{backend}", {}).get("message_create")
        nm = results.get(f"node-{backend}", {}).get("message_create")
        if zm and nm:
            scn = f"message:create {backend}"
            zb, nb = zm["best"] or {}, nm["best"] or {}
            row(scn, "msg/s (p99<200ms)", zb.get("messages_per_s"), nb.get("messages_per_s"))
            for q in ("p50_ms", "p95_ms", "p99_ms"):
                row(scn, f"{q.replace('_ms', '')} ms at that rate", zb.get(q), nb.get(q))
            row(scn, "CPU-µs/message", zb.get("cpu_us_per_message"), nb.get("cpu_us_per_message"))
    hist = z.get("history")
    if hist:
        for name in ("first_page", "deep_cursor"):
            lines.append(
                f"| history ({hist['rows']:,} rows) | {name} p99 ms | "
                f"{fmt(hist[name]['p99_ms'])} | – | – |"
            )
    cl = results.get("zizany-cluster", {}).get("cluster")
    if cl:
        scn = f"cluster, 2 processes on Redis, room {cl['room']} (A → B)"
        best, low = cl["best"] or {}, cl.get("lowest") or {}
        figures: list[tuple[str, float | None]] = [
            ("deliveries/s (p99<100ms)", best.get("deliveries_per_s")),
            ("msg/s at that rate", best.get("messages_per_s")),
            ("p50 ms at that rate", best.get("p50_ms")),
            ("p99 ms at that rate", best.get("p99_ms")),
            ("CPU-µs/delivery (both processes)", best.get("cpu_us_per_delivery")),
        ]
        if low:
            figures += [
                (f"p50 ms @ {low['rate']:g} msg/s", low.get("p50_ms")),
                (f"p99 ms @ {low['rate']:g} msg/s", low.get("p99_ms")),
            ]
        for fig, value in figures:
            ratios[f"{scn} · {fig}"] = None
            lines.append(f"| {scn} | {fig} | {fmt(value)} | n/a | n/a |")
    off = results.get("zizany-sqlite-novalidate", {}).get("fanout")
    on = next((f for f in z.get("fanout", []) if off and f["room"] == off[0]["room"]), None)
    if off and on:
        ob, fb = on["best"] or {}, off[0]["best"] or {}
        room = off[0]["room"]
        a, b = ob.get("cpu_us_per_delivery"), fb.get("cpu_us_per_delivery")
        ratios["validation on/off · CPU-µs/delivery"] = ratio(a, b)
        lines.append(
            f"| validation, fan-out room {room} | CPU-µs/delivery on / off | {fmt(a)} | "
            f"{fmt(b)} (off) | {fmt(ratio(a, b))} |"
        )
        a, b = ob.get("deliveries_per_s"), fb.get("deliveries_per_s")
        ratios["validation on/off · deliveries/s"] = ratio(a, b)
        lines.append(
            f"| validation, fan-out room {room} | deliveries/s on / off | {fmt(a)} | "
            f"{fmt(b)} (off) | {fmt(ratio(a, b))} |"
        )
    return "\n".join(lines), ratios


def fmt(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:g}"


def _at(fan: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The step a room's curve shows: the best passed one, else the lowest rate (marked)."""
    if fan.get("best"):
        return fan["best"], ""
    return fan.get("lowest") or {}, " *"


def _rooms(results: dict[str, Any], label: str) -> dict[int, dict[str, Any]]:
    return {f["room"]: f for f in results.get(label, {}).get("fanout", [])}


def ceiling_table(results: dict[str, Any]) -> str:
    """The load generator against the broadcast-only server: its own limit."""
    rooms = _rooms(results, "ceiling")
    if not rooms:
        return ""
    lines = [
        "| room | deliveries/s (p99<100ms) | p99 ms | receivers CPU-µs/delivery "
        "| server CPU-µs/delivery |",
        "|---:|---:|---:|---:|---:|",
    ]
    for size, fan in sorted(rooms.items()):
        step, mark = _at(fan)
        lines.append(
            f"| {size:,} | {fmt(step.get('deliveries_per_s'))}{mark} | {fmt(step.get('p99_ms'))} "
            f"| {fmt(step.get('receiver_cpu_us_per_delivery'))} "
            f"| {fmt(step.get('cpu_us_per_delivery'))} |"
        )
    problems = results["ceiling"].get("problems") or []
    if problems:
        lines += ["", f"Past the ceiling (reported, not failed): {'; '.join(problems)[:600]}"]
    return "\n".join(lines)


def scale_table(results: dict[str, Any]) -> str:
    """Deliveries/s and CPU-µs per delivery by room size, Zizany and Node."""
    z, n = _rooms(results, "zizany-sqlite"), _rooms(results, "node-sqlite")
    c = _rooms(results, "ceiling")
    sizes = sorted(set(z) | set(n))
    if not sizes:
        return ""
    lines = [
        "| room | Zizany deliveries/s | Node deliveries/s | Zizany CPU-µs/delivery "
        "| Node CPU-µs/delivery | receivers CPU-µs/delivery (Zizany / Node run) "
        "| generator ceiling deliveries/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        zs, zm = _at(z.get(size, {}))
        ns, nm = _at(n.get(size, {}))
        cs, cm = _at(c[size]) if size in c else ({}, "")
        lines.append(
            f"| {size:,} | {fmt(zs.get('deliveries_per_s'))}{zm} "
            f"| {fmt(ns.get('deliveries_per_s'))}{nm} "
            f"| {fmt(zs.get('cpu_us_per_delivery'))} | {fmt(ns.get('cpu_us_per_delivery'))} "
            f"| {fmt(zs.get('receiver_cpu_us_per_delivery'))} / "
            f"{fmt(ns.get('receiver_cpu_us_per_delivery'))} "
            f"| {fmt(cs.get('deliveries_per_s'))}{cm} |"
        )
    return "\n".join(lines)


def workers_table(results: dict[str, Any]) -> str:
    """`message:create` on `zizany serve --workers N` (PostgreSQL, Redis)."""
    runs = results.get("zizany-workers", {})
    if not runs:
        return ""
    lines = [
        "| processes | msg/s (p99<200ms) | p50 ms | p99 ms | CPU-µs/message (all processes) "
        "| channels whose receivers saw two orders (all steps) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for count, res in sorted(runs.items(), key=lambda kv: int(kv[0])):
        steps = res.get("steps") or []
        best, mark = (res["best"], "") if res.get("best") else ((steps or [{}])[0], " *")
        diverged = sum(s.get("order_diverged_channels", 0) for s in steps)
        lines.append(
            f"| {count} | {fmt(best.get('messages_per_s'))}{mark} | {fmt(best.get('p50_ms'))} "
            f"| {fmt(best.get('p99_ms'))} | {fmt(best.get('cpu_us_per_message'))} "
            f"| {diverged} |"
        )
    return "\n".join(lines)


def memory_table(results: dict[str, Any]) -> str:
    """The memory probe: per connection, and the allocation sites that grew the most."""
    m = results.get("zizany-sqlite-tracemalloc", {}).get("memory")
    if not m:
        return ""
    lines = [
        f"{m['sockets']:,} idle authenticated sockets (each in its server's and its channel's "
        f"room): RSS {fmt(m['rss_kib_per_connection'])} KiB per connection "
        f"(under tracemalloc, which adds its own; the connections rows have it without), "
        f"traced {fmt(m['traced_kib_per_connection'])} KiB per connection.",
        "",
        "| allocation site (grown) | KiB | blocks | bytes/connection |",
        "|---|---:|---:|---:|",
    ]
    for t in m["top_lines"]:
        lines.append(
            f"| `{t['site']}` | {fmt(t['kib'])} | {t['blocks']:,} "
            f"| {fmt(t['bytes_per_connection'])} |"
        )
    lines += ["", "| file (grown) | KiB | bytes/connection |", "|---|---:|---:|"]
    for t in m["top_files"]:
        lines.append(f"| `{t['file']}` | {fmt(t['kib'])} | {fmt(t['bytes_per_connection'])} |")
    return "\n".join(lines)


def _same_rate(
    off: list[dict[str, Any]], on: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The steps of the highest rate both ladders ran (passed in both if one was), so CPU
    per delivery is compared under the same load."""
    by_rate = {s["rate"]: s for s in on}
    common = [(s, by_rate[s["rate"]]) for s in off if s["rate"] in by_rate]
    passed = [pair for pair in common if pair[0].get("passed") and pair[1].get("passed")]
    pairs = passed or common
    return max(pairs, key=lambda pair: pair[0]["rate"]) if pairs else ({}, {})


def metrics_cost(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Metrics on against off: fan-out (room of 100) and message:create, one run."""
    off = results.get("zizany-sqlite-metrics-off", {})
    on = results.get("zizany-sqlite-metrics-on", {})
    if not off.get("fanout") or not on.get("fanout"):
        return "", {}
    lines = [
        "| scenario | figure | metrics off | metrics on | on / off |",
        "|---|---|---:|---:|---:|",
    ]
    ratios: dict[str, Any] = {}

    def row(scn: str, fig: str, a: float | None, b: float | None) -> None:
        r = ratio(b, a)
        ratios[f"metrics on/off · {scn} · {fig}"] = r
        lines.append(f"| {scn} | {fig} | {fmt(a)} | {fmt(b)} | {fmt(r)} |")

    fo, fn = off["fanout"][0], on["fanout"][0]
    scn = f"fan-out room {fo['room']}"
    row(
        scn,
        "deliveries/s (p99<100ms)",
        (fo["best"] or {}).get("deliveries_per_s"),
        (fn["best"] or {}).get("deliveries_per_s"),
    )
    so, sn = _same_rate(fo["steps"], fn["steps"])
    if so:
        at = f"@ {so['rate']:g} msg/s"
        row(scn, f"CPU-µs/delivery {at}", so["cpu_us_per_delivery"], sn["cpu_us_per_delivery"])
        row(scn, f"p99 ms {at}", so["p99_ms"], sn["p99_ms"])
    co, cn = off.get("message_create"), on.get("message_create")
    if co and cn:
        scn = "message:create sqlite"
        row(
            scn,
            "msg/s (p99<200ms)",
            (co["best"] or {}).get("messages_per_s"),
            (cn["best"] or {}).get("messages_per_s"),
        )
        so, sn = _same_rate(co["steps"], cn["steps"])
        if so:
            at = f"@ {so['rate']:g} msg/s"
            row(scn, f"CPU-µs/message {at}", so["cpu_us_per_message"], sn["cpu_us_per_message"])
            row(scn, f"p99 ms {at}", so["p99_ms"], sn["p99_ms"])
    scrape = on.get("scrape") or {}
    lines += [
        "",
        f"The metrics-on server's `/metrics` afterwards: {fmt(scrape.get('create_ok_counted'))} "
        f"message:create counted ok, {fmt(scrape.get('deliveries'))} message:new deliveries.",
    ]
    return "\n".join(lines), ratios


def plateau_table(results: dict[str, Any]) -> str:
    """Past the knee: deliveries/s at the top overload step (3× the knee) against the best
    step, what the server shed, and its memory."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for label, res in results.items():
        if not isinstance(res, dict):
            continue
        for fan in res.get("fanout") or []:
            if fan.get("plateau"):
                rows.append((f"{label} fan-out room {fan['room']:,}", fan["plateau"]))
        create = res.get("message_create")
        if isinstance(create, dict) and create.get("plateau"):
            rows.append((f"{label} message:create", create["plateau"]))
    if not rows:
        return ""
    lines = [
        "| scenario | knee msg/s | best deliveries/s (at msg/s) | top msg/s "
        "| deliveries/s at top | top / best | shed at top (E_RATE_LIMITED) | p99 ms at top "
        "| RSS MB before → at top |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, p in rows:
        mark = "" if p["holds"] else " ✗"
        lines.append(
            f"| {name} | {fmt(p['knee_rate'])} "
            f"| {fmt(p['best_deliveries_per_s'])} ({fmt(p['best_rate'])}) "
            f"| {fmt(p['top_rate'])} | {fmt(p['top_deliveries_per_s'])} "
            f"| {fmt(p['ratio'])}{mark} | {fmt(p['top_rate_limited'])} "
            f"| {fmt(p['top_p99_ms'])} | {fmt(p['rss_before_mb'])} → {fmt(p['rss_top_mb'])} |"
        )
    return "\n".join(lines)


def summarize(results: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Every section of the report, and the ratio figures."""
    table, ratios = comparison(results)
    sections = [table]
    for title, body in (
        (
            "Scale curve (fan-out; * = no rate had p99 < 100 ms, the lowest rate is shown)",
            scale_table(results),
        ),
        (
            "Generator ceiling (python-socketio sender, light receivers, against "
            "bench/ceiling_server.mjs)",
            ceiling_table(results),
        ),
        (
            "message:create on Redis, `zizany serve --workers N` (PostgreSQL)",
            workers_table(results),
        ),
        (
            "Plateau (past the knee, up to 3× its rate; ✗ = deliveries/s fell more than 20 % "
            "below the best step)",
            plateau_table(results),
        ),
        ("Memory probe (tracemalloc)", memory_table(results)),
    ):
        if body:
            sections.append(f"{title}:\n\n{body}")
    body, cost = metrics_cost(results)
    if body:
        sections.append(f"Cost of metrics (`ZIZANY_METRICS=true` against off, one run):\n\n{body}")
        ratios.update(cost)
    return "\n\n".join(sections), ratios


def chart(results: dict[str, Any], path: Path) -> None:
    """The scale curve and the multi-process figures as one figure of four panels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8.4))
    (ax1, ax2), (ax3, ax4) = axes
    for label, style in (("zizany-sqlite", "o-"), ("node-sqlite", "s--"), ("ceiling", "^:")):
        rooms = sorted(_rooms(results, label).items())
        if not rooms:
            continue
        steps = [(size, *_at(fan)) for size, fan in rooms]
        pts = [(size, st) for size, st, _ in steps if st]
        if not pts:
            continue
        sizes = [size for size, _ in pts]
        ax1.plot(sizes, [st["deliveries_per_s"] for _, st in pts], style, label=label)
        if label != "ceiling":
            ax2.plot(sizes, [st["cpu_us_per_delivery"] for _, st in pts], style, label=label)
            ax3.plot(sizes, [st["p50_ms"] for _, st in pts], style, label=f"{label} p50")
            ax3.plot(sizes, [st["p99_ms"] for _, st in pts], style, alpha=0.5, label=f"{label} p99")
        ax2.plot(
            sizes,
            [st["receiver_cpu_us_per_delivery"] for _, st in pts],
            style,
            alpha=0.4,
            label=f"receivers ({label})",
        )
    for ax in (ax1, ax2, ax3):
        ax.set_xscale("log")
        ax.set_xlabel("room size (receivers)")
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    ax2.set_yscale("log")
    ax1.set_ylabel("deliveries/s (best p99 < 100 ms, else lowest)")
    ax2.set_ylabel("CPU-µs per delivery")
    ax3.set_ylabel("sender → last receiver latency (ms)")
    ax1.set_title("fan-out throughput by room size")
    ax2.set_title("CPU per delivery: servers and receivers")
    ax3.set_title("fan-out latency at that rate")
    bars: list[tuple[str, float]] = []
    for label in ("zizany-sqlite", "node-sqlite", "zizany-postgresql", "node-postgresql"):
        best = (results.get(label, {}).get("message_create") or {}).get("best") or {}
        if best:
            bars.append((label.replace("-", "\n", 1), best["messages_per_s"]))
    for count, res in sorted(results.get("zizany-workers", {}).items()):
        best = res.get("best") or {}
        if best:
            bars.append((f"zizany pg+redis\n{count} proc.", best["messages_per_s"]))
    if bars:
        ax4.bar([b[0] for b in bars], [b[1] for b in bars])
        ax4.tick_params(axis="x", labelsize=7)
    ax4.set_ylabel("msg/s (highest rate with p99 < 200 ms)")
    ax4.set_title("message:create throughput")
    ax4.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
