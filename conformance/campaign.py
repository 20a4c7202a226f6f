"""The fuzzing campaign: seed a world, then throw generated traffic at it and check everything.

Phases, each against the same live server and the same sockets:

1. seed: users, servers and channels through REST; sockets join their rooms.
2. valid: one generated valid request at a time (ids biased to ones that exist), each a
   step; some without an ack callback.
3. invalid: for every receive operation, edge cases and generated invalid payloads, each
   a step that must be answered with the validation error and change nothing (the
   database fingerprint is compared per operation).
4. burst: every socket sends a mix of valid and invalid requests at once.
5. rest: a story of REST changes (channels, roles, messages, joins, invites, leaving,
   kicks, deletes, logout), each checked against its `x-emits` on the sockets; then more
   valid traffic in the changed world.
6. flood: one user sends messages until the rate limit answers.
7. limits: a newcomer sends each event counted on arrival up to its `x-rate-limit`; the
   next one must be answered `E_RATE_LIMITED` with `error:rate_limited`.
7. fault: with storage failing (when the target can do that), one valid request of each
   operation: failures must be contract errors and broadcast nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.client import Account, Probe
from conformance.coverage import Coverage
from conformance.fuzz import (
    Invalid,
    Template,
    draw,
    edge_invalid_requests,
    invalid_requests,
    valid_templates,
)
from conformance.harness import Harness
from conformance.known import split
from conformance.observer import Violation
from conformance.rest import RestSpec
from conformance.spec import Contract, action_of, id_kind
from conformance.world import Driver, Place

RATE_LIMITED = "E_RATE_LIMITED"

Fingerprint = Callable[[], Awaitable[str]]
Fault = Callable[[], contextlib.AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class Budget:
    """How much traffic a campaign generates."""

    seed: int = 1
    valid_per_op: int = 12
    invalid_per_op: int = 8
    edge_invalid: bool = True
    no_ack_share: float = 0.1
    burst_rounds: int = 2
    burst_per_probe: int = 8
    after_rest_valid: int = 40
    flood: int = 120
    ack_timeout: float = 10.0
    huge_literals: bool = False
    twins: int = 2

    @classmethod
    def full(cls, seed: int = 1) -> Budget:
        """The `nox -s conformance` budget: a few minutes."""
        return cls(
            seed=seed,
            valid_per_op=120,
            invalid_per_op=80,
            burst_rounds=12,
            burst_per_probe=25,
            after_rest_valid=400,
            ack_timeout=5.0,
            huge_literals=True,
            twins=6,
        )


@dataclass
class RunResult:
    """What a campaign found and exercised."""

    violations: list[Violation]
    coverage: Coverage
    seconds: float
    steps: int
    notes: list[str] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Violation]:
        """Violations no known deviation explains (a run fails on any)."""
        return split(self.violations)[0]

    @property
    def known(self) -> dict[str, list[Violation]]:
        """Violations explained by a known deviation, by its key."""
        return split(self.violations)[1]

    @property
    def ok(self) -> bool:
        """No unexplained violation."""
        return not self.unexplained


@dataclass
class Cast:
    """The people of the seeded world, their places and their sockets."""

    ana: Account
    ben: Account
    cat: Account
    dan: Account
    eve: Account
    fay: Account
    s1: Place
    s2: Place
    probes: dict[str, Probe]


class Campaign:
    """One run of every phase against a live server."""

    def __init__(
        self,
        url: str,
        contract: Contract,
        rest_spec: RestSpec,
        *,
        budget: Budget | None = None,
        fingerprint: Fingerprint | None = None,
        fault: Fault | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.budget = budget or Budget()
        self.contract = contract
        self.h = Harness(url, contract, rest_spec, ack_timeout=self.budget.ack_timeout)
        self.driver = Driver(self.h)
        self.rng = random.Random(self.budget.seed)
        self.fingerprint = fingerprint
        self.fault = fault
        self.log = log or (lambda _: None)
        self.notes: list[str] = []
        self._templates: dict[str, list[Template]] = {}

    async def run(self) -> RunResult:
        """Every phase; then the result."""
        started = time.monotonic()
        try:
            cast = await self.seed()
            await self.phase("warmup", self.warmup_phase(cast))
            await self.phase("valid", self.valid_phase(cast, self._valid_plan()))
            await self.phase("invalid", self.invalid_phase(cast))
            await self.phase("burst", self.burst_phase(cast))
            await self.phase("twins", self.twins_phase(cast))
            await self.phase("rest", self.rest_phase(cast))
            await self.phase("flood", self.flood_phase(cast))
            await self.phase("limits", self.limits_phase(cast))
            if self.fault is not None:
                await self.phase("fault", self.fault_phase(cast))
            await self.final_checks(cast)
        finally:
            await self.h.aclose()
        return RunResult(
            violations=list(self.h.violations),
            coverage=self.h.coverage,
            seconds=time.monotonic() - started,
            steps=self.h.steps,
            notes=self.notes,
        )

    async def phase(self, name: str, work: Awaitable[None]) -> None:
        """Run one phase and log how long it took."""
        started = time.monotonic()
        before = len(self.h.violations)
        await work
        self.log(
            f"phase {name}: {time.monotonic() - started:.1f} s, "
            f"{len(self.h.violations) - before} violations"
        )

    # ---- seed ------------------------------------------------------------------------------

    async def seed(self) -> Cast:
        """Six users, a private and a public server, and seven sockets in various rooms."""
        d = self.driver
        ana, ben, cat, dan, eve, fay = [
            await d.signup(n) for n in ("ana", "ben", "cat", "dan", "eve", "fay")
        ]
        s1 = await d.create_server(ana, "private place", public=False)
        s2 = await d.create_server(ben, "public place", public=True)
        probes = {
            "ana": await self.h.connect(ana, "ana"),
            "ben": await self.h.connect(ben, "ben"),
            "cat1": await self.h.connect(cat, "cat1"),
            "cat2": await self.h.connect(cat, "cat2"),
            "dan": await self.h.connect(dan, "dan"),
            "eve": await self.h.connect(eve, "eve"),
            "fay": await self.h.connect(fay, "fay"),
        }
        await d.create_channel(ana, s1, "second")
        code = await d.invite(ana, s1)
        await d.join(cat, s1, code)
        await d.accept(fay, await d.invite(ana, s1), s1)
        await d.join(cat, s2)
        await d.join(dan, s2)
        await d.set_role(ana, s1, cat, "admin")
        cast = Cast(ana, ben, cat, dan, eve, fay, s1, s2, probes)
        await self.enter_rooms(cast)
        return cast

    async def enter_rooms(self, cast: Cast, *, partial: bool = True) -> None:
        """Each socket joins its user's servers and their channels (cat2: server rooms only)."""
        for name, probe in cast.probes.items():
            if not probe.connected:
                continue
            for place in self.driver.places.values():
                if self.h.observer.truth.is_member(place.server_id, probe.user_id) is not True:
                    continue
                await self.request(probe, "server:join", {"serverId": place.server_id})
                if partial and name == "cat2":
                    continue
                for channel_id in place.channels:
                    await self.request(probe, "channel:join", {"channelId": channel_id})

    async def request(self, probe: Probe, event: str, payload: dict[str, Any]) -> None:
        """One step with a payload the runner wrote (kept only if the spec accepts it)."""
        if event not in self.contract.receive:
            return
        if self.contract.request_problems(event, payload):
            self.notes.append(f"skipped {event} {payload}: not valid against the spec")
            return
        await self.h.socket_step(probe, event, (payload,), valid=True)

    # ---- valid traffic -----------------------------------------------------------------------

    def ids_for(self, probe: Probe) -> dict[str, list[int]]:
        """Known ids, with the kinds of the probe's rooms narrowed to its rooms."""
        ids = {kind: list(values) for kind, values in self.h.observer.ids.items()}
        mine: dict[str, list[int]] = {}
        for room in sorted(self.h.observer.state(probe).rooms):
            for channel in self.contract.rooms.values():
                value = channel.parse(room)
                if value is not None:
                    mine.setdefault(channel.entity, []).append(value)
        ids.update(mine)
        return ids

    async def warmup_phase(self, cast: Cast) -> None:
        """Each receive operation until it succeeds once, with ids of the sender's rooms.

        Leaves and deletes come last, so the other operations find their rooms and messages.
        """

        def order(event: str) -> tuple[bool, str]:
            # What takes things away goes last, so the other operations find them.
            return (action_of(event) in ("leave", "delete"), event)

        for event in sorted(self.contract.receive, key=order):
            succeeded = False
            for probe in cast.probes.values():
                if succeeded or not probe.connected:
                    continue
                for attempt, template in enumerate(self.templates(event, 3)):
                    payload = template.resolve(self.ids_for(probe), newest=attempt)
                    request, _ = await self.h.socket_step(probe, event, (payload,), valid=True)
                    if request.ok:
                        succeeded = True
                        break
            if not succeeded:
                self.notes.append(f"warmup: {event} never succeeded")

    def templates(self, event: str, count: int) -> list[Template]:
        """`count` valid templates of an operation (drawn once per campaign, then reused)."""
        pool = self._templates.get(event, [])
        if len(pool) < count:
            strategy = valid_templates(self.contract.receive[event].payload)
            seed_value = self.budget.seed + sorted(self.contract.receive).index(event)
            pool = draw(strategy, max(count, 24), seed_value=seed_value)
            self._templates[event] = pool
        return self.rng.sample(pool, min(count, len(pool)))

    def _valid_plan(self, per_op: int | None = None) -> list[tuple[str, Template]]:
        count = per_op if per_op is not None else self.budget.valid_per_op
        items = [
            (event, template)
            for event in sorted(self.contract.receive)
            for template in self.templates(event, count)
        ]
        self.rng.shuffle(items)
        return items

    async def valid_phase(self, cast: Cast, plan: list[tuple[str, Template]]) -> None:
        """One valid request per step, from a random socket."""
        for event, template in plan:
            live = [p for p in cast.probes.values() if p.connected]
            if not live:
                return
            probe = self.rng.choice(live)
            payload = template.resolve(self.h.observer.ids)
            ack = self.rng.random() >= self.budget.no_ack_share
            await self.h.socket_step(probe, event, (payload,), ack=ack, valid=True)

    # ---- invalid traffic ---------------------------------------------------------------------

    async def invalid_phase(self, cast: Cast) -> None:
        """Invalid payloads: the validation error, nothing else, no database change."""
        for i, event in enumerate(sorted(self.contract.receive)):
            cases: list[Invalid] = []
            if self.budget.edge_invalid:
                cases += edge_invalid_requests(
                    self.contract, event, huge_literals=self.budget.huge_literals
                )
            cases += draw(
                invalid_requests(self.contract, event),
                self.budget.invalid_per_op,
                seed_value=self.budget.seed * 1000 + i,
            )
            if not cases:
                continue
            before = await self.fingerprint() if self.fingerprint is not None else None
            for case in cases:
                live = [p for p in cast.probes.values() if p.connected]
                if not live:
                    return
                probe = self.rng.choice(live)
                await self.h.socket_step(
                    probe, event, case.args, label=f"{event} invalid: {case.why}", valid=False
                )
            if before is not None and self.fingerprint is not None:
                after = await self.fingerprint()
                if after != before:
                    self.h.fail(
                        "db-changed",
                        f"invalid {event} payloads changed the database "
                        f"({len(cases)} sent: {[c.why for c in cases][:10]}…)",
                    )

    # ---- concurrency -------------------------------------------------------------------------

    async def burst_phase(self, cast: Cast) -> None:
        """Every socket sends a mix of valid and invalid requests at once."""
        if self.budget.burst_rounds <= 0:
            return
        events = sorted(self.contract.receive)
        valid = {e: self.templates(e, self.budget.burst_per_probe) for e in events}
        invalid = {
            e: draw(invalid_requests(self.contract, e), 4, seed_value=self.budget.seed + 99 + i)
            for i, e in enumerate(events)
        }
        for round_ in range(self.budget.burst_rounds):
            self.h.observer.current_step = f"burst round {round_ + 1}"
            requests = []
            for probe in [p for p in cast.probes.values() if p.connected]:
                for _ in range(self.budget.burst_per_probe):
                    event = self.rng.choice(events)
                    if self.rng.random() < 0.25 and invalid[event]:
                        args = self.rng.choice(invalid[event]).args
                    else:
                        args = (self.rng.choice(valid[event]).resolve(self.h.observer.ids),)
                    requests.append(await probe.send(event, args))
            await asyncio.gather(*(self.h.wait(r) for r in requests))
            await self.h.barrier()

    async def twins_phase(self, cast: Cast) -> None:
        """The same request from two sockets of one user at once (races on one entity)."""
        by_user: dict[int, list[Probe]] = {}
        for probe in cast.probes.values():
            if probe.connected:
                by_user.setdefault(probe.user_id, []).append(probe)
        pairs = [probes[:2] for probes in by_user.values() if len(probes) >= 2]
        if not pairs:
            return
        first, second = pairs[0]
        for event in sorted(self.contract.receive):
            self.h.observer.current_step = f"twins {event} from {first.name} and {second.name}"
            for attempt, template in enumerate(self.templates(event, self.budget.twins)):
                payload = template.resolve(self.ids_for(first), newest=attempt)
                twins = [await p.send(event, (payload,)) for p in (first, second)]
                await asyncio.gather(*(self.h.wait(r) for r in twins))
                await self.h.barrier()

    # ---- REST story --------------------------------------------------------------------------

    async def rest_phase(self, cast: Cast) -> None:
        """REST changes with sockets watching, each checked against its x-emits."""
        d = self.driver
        await self.enter_rooms(cast)
        ana, ben, cat, dan, eve = cast.ana, cast.ben, cast.cat, cast.dan, cast.eve
        s1, s2 = cast.s1, cast.s2
        news = await d.create_channel(ana, s1, "news")
        await self.request(cast.probes["ana"], "channel:join", {"channelId": news})
        await self.request(cast.probes["cat1"], "channel:join", {"channelId": news})
        await d.rename_channel(cat, news, "headlines")
        await d.rename_server(ana, s1, "renamed place")
        await d.set_role(ben, s2, dan, "admin")
        general = s1.channels[0]
        # A newcomer writes over REST: REST and sockets share one rate limit per user.
        hal = await d.signup("hal")
        await d.accept(hal, await d.invite(ana, s1), s1)
        message_id = await d.post(hal, general, "  hello over REST  ")
        await d.edit(hal, general, message_id, "edited over REST")
        await d.delete_message(ana, general, message_id)
        await self.reads(cast)
        # An outsider knocks on the rooms of a server before joining it: refused.
        await self.request(cast.probes["eve"], "server:join", {"serverId": s1.server_id})
        await self.request(cast.probes["eve"], "channel:join", {"channelId": general})
        await d.join(eve, s2)
        await self.request(cast.probes["eve"], "server:join", {"serverId": s2.server_id})
        await self.request(cast.probes["eve"], "channel:join", {"channelId": s2.channels[0]})
        await d.accept(eve, await d.invite(ana, s1), s1)
        await self.request(cast.probes["eve"], "server:join", {"serverId": s1.server_id})
        await d.leave(eve, s2)
        await d.kick(ana, s1, cat)
        await d.delete_channel(ana, s1, news)
        # The kicked user's sockets must hear nothing more of the server.
        await self.valid_phase(cast, self._valid_plan(per_op=3))
        s3 = await d.create_server(dan, "short lived", public=True)
        await d.join(ben, s3)
        await self.enter_rooms(cast)
        await d.delete_server(dan, s3)
        await self.logout_check(cast)
        # Traffic in the changed world: revoked rooms stay silent.
        count = max(1, self.budget.after_rest_valid // max(1, len(self.contract.receive)))
        await self.valid_phase(cast, self._valid_plan(per_op=count))
        await self.enter_rooms(cast)

    async def reads(self, cast: Cast) -> None:
        """The read-only operations, once each, as a member."""
        rest, ana, s1 = self.h.rest, cast.ana, cast.s1
        await rest.call("get_health")
        await rest.call("get_me", cookie=ana.cookie)
        await rest.call("list_servers", cookie=ana.cookie)
        await rest.call("get_server", cookie=ana.cookie, serverId=s1.server_id)
        await rest.call("list_members", cookie=ana.cookie, serverId=s1.server_id)
        await rest.call("list_channels", cookie=ana.cookie, serverId=s1.server_id)
        await rest.call("get_channel", cookie=ana.cookie, channelId=s1.channels[0])
        await self.driver.history(ana, s1.channels[0])

    async def logout_check(self, cast: Cast) -> None:
        """Logout disconnects that session's sockets, and only those."""
        second = await self.driver.login(cast.dan)
        doomed = await self.h.connect(second, "dan-session2")
        self.h.observer.state(doomed).expect_disconnect = True
        await self.driver.logout(second)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.h.observer.disconnected(doomed).wait(), 5)
        if doomed.connected:
            self.h.fail("logout", "logout did not disconnect the socket of that session")
        if not cast.probes["dan"].connected:
            self.h.fail("logout", "logout disconnected a socket of another session")

    # ---- rate limit --------------------------------------------------------------------------

    async def flood_phase(self, cast: Cast) -> None:
        """One user sends messages until the rate limit answers."""
        if self.budget.flood <= 0:
            return
        probe = cast.probes["fay"]
        channel_id = cast.s1.channels[0]
        await self.request(probe, "channel:join", {"channelId": channel_id})
        sent = 0
        limited = False
        while sent < self.budget.flood and not limited and probe.connected:
            chunk = [
                await probe.send(
                    "message:create", ({"channelId": channel_id, "content": f"flood {sent + i}"},)
                )
                for i in range(10)
            ]
            sent += len(chunk)
            await asyncio.gather(*(self.h.wait(r) for r in chunk))
            limited = any(r.code is not None for r in chunk)
        await self.h.barrier()
        if not limited:
            self.notes.append(f"flood: {sent} messages were never rate limited")

    def _limit_payload(self, event: str, cast: Cast) -> dict[str, Any]:
        """A payload of the event built from its schema: the seeded place's ids, a missing
        id for anything else (refused or not, a valid event counts)."""
        schema = self.contract.receive[event].payload
        payload: dict[str, Any] = {}
        for name in schema.get("required", []):
            kind = id_kind(name)
            prop = schema.get("properties", {}).get(name, {})
            if kind == "server":
                payload[name] = cast.s1.server_id
            elif kind == "channel":
                payload[name] = cast.s1.channels[0]
            elif kind is not None:
                payload[name] = 2_147_483_647
            else:
                payload[name] = "limits" if prop.get("type") == "string" else 1
        return payload

    async def limits_phase(self, cast: Cast) -> None:
        """Each limit counted on arrival: `limit` events pass it, the next is refused."""
        limits = {
            event: op.rate_limit
            for event, op in sorted(self.contract.receive.items())
            if op.rate_limit is not None and op.rate_limit.counted_after == "payload"
        }
        if not limits:
            return
        probe = await self.h.connect(await self.driver.signup("hal"), "hal")
        cast.probes["hal"] = probe
        done: set[str] = set()
        for event, limit in limits.items():
            if limit.counter in done:
                continue
            done.add(limit.counter)
            payload = self._limit_payload(event, cast)
            if self.contract.request_problems(event, payload):
                self.notes.append(f"limits: no valid {event} payload built; not checked")
                continue
            for number in range(limit.limit + 1):
                request = await probe.send(event, (payload,))
                await self.h.wait(request)
                past = number == limit.limit
                if (request.code == RATE_LIMITED) != past:
                    self.h.fail(
                        "rate-limit",
                        f"{event} #{number + 1} of {limit.limit} per {limit.window_seconds} s "
                        f"({limit.counter}): answered {request.code or 'ok'}",
                    )
                    break
            await self.h.barrier()

    # ---- storage fault -----------------------------------------------------------------------

    async def fault_phase(self, cast: Cast) -> None:
        """With storage failing: failures are contract errors and broadcast nothing."""
        assert self.fault is not None
        # A newcomer writes: nobody else's rate limit can answer first.
        writer_account = await self.driver.signup("gus")
        await self.driver.accept(
            writer_account, await self.driver.invite(cast.ana, cast.s1), cast.s1
        )
        writer = await self.h.connect(writer_account, "gus")
        cast.probes["gus"] = writer
        general = cast.s1.channels[0]
        await self.request(writer, "server:join", {"serverId": cast.s1.server_id})
        await self.request(writer, "channel:join", {"channelId": general})
        plan = self._valid_plan(per_op=2)
        async with self.fault():
            await self.h.socket_step(
                writer,
                "message:create",
                ({"channelId": general, "content": "during a storage fault"},),
                valid=True,
            )
            await self.valid_phase(cast, plan)

    # ---- the end -----------------------------------------------------------------------------

    async def final_checks(self, cast: Cast) -> None:
        """Every socket still connected, the server still healthy."""
        for probe in cast.probes.values():
            if not probe.connected and not probe.closing:
                self.h.fail("disconnect", f"{probe.name} is no longer connected")
        health = await self.h.rest.call("get_health")
        if health.status != 200:
            self.h.fail("health", f"get_health answered {health.status} after the run")


@contextlib.asynccontextmanager
async def nothing() -> AsyncIterator[None]:
    """A fault that does nothing (for targets that cannot fail on purpose)."""
    yield
