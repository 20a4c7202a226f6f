"""Checks every event and ack any probe receives against the contract.

For each socket the observer keeps the rooms it is in, from its own successful joins and
leaves (a room with a join or leave in flight is "pending": events for it may or may not
arrive) and from the events that revoke rooms (a member leaving or removed, an entity
deleted). Each arrival is checked at once:

- the event is declared as a send operation and has exactly one payload argument;
- the payload is valid against the message's schema (Draft 7, formats checked);
- a room event names its room (the address parameter, its snake_case form, or the
  entity's own `id`) and reaches only sockets in that room, and only sockets of members
  of the room's server (as the driver made the memberships);
- an event of the socket channel reaches only a socket with a request in flight, and is
  attributed to that request: acks of one socket come in the order the requests were sent,
  so everything between two acks answers the second one;
- an ack is valid against the operation's `reply` schema; a failed ack's code is in the
  operation's `x-errors` and comes with exactly one error event carrying that code.

Steps add what only a quiet world shows (one request, then a barrier on every socket):
every room event reaches every socket in the room exactly once, never the sender of an
`x-socketio-exclude-sender` operation, and a failed request broadcasts nothing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from conformance.client import Probe, Request
from conformance.coverage import Coverage
from conformance.spec import Contract, action_of, canonical, entity_of, id_kind


@dataclass(frozen=True)
class Violation:
    """One way the server broke the contract."""

    kind: str
    message: str
    step: str = ""

    def __str__(self) -> str:
        where = f" (during {self.step!r})" if self.step else ""
        return f"[{self.kind}] {self.message}{where}"


@dataclass
class Arrival:
    """One event as a probe received it."""

    seq: int
    probe: Probe
    event: str
    payload: Any
    room: str | None
    revoked: frozenset[str]


@dataclass
class SocketState:
    """What the observer believes about one socket."""

    rooms: set[str] = field(default_factory=set)
    pending: Counter[str] = field(default_factory=Counter)
    uncertain: set[str] = field(default_factory=set)
    outstanding: deque[Request] = field(default_factory=deque)
    window: list[tuple[str, Any]] = field(default_factory=list)
    alive: bool = True
    expect_disconnect: bool = False
    # Left since the last barrier: a broadcast whose recipients were taken just before the
    # leave may still arrive after its ack (python-socketio sends to each recipient in a task).
    recently_left: set[str] = field(default_factory=set)
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    def may_be_in(self, room: str) -> bool:
        """In the room, joining or leaving it, just left it, or not known."""
        return (
            room in self.rooms
            or self.pending[room] > 0
            or room in self.uncertain
            or room in self.recently_left
        )


@dataclass
class Truth:
    """The memberships the driver made: user ids per server (the root rooms' entity)."""

    entity: str = "server"
    members: dict[int, set[int]] = field(default_factory=dict)

    def add(self, server_id: int, user_id: int) -> None:
        """A user is now a member."""
        self.members.setdefault(server_id, set()).add(user_id)

    def remove(self, server_id: int, user_id: int) -> None:
        """A user is no longer a member."""
        self.members.get(server_id, set()).discard(user_id)

    def drop(self, server_id: int) -> None:
        """The server is gone (no one is a member)."""
        self.members[server_id] = set()

    def is_member(self, server_id: int, user_id: int) -> bool | None:
        """Membership, or None for a server the driver does not know."""
        found = self.members.get(server_id)
        return None if found is None else user_id in found


@dataclass
class Step:
    """A stretch of the run in which one thing happened, ended by a barrier on every socket."""

    label: str
    sender: Probe | None
    start_seq: int
    rooms_start: dict[Probe, frozenset[str]]
    end_seq: int = 0
    rooms_end: dict[Probe, frozenset[str]] = field(default_factory=dict)
    unsure: set[tuple[Probe, str]] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    failed: bool = False


class Observer:
    """Receives everything every probe sees and checks it against the contract."""

    def __init__(self, contract: Contract, coverage: Coverage, truth: Truth | None = None):
        self.contract = contract
        self.coverage = coverage
        self.truth = truth or Truth()
        self.violations: list[Violation] = []
        self.arrivals: list[Arrival] = []
        self.states: dict[Probe, SocketState] = {}
        self.ids: dict[str, list[int]] = defaultdict(list)
        self._id_sets: dict[str, set[int]] = defaultdict(set)
        self.parents: dict[tuple[str, int], tuple[str, int]] = {}
        self.valid_requests: set[int] = set()
        self._seq = itertools.count(1)
        self.last_seq = 0
        self.unchecked_membership = 0
        self.current_step = ""
        self.sent_log: list[Request] = []
        self.finished = False
        self._once: set[tuple[str, str, str]] = set()

    # ---- bookkeeping -------------------------------------------------------------------------

    def fail(self, kind: str, message: str) -> None:
        """Record a violation."""
        self.violations.append(Violation(kind, message, self.current_step))

    def add_probe(self, probe: Probe) -> None:
        """Start following a probe."""
        self.states[probe] = SocketState()

    def disconnected(self, probe: Probe) -> asyncio.Event:
        """Set once the probe's connection has ended."""
        return self.states[probe].gone

    def state(self, probe: Probe) -> SocketState:
        """The observer's view of one probe."""
        return self.states[probe]

    def live(self) -> list[Probe]:
        """Probes whose connection is up."""
        return [p for p, s in self.states.items() if s.alive]

    def note_id(self, kind: str, value: int) -> None:
        """Remember an id (for payloads biased to ids that exist)."""
        if value not in self._id_sets[kind]:
            self._id_sets[kind].add(value)
            self.ids[kind].append(value)

    def note_parent(self, child: tuple[str, int], parent: tuple[str, int]) -> None:
        """`child` (e.g. a channel) belongs to `parent` (its server)."""
        self.parents[child] = parent

    def learn(self, entity: str | None, value: Any) -> None:
        """Remember the ids in a payload, and which room entity belongs to which."""
        if isinstance(value, list):
            for item in value:
                self.learn(entity, item)
            return
        if not isinstance(value, dict):
            return
        own: int | None = None
        if entity is not None:
            for key in ("id", f"{entity}Id", f"{entity}_id"):
                candidate = value.get(key)
                if _is_int(candidate):
                    own = candidate
                    break
        if entity is not None and own is not None:
            self.note_id(entity, own)
        for key, item in value.items():
            kind = id_kind(key)
            if kind is not None and _is_int(item):
                self.note_id(kind, item)
                if (
                    own is not None
                    and entity is not None
                    and kind != entity
                    and self.contract.room_of_entity(entity) is not None
                    and self.contract.room_of_entity(kind) is not None
                ):
                    self.note_parent((entity, own), (kind, item))
            elif isinstance(item, dict | list):
                self.learn(_singular(key), item)

    def root_of(self, room: str) -> tuple[str, int] | None:
        """The top of a room's chain of parents: a channel room's server."""
        node = self._parse_room(room)
        seen = 0
        while node is not None and node in self.parents and seen < 10:
            node = self.parents[node]
            seen += 1
        return node

    def _parse_room(self, room: str) -> tuple[str, int] | None:
        for channel in self.contract.rooms.values():
            value = channel.parse(room)
            if value is not None:
                return channel.entity, value
        return None

    def _descends(self, room: str, ancestor: tuple[str, int]) -> bool:
        node = self._parse_room(room)
        seen = 0
        while node is not None and seen < 10:
            if node == ancestor:
                return True
            node = self.parents.get(node)
            seen += 1
        return False

    # ---- the Sink protocol -------------------------------------------------------------------

    def on_sent(self, probe: Probe, request: Request) -> None:
        """Track the request: in flight, and the room it joins or leaves as pending."""
        st = self.states[probe]
        st.outstanding.append(request)
        self.sent_log.append(request)
        target = self._target(request)
        if target is not None:
            st.pending[target[1]] += 1
        op = self.contract.receive.get(request.event)
        if op is None:
            return
        valid = len(request.args) == 1 and not self.contract.request_problems(
            request.event, request.args[0]
        )
        if valid:
            self.valid_requests.add(request.id)
        if not request.barrier:
            self.coverage.request(request.event, valid=valid)

    def on_event(self, probe: Probe, event: str, args: tuple[Any, ...]) -> None:
        """Check one arriving event."""
        seq = next(self._seq)
        self.last_seq = seq
        st = self.states[probe]
        if probe.closing or self.finished:
            # Closing on purpose: what the server still sends (e.g. the effects of other
            # sockets closing at the end of a run) is not checked.
            return
        payload = args[0] if len(args) == 1 else None
        if len(args) != 1:
            self.fail("arity", f"{event} reached {probe.name} with {len(args)} arguments, not 1")
        op = self.contract.send.get(event)
        if op is None:
            self.fail(
                "undeclared",
                f"{probe.name} received {event!r}, which spec/asyncapi.yaml does not declare "
                f"as a send operation (payload {_short(payload)})",
            )
            self.arrivals.append(Arrival(seq, probe, event, payload, None, frozenset()))
            return
        for problem in self.contract.payload_problems(event, payload):
            self.fail("schema", f"{event} to {probe.name}: {problem} (payload {_short(payload)})")
        code = payload.get("code") if isinstance(payload, dict) else None
        is_error = self.contract.is_error_event(event)
        self.coverage.event(event, str(code) if is_error and code is not None else None)
        room: str | None = None
        revoked: frozenset[str] = frozenset()
        if op.to_socket:
            if not st.outstanding:
                self.fail(
                    "socket-scope",
                    f"{event} {_short(payload)} reached {probe.name}, which had no request in "
                    f"flight (events of the socket channel go only to the socket that caused them)",
                )
            else:
                st.window.append((event, payload))
        else:
            room = self.contract.room_for(event, payload)
            if room is None:
                self.fail("room", f"{event} to {probe.name}: the payload names no room")
            else:
                if not st.may_be_in(room):
                    self.fail(
                        "room",
                        f"{event} for {room} reached {probe.name} (user {probe.user_id}), "
                        f"which is not in {room} (its rooms: {sorted(st.rooms)}) "
                        f"payload {_short(payload)}",
                    )
                target = self.revoked_room(event, payload, user_id=probe.user_id)
                if target is None:
                    self._check_membership(probe, event, room, payload)
                else:
                    # The server applies it to every socket concerned, in the room or not.
                    whose = (
                        None
                        if action_of(event) == self.contract.rules.deleted_action
                        else probe.user_id
                    )
                    revoked = frozenset(self.revoke(target[1], user_id=whose))
        if action_of(event) in self.contract.rules.once_actions:
            key = (probe.name, event, canonical(payload))
            if key in self._once:
                self.fail(
                    "delivery",
                    f"{event} {_short(payload)} reached {probe.name} twice: the same "
                    f"{entity_of(event)} was {action_of(event)} twice",
                )
            self._once.add(key)
        self.learn(entity_of(event), payload)
        self.arrivals.append(Arrival(seq, probe, event, payload, room, revoked))

    def on_ack(self, probe: Probe, request: Request, args: tuple[Any, ...]) -> None:
        """Check one ack and attribute the socket-channel events before it."""
        st = self.states[probe]
        if request.lost:
            self.fail("no-ack", f"{request.describe()}: an ack arrived after the runner gave up")
            return
        acked = [r for r in st.outstanding if r.wants_ack]
        if not acked or acked[0] is not request:
            self.fail(
                "order",
                f"{request.describe()}: acked before {acked[0].describe() if acked else '?'} "
                f"that was sent earlier (events of one socket are handled in order)",
            )
        group: list[Request] = []
        if request in st.outstanding:
            while st.outstanding:
                r = st.outstanding.popleft()
                group.append(r)
                if r is request:
                    break
        else:
            group = [request]
        window, st.window = st.window, []
        if len(args) != 1:
            self.fail("ack", f"{request.describe()}: the ack has {len(args)} arguments, not 1")
        reply = args[0] if len(args) == 1 else None
        op = self.contract.receive.get(request.event)
        code = request.code
        if op is not None:
            for problem in self.contract.reply_problems(request.event, reply):
                self.fail("ack-schema", f"{request.describe()}: ack {_short(reply)}: {problem}")
            if code is not None and code not in op.errors:
                self.fail(
                    "error-code",
                    f"{request.describe()}: answered {code!r}, which x-errors of {op.op_id} "
                    f"does not list ({sorted(op.errors)})",
                )
        if not request.barrier:
            self.coverage.outcome(request.event, code)
        if request.barrier and code != self.contract.validation_code:
            self.fail(
                "validation",
                f"{request.describe()}: an event without its payload argument was answered "
                f"{_short(reply)}, not {self.contract.validation_code}",
            )
        self._attribute(probe, request, group, window)
        self._move_rooms(probe, st, request, group)
        self.learn(None, reply)

    def on_disconnect(self, probe: Probe, reason: Any) -> None:
        """A connection ended: on purpose, as the test expected, or dropped by the server."""
        st = self.states[probe]
        if not probe.closing and not st.expect_disconnect:
            last = [r.describe() for r in list(st.outstanding)[-3:]]
            self.fail(
                "disconnect",
                f"the server dropped {probe.name} ({reason}); requests in flight: {last}",
            )
        st.alive = False
        st.gone.set()
        st.rooms.clear()
        st.uncertain.clear()
        st.pending.clear()
        while st.outstanding:
            r = st.outstanding.popleft()
            r.lost = True
            r.answered.set()

    # ---- what a request did ------------------------------------------------------------------

    def _target(self, request: Request) -> tuple[str, str] | None:
        if len(request.args) != 1:
            return None
        payload = request.args[0]
        if not isinstance(payload, dict) or request.event not in self.contract.receive:
            return None
        return self.contract.target_room(request.event, payload)

    def lose(self, request: Request) -> None:
        """The runner stopped waiting for an ack."""
        st = self.states[request.probe]
        request.lost = True
        if request in st.outstanding:
            st.outstanding.remove(request)
        target = self._target(request)
        if target is not None:
            st.pending[target[1]] = max(0, st.pending[target[1]] - 1)
            st.uncertain.add(target[1])

    def _move_rooms(
        self, probe: Probe, st: SocketState, request: Request, group: list[Request]
    ) -> None:
        for r in group:
            target = self._target(r)
            if target is None:
                continue
            verb, room = target
            st.pending[room] = max(0, st.pending[room] - 1)
            if r is not request:
                st.uncertain.add(room)
                st.rooms.discard(room)
                continue
            if not request.ok:
                continue
            st.uncertain.discard(room)
            if verb == "enter":
                st.rooms.add(room)
                self._check_join_allowed(probe, request, room)
            else:
                st.rooms.discard(room)
                st.recently_left.add(room)

    def _check_join_allowed(self, probe: Probe, request: Request, room: str) -> None:
        root = self.root_of(room)
        if root is None or root[0] != self.truth.entity:
            return
        if self.truth.is_member(root[1], probe.user_id) is False:
            self.fail(
                "membership",
                f"{request.describe()}: joined {room} although user {probe.user_id} is not "
                f"a member of {self.truth.entity} {root[1]}",
            )

    def _attribute(
        self, probe: Probe, request: Request, group: list[Request], window: list[tuple[str, Any]]
    ) -> None:
        errors = [(ev, p) for ev, p in window if self.contract.is_error_event(ev)]
        answers = [ev for ev, p in window if not self.contract.is_error_event(ev)]
        no_ack = [r for r in group if r is not request]
        sent = {r.event for r in group}
        for ev, p in errors:
            named = p.get("event") if isinstance(p, dict) else None
            if named is not None and named not in sent:
                self.fail(
                    "socket-scope",
                    f"{ev} {_short(p)} reached {probe.name}, which sent {sorted(sent)}",
                )
            op = self.contract.receive.get(str(named) if named is not None else request.event)
            code = p.get("code") if isinstance(p, dict) else None
            if op is not None and code is not None and code not in op.errors:
                self.fail(
                    "error-code",
                    f"{ev} {_short(p)} to {probe.name}: {code!r} is not in x-errors of "
                    f"{op.op_id} ({sorted(op.errors)})",
                )
        mine = [
            (ev, p)
            for ev, p in errors
            if not isinstance(p, dict) or p.get("event") in (None, request.event)
        ]
        if request.code is not None:
            expected = self.contract.error_event_for(request.code)
            matching = [
                ev for ev, p in mine if isinstance(p, dict) and p.get("code") == request.code
            ]
            if not matching:
                self.fail(
                    "error-event",
                    f"{request.describe()}: answered {request.code} but no error event with "
                    f"that code arrived (window: {[ev for ev, _ in window]})",
                )
            elif expected is not None and matching[0] != expected:
                self.fail(
                    "error-event",
                    f"{request.describe()}: {request.code} came as {matching[0]}, "
                    f"the spec carries it on {expected}",
                )
            if len(errors) > 1 + len(no_ack):
                self.fail(
                    "error-event",
                    f"{request.describe()}: {len(errors)} error events for one failed request",
                )
            if answers and not no_ack:
                self.fail(
                    "socket-scope",
                    f"{request.describe()} failed ({request.code}) but {answers} reached "
                    f"{probe.name}",
                )
        elif len(errors) > len(no_ack) and request.reply is not None:
            self.fail(
                "error-event",
                f"{request.describe()}: answered ok, yet error events "
                f"{[_short(p) for _, p in errors]} arrived",
            )
        if request.barrier and answers and not no_ack:
            self.fail(
                "socket-scope",
                f"{answers} reached {probe.name}, which had not caused them",
            )

    def revoke(self, node: tuple[str, int], *, user_id: int | None = None) -> set[str]:
        """Take sockets (all, or one user's) out of an entity's room and its children's rooms.

        Called when a revoking event arrives, and by drivers when they make the change
        (a socket outside the server room hears no event but loses its channel rooms too).
        """
        room_channel = self.contract.room_of_entity(node[0])
        if room_channel is None:
            return set()
        room = room_channel.name(node[1])
        gone: set[str] = set()
        for probe, st in self.states.items():
            if user_id is not None and probe.user_id != user_id:
                continue
            mine = st.rooms | st.uncertain | {r for r, n in st.pending.items() if n}
            for r in mine:
                if r == room or self._descends(r, node):
                    st.rooms.discard(r)
                    st.uncertain.discard(r)
                    st.recently_left.add(r)
                    gone.add(r)
        return gone

    def revoked_room(
        self, event: str, payload: Any, *, user_id: int | None
    ) -> tuple[str, tuple[str, int]] | None:
        """The room an event revokes (for that user; any user when `user_id` is None)."""
        rules = self.contract.rules
        entity = entity_of(event)
        channel = self.contract.room_of_entity(entity)
        if channel is None or not isinstance(payload, dict):
            return None
        value = channel.value_in(payload, event=event)
        if value is None:
            return None
        action = action_of(event)
        if action == rules.member_left_action:
            if user_id is not None and not any(payload.get(k) == user_id for k in rules.user_keys):
                return None
        elif action != rules.deleted_action:
            return None
        return channel.name(value), (entity, value)

    def _check_membership(self, probe: Probe, event: str, room: str, payload: Any) -> None:
        root = self.root_of(room)
        if root is None or root[0] != self.truth.entity:
            self.unchecked_membership += 1
            return
        member = self.truth.is_member(root[1], probe.user_id)
        if member is None:
            self.unchecked_membership += 1
        elif not member:
            self.fail(
                "membership",
                f"{event} for {room} reached {probe.name} of user {probe.user_id}, who is not a "
                f"member of {self.truth.entity} {root[1]} (payload {_short(payload)})",
            )

    # ---- steps -------------------------------------------------------------------------------

    def settled(self) -> None:
        """A barrier completed: every broadcast sent before it has arrived."""
        for st in self.states.values():
            st.recently_left.clear()

    def begin_step(self, label: str, sender: Probe | None) -> Step:
        """Start a step (the world is quiet: the previous step ended with a barrier)."""
        self.current_step = label
        self.settled()
        return Step(
            label=label,
            sender=sender,
            start_seq=self.last_seq,
            rooms_start={p: frozenset(s.rooms) for p, s in self.states.items() if s.alive},
            unsure={(p, r) for p, s in self.states.items() for r in s.uncertain},
        )

    def end_step(self, step: Step) -> list[Arrival]:
        """Finish a step (after its barrier) and check its room events; return its arrivals."""
        step.end_seq = self.last_seq
        step.rooms_end = {p: frozenset(s.rooms) for p, s in self.states.items()}
        step.unsure |= {(p, r) for p, s in self.states.items() for r in s.uncertain}
        arrivals = [a for a in self.arrivals if step.start_seq < a.seq <= step.end_seq]
        groups: dict[tuple[str, str], list[Arrival]] = defaultdict(list)
        for a in arrivals:
            if a.room is not None:
                groups[(a.event, canonical(a.payload))].append(a)
        if step.failed and groups:
            names = sorted({event for event, _ in groups})
            self.fail("side-effect", f"step {step.label!r} failed, yet it broadcast {names}")
        for (event, _), group in groups.items():
            self._check_delivery(step, event, group)
        return arrivals

    def _check_delivery(self, step: Step, event: str, group: list[Arrival]) -> None:
        room = group[0].room
        assert room is not None
        op = self.contract.send[event]
        counts = Counter(a.probe for a in group)
        for probe, n in counts.items():
            if n > 1:
                self.fail(
                    "delivery",
                    f"step {step.label!r}: {event} {_short(group[0].payload)} reached "
                    f"{probe.name} {n} times",
                )
        if op.exclude_sender and step.sender is not None and step.sender in counts:
            self.fail(
                "exclude-sender",
                f"step {step.label!r}: {event} {_short(group[0].payload)} reached its sender "
                f"{step.sender.name} (x-socketio-exclude-sender)",
            )
        start = {p for p, rooms in step.rooms_start.items() if room in rooms}
        end = {p for p, rooms in step.rooms_end.items() if room in rooms}
        revoking = self.revoked_room(event, group[0].payload, user_id=None) is not None
        expected = set(start) if revoking else start & end
        expected = {
            p
            for p in expected
            if (p, room) not in step.unsure
            and self.states[p].alive
            and not (op.exclude_sender and p is step.sender)
        }
        for probe in sorted(expected - set(counts), key=lambda p: p.name):
            self.fail(
                "delivery",
                f"step {step.label!r}: {event} {_short(group[0].payload)} to {room} did not "
                f"reach {probe.name}, which is in {room}",
            )

    # ---- reading the record ------------------------------------------------------------------

    def received(self, probe: Probe, event: str, *, since: int = 0) -> list[Any]:
        """Payloads of one event a probe received after sequence number `since`."""
        return [
            a.payload
            for a in self.arrivals
            if a.probe is probe and a.event == event and a.seq > since
        ]

    def summary(self, limit: int = 5) -> str:
        """Violations grouped by kind, with a few examples each."""
        if not self.violations:
            return "no violations"
        by_kind: dict[str, list[Violation]] = defaultdict(list)
        for v in self.violations:
            by_kind[v.kind].append(v)
        lines = [f"{len(self.violations)} violations:"]
        for kind, items in sorted(by_kind.items()):
            lines.append(f"  {kind}: {len(items)}")
            lines.extend(
                f"    - {v.message}" + (f" [step: {v.step}]" if v.step else "")
                for v in items[:limit]
            )
        return "\n".join(lines)

    def kinds(self) -> set[str]:
        """The kinds of violation seen."""
        return {v.kind for v in self.violations}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _singular(key: str) -> str:
    return key[:-1] if key.endswith("s") and len(key) > 1 else key


def _short(value: Any, limit: int = 200) -> str:
    text = canonical(value)
    return text if len(text) <= limit else text[:limit] + "…"
