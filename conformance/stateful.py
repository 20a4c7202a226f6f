"""Stateful testing: a Hypothesis state machine of users, servers, tabs, rooms and messages.

Users sign up, create, join and leave servers, get kicked, open and close tabs (sockets),
join and leave rooms, type, and send, edit and delete messages. Every step runs through
the Harness, so everything the Observer checks holds after each one; the machine adds
what only a model of the whole world can say:

- a request is answered as the model predicts (members may join; a non-member gets
  E_FORBIDDEN in a public server, and finds a private one's channels and messages missing;
  only the author edits; the author, an admin or the owner deletes; ...);
- a socket of a non-member never receives a message of that server;
- every accepted `message:create` is stored exactly once (REST history) and delivered
  exactly once to every socket in the channel room, and to no other socket;
- typing changes reach the room, the typist's socket excepted, once per change of state;
- presence equals the set of members with at least one connected socket.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from conformance.client import Account, Probe
from conformance.coverage import Coverage
from conformance.harness import Harness
from conformance.known import split
from conformance.limits import RateTracker
from conformance.observer import Arrival
from conformance.rest import RestSpec
from conformance.spec import Contract, Room
from conformance.world import Driver, Place

T = TypeVar("T")

# The events and error codes of the model: this machine checks Zizany's semantics (the
# runner's other parts read everything from the spec).
PRESENCE = "presence:update"
MESSAGE_NEW = "message:new"
TYPING = "typing:update"
FORBIDDEN = "E_FORBIDDEN"
CHANNEL_NOT_FOUND = "E_CHANNEL_NOT_FOUND"
MESSAGE_NOT_FOUND = "E_MESSAGE_NOT_FOUND"
RATE_LIMITED = "E_RATE_LIMITED"

_nonce = itertools.count(1)


def refused_channel(place: Place) -> str:
    """A non-member's refusal in a channel: a private server's is missing to them."""
    return FORBIDDEN if place.is_public else CHANNEL_NOT_FOUND


@dataclass
class StoredMessage:
    """A message the model knows."""

    id: int
    channel_id: int
    author: int
    content: str
    deleted: bool = False


@dataclass
class Model:
    """What the machine believes the world is."""

    users: list[Account] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)
    roles: dict[tuple[int, int], str] = field(default_factory=dict)
    tabs: list[Probe] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)
    typing: set[tuple[Probe, int]] = field(default_factory=set)

    def members(self, place: Place) -> set[int]:
        """User ids of the members of a place."""
        return {u for (s, u) in self.roles if s == place.server_id}

    def role(self, place: Place, user_id: int) -> str | None:
        """A user's role in a place (None: not a member)."""
        return self.roles.get((place.server_id, user_id))

    def place_of_channel(self, channel_id: int) -> Place | None:
        """The place a channel belongs to."""
        return next((p for p in self.places if channel_id in p.channels), None)


@dataclass
class MachineConfig:
    """What the machine runs against, and where its results go."""

    url: str
    contract: Contract
    rest_spec: RestSpec
    coverage: Coverage
    violations: list[str] = field(default_factory=list)
    known: dict[str, int] = field(default_factory=dict)
    steps: int = 0


def machine_for(config: MachineConfig) -> type[RuleBasedStateMachine]:
    """A state machine class bound to a live server."""

    class ZizanyMachine(RuleBasedStateMachine):
        """Users, servers, tabs, rooms and messages against the live server."""

        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.h = Harness(config.url, config.contract, config.rest_spec, ack_timeout=10)
            self.driver = Driver(self.h)
            self.model = Model()
            self.rates = RateTracker(config.contract)
            server_room = config.contract.room_of_entity(self.h.observer.truth.entity)
            channel_room = config.contract.room_of_entity("channel")
            assert server_room is not None and channel_room is not None
            self.server_room: Room = server_room
            self.channel_room: Room = channel_room
            # A member of every place with a tab in every server room: it makes the effects of
            # a disconnect (presence, typing) observable, so a step can wait for them.
            self.watcher: Account | None = None
            self.watcher_tab: Probe | None = None

        def run(self, coro: Coroutine[Any, Any, T]) -> T:
            return self.loop.run_until_complete(coro)

        def teardown(self) -> None:
            try:
                self.run(self.h.aclose())
            finally:
                self.loop.run_until_complete(asyncio.sleep(0))
                self.loop.close()
            config.coverage.merge(self.h.coverage)
            config.steps += self.h.steps

        # ---- helpers -------------------------------------------------------------------------

        def pick(self, items: list[T], index: int) -> T:
            return items[index % len(items)]

        def tab_and_place(self, i: int, j: int, anyone: bool) -> tuple[Probe, Place]:
            """A live tab and a place; mostly a tab of a member, so that things happen."""
            pairs = [
                (t, p)
                for t in self.actors()
                for p in self.model.places
                if self.model.role(p, t.user_id) is not None
            ]
            if anyone or not pairs:
                return self.pick(self.actors(), i), self.pick(self.model.places, j)
            return self.pick(pairs, i * 101 + j)

        def enter(self, tab: Probe, place: Place) -> None:
            """The tab joins the place's server room and first channel."""
            self.answer(tab, "server:join", {"serverId": place.server_id})
            self.answer(tab, "channel:join", {"channelId": place.channels[0]})

        def new_place(self, owner: Account) -> Place:
            """A public place; the watcher joins it and watches its server room."""
            place = self.run(self.driver.create_server(owner, "machine place", public=True))
            self.model.places.append(place)
            self.model.roles[(place.server_id, owner.user_id)] = "owner"
            assert self.watcher is not None and self.watcher_tab is not None
            self.run(self.driver.join(self.watcher, place))
            self.model.roles[(place.server_id, self.watcher.user_id)] = "member"
            self.answer(self.watcher_tab, "server:join", {"serverId": place.server_id})
            return place

        @initialize()
        def a_small_world(self) -> None:
            """Three users in one public place, each with a tab in its rooms."""
            self.watcher = self.run(self.driver.signup("w"))
            self.watcher_tab = self.run(self.h.connect(self.watcher))
            self.model.tabs.append(self.watcher_tab)
            for _ in range(3):
                self.sign_up()
            owner = self.model.users[0]
            place = self.new_place(owner)
            for user in self.model.users[1:]:
                self.run(self.driver.join(user, place))
                self.model.roles[(place.server_id, user.user_id)] = "member"
            for user in self.model.users:
                tab = self.run(self.h.connect(user))
                self.model.tabs.append(tab)
                self.settle_presence()
                self.enter(tab, place)

        def live_tabs(self) -> list[Probe]:
            """Every connected tab, the watcher's included."""
            return [t for t in self.model.tabs if t.connected]

        def actors(self) -> list[Probe]:
            """The tabs rules act with (not the watcher's)."""
            return [t for t in self.live_tabs() if t is not self.watcher_tab]

        def in_room(self, tab: Probe, room: str) -> bool:
            return room in self.h.observer.state(tab).rooms

        def expect(self, what: str, got: str | None, *allowed: str | None) -> None:
            assert got in allowed, f"{what}: answered {got or 'ok'}, the model expects {allowed}"

        def answer(self, tab: Probe, event: str, payload: dict[str, Any]) -> tuple[Any, Any]:
            """Send an event and return its answer; past its declared rate limit, check the
            refusal, wait it out and send again (the model sees only the final answer)."""
            user = tab.user_id
            if self.rates.must_refuse(event, user, payload):
                request, _ = self.run(self.h.socket_step(tab, event, (payload,), valid=True))
                self.expect(f"{tab.name} {event} past its x-rate-limit", request.code, RATE_LIMITED)
            request, arrivals = self.run(self.h.socket_step(tab, event, (payload,), valid=True))
            for _ in range(2):
                if request.code != RATE_LIMITED or event not in self.rates.limits:
                    break
                assert self.rates.may_refuse(event, user, payload), (
                    f"{tab.name} {event}: E_RATE_LIMITED below its declared x-rate-limit"
                )
                wait = (request.reply or {}).get("retryAfterMs", 1000)
                time.sleep(min(float(wait), 15_000) / 1000 + 0.05)
                request, arrivals = self.run(self.h.socket_step(tab, event, (payload,), valid=True))
            if request.code != RATE_LIMITED:
                self.rates.let_through(event, user, payload)
            return request, arrivals

        # ---- users and servers (REST) --------------------------------------------------------

        @precondition(lambda self: len(self.model.users) < 5)
        @rule()
        def sign_up(self) -> None:
            self.model.users.append(self.run(self.driver.signup("u")))

        @precondition(lambda self: self.model.users and len(self.model.places) < 3)
        @rule(i=st.integers(0, 100))
        def create_server(self, i: int) -> None:
            self.new_place(self.pick(self.model.users, i))

        @precondition(lambda self: self.model.users and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100))
        def join_server(self, i: int, j: int) -> None:
            user, place = self.pick(self.model.users, i), self.pick(self.model.places, j)
            if self.model.role(place, user.user_id) is not None:
                return
            self.run(self.driver.join(user, place))
            self.model.roles[(place.server_id, user.user_id)] = "member"

        @precondition(lambda self: self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), kick=st.booleans())
        def remove_member(self, i: int, j: int, kick: bool) -> None:
            place = self.pick(self.model.places, j)
            watcher = self.watcher.user_id if self.watcher is not None else 0
            members = sorted(
                u for u in self.model.members(place) if u not in (place.owner.user_id, watcher)
            )
            if not members:
                return
            user_id = self.pick(members, i)
            user = next(u for u in self.model.users if u.user_id == user_id)
            if kick:
                self.run(self.driver.kick(place.owner, place, user))
            else:
                self.run(self.driver.leave(user, place))
            del self.model.roles[(place.server_id, user_id)]
            self.model.typing = {
                (t, c)
                for (t, c) in self.model.typing
                if not (t.user_id == user_id and c in place.channels)
            }

        # ---- tabs ----------------------------------------------------------------------------

        @precondition(lambda self: self.model.users and len(self.actors()) < 6)
        @rule(i=st.integers(0, 100))
        def open_tab(self, i: int) -> None:
            user = self.pick(self.model.users, i)
            tab = self.run(self.h.connect(user))
            self.model.tabs.append(tab)
            self.settle_presence()
            for place in self.model.places:
                if self.model.role(place, user.user_id) is not None:
                    self.enter(tab, place)
                    break

        @precondition(lambda self: self.actors())
        @rule(i=st.integers(0, 100))
        def close_tab(self, i: int) -> None:
            tab = self.pick(self.actors(), i)
            typing_in = {c for (t, c) in self.model.typing if t is tab}
            others = [t for t in self.live_tabs() if t is not tab]
            since = self.h.observer.last_seq
            self.run(self.h.close(tab))
            self.model.typing = {(t, c) for (t, c) in self.model.typing if t is not tab}
            for channel_id in typing_in:
                if any(t.user_id == tab.user_id and c == channel_id for t, c in self.model.typing):
                    continue
                room = self.channel_room.name(channel_id)
                watchers = [t for t in others if self.in_room(t, room)]

                def heard(watchers: list[Probe] = watchers, channel: int = channel_id) -> bool:
                    return all(
                        any(
                            p.get("userId") == tab.user_id and p.get("channelId") == channel
                            for p in self.h.observer.received(t, TYPING, since=since)
                        )
                        for t in watchers
                    )

                self.wait_for(heard, f"typing stop of closed {tab.name} in channel {channel_id}")
            self.settle_presence()

        # ---- rooms ---------------------------------------------------------------------------

        @precondition(lambda self: self.actors() and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), anyone=st.booleans())
        def join_server_room(self, i: int, j: int, anyone: bool) -> None:
            tab, place = self.tab_and_place(i, j, anyone)
            request, _ = self.answer(tab, "server:join", {"serverId": place.server_id})
            member = self.model.role(place, tab.user_id) is not None
            self.expect(
                f"{tab.name} server:join {place.server_id}",
                request.code,
                None if member else FORBIDDEN,
            )

        @precondition(lambda self: self.actors() and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), anyone=st.booleans())
        def join_channel(self, i: int, j: int, anyone: bool) -> None:
            tab, place = self.tab_and_place(i, j, anyone)
            channel_id = place.channels[0]
            request, _ = self.answer(tab, "channel:join", {"channelId": channel_id})
            member = self.model.role(place, tab.user_id) is not None
            self.expect(
                f"{tab.name} channel:join {channel_id}",
                request.code,
                None if member else refused_channel(place),
            )

        @precondition(lambda self: self.actors() and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100))
        def leave_channel(self, i: int, j: int) -> None:
            tab, place = self.pick(self.actors(), i), self.pick(self.model.places, j)
            channel_id = place.channels[0]
            typing = (tab, channel_id) in self.model.typing
            request, arrivals = self.answer(tab, "channel:leave", {"channelId": channel_id})
            self.expect(f"{tab.name} channel:leave", request.code, None)
            self.model.typing.discard((tab, channel_id))
            self.check_typing(
                tab,
                channel_id,
                arrivals,
                changed=typing and not self.user_types(tab.user_id, channel_id),
                is_typing=False,
            )

        # ---- typing --------------------------------------------------------------------------

        def history_of(self, user_id: int, channel_id: int) -> list[str]:
            """Everything about one user in one channel, for failure reports."""
            out = []
            for a in self.h.observer.arrivals:
                p = a.payload if isinstance(a.payload, dict) else {}
                if (
                    a.event == TYPING
                    and p.get("userId") == user_id
                    and p.get("channelId") == channel_id
                ):
                    out.append(f"#{a.seq} {a.probe.name} got {p.get('isTyping')}")
                if a.probe.user_id == user_id and a.room is not None and a.revoked:
                    out.append(f"#{a.seq} {a.probe.name} revoked {sorted(a.revoked)} by {a.event}")
            for r in self.h.observer.sent_log:
                if r.probe.user_id == user_id and not r.barrier:
                    out.append(f"@{r.id} {r.describe()} -> {r.reply}")
            return out

        def user_types(self, user_id: int, channel_id: int) -> bool:
            return any(t.user_id == user_id and c == channel_id for t, c in self.model.typing)

        def check_typing(
            self,
            tab: Probe,
            channel_id: int,
            arrivals: list[Arrival],
            *,
            changed: bool,
            is_typing: bool,
        ) -> None:
            room = self.channel_room.name(channel_id)
            for other in self.live_tabs():
                if other is tab or not self.in_room(other, room):
                    continue
                got = [
                    a.payload
                    for a in arrivals
                    if a.probe is other
                    and a.event == TYPING
                    and a.payload.get("userId") == tab.user_id
                ]
                want = [is_typing] if changed else []
                assert [p.get("isTyping") for p in got] == want, (
                    f"{other.name} got {got} after {tab.name}'s typing change in {channel_id}; "
                    f"the model expects isTyping {want} (typing: "
                    f"{sorted((t.name, c) for t, c in self.model.typing)}; history: "
                    f"{self.history_of(tab.user_id, channel_id)})"
                )

        @precondition(lambda self: self.actors() and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), start=st.booleans())
        def type_in_channel(self, i: int, j: int, start: bool) -> None:
            tab, place = self.tab_and_place(i, j, anyone=False)
            channel_id = place.channels[0]
            joined = self.in_room(tab, self.channel_room.name(channel_id))
            was_typing = self.user_types(tab.user_id, channel_id)
            mine = (tab, channel_id) in self.model.typing
            event = "typing:start" if start else "typing:stop"
            request, arrivals = self.answer(tab, event, {"channelId": channel_id})
            self.expect(f"{tab.name} {event}", request.code, None if joined else FORBIDDEN)
            if not joined:
                return
            if start:
                self.model.typing.add((tab, channel_id))
                changed = not was_typing
            else:
                self.model.typing.discard((tab, channel_id))
                changed = mine and not self.user_types(tab.user_id, channel_id)
            self.check_typing(tab, channel_id, arrivals, changed=changed, is_typing=start)

        # ---- messages ------------------------------------------------------------------------

        @precondition(lambda self: self.actors() and self.model.places)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), anyone=st.booleans())
        def send_message(self, i: int, j: int, anyone: bool) -> None:
            tab, place = self.tab_and_place(i, j, anyone)
            channel_id = place.channels[0]
            room = self.channel_room.name(channel_id)
            content = f"machine message {next(_nonce)} {time.monotonic_ns()}"
            in_room = {t for t in self.live_tabs() if self.in_room(t, room)}
            request, arrivals = self.answer(
                tab, "message:create", {"channelId": channel_id, "content": content}
            )
            member = self.model.role(place, tab.user_id) is not None
            self.expect(
                f"{tab.name} message:create",
                request.code,
                *((None, RATE_LIMITED) if member else (refused_channel(place),)),
            )
            if request.code is not None:
                assert not [a for a in arrivals if a.event == MESSAGE_NEW], "failed, yet broadcast"
                return
            message = request.reply["message"]
            self.model.messages.append(
                StoredMessage(message["id"], channel_id, tab.user_id, content)
            )
            for t in self.live_tabs():
                got = [
                    a
                    for a in arrivals
                    if a.probe is t
                    and a.event == MESSAGE_NEW
                    and a.payload.get("id") == message["id"]
                ]
                want = 1 if t in in_room else 0
                assert len(got) == want, (
                    f"message {message['id']} reached {t.name} {len(got)} times, expected {want}"
                )
                for a in got:
                    assert a.payload == message, f"message:new {a.payload} != ack {message}"
            history = self.run(self.driver.history(place.owner, channel_id))
            stored = [m for m in history if m.get("id") == message["id"]]
            same = [m for m in history if m.get("content") == content]
            assert len(stored) == 1 and len(same) == 1, (
                f"message {message['id']} stored {len(stored)} times ({len(same)} with its text)"
            )
            assert stored[0] == message, f"history has {stored[0]}, the ack said {message}"

        @precondition(lambda self: self.actors() and self.model.messages)
        @rule(i=st.integers(0, 100), j=st.integers(0, 100), delete=st.booleans())
        def change_message(self, i: int, j: int, delete: bool) -> None:
            tab, message = self.pick(self.actors(), i), self.pick(self.model.messages, j)
            place = self.model.place_of_channel(message.channel_id)
            assert place is not None
            role = self.model.role(place, tab.user_id)
            if delete:
                request, _ = self.answer(tab, "message:delete", {"messageId": message.id})
                may = role is not None and (message.author == tab.user_id or role != "member")
            else:
                content = f"edited {next(_nonce)}"
                request, _ = self.answer(
                    tab, "message:update", {"messageId": message.id, "content": content}
                )
                may = role is not None and message.author == tab.user_id
            if message.deleted or (role is None and not place.is_public):
                expected: str | None = MESSAGE_NOT_FOUND
            else:
                expected = None if may else FORBIDDEN
            self.expect(f"{tab.name} change {message.id}", request.code, expected)
            if request.code is None:
                if delete:
                    message.deleted = True
                else:
                    message.content = content

        # ---- invariants ----------------------------------------------------------------------

        @invariant()
        def no_violation(self) -> None:
            unexplained, explained = split(self.h.violations)
            for key, items in explained.items():
                config.known[key] = config.known.get(key, 0) + len(items)
            self.h.observer.violations.clear()
            if unexplained:
                config.violations.extend(str(v) for v in unexplained)
            assert not unexplained, "\n".join(str(v) for v in unexplained)

        def presence_problems(self) -> list[str]:
            problems = []
            live = self.live_tabs()
            for place in self.model.places:
                members = self.model.members(place)
                online = sorted({t.user_id for t in live if t.user_id in members})
                room = self.server_room.name(place.server_id)
                for tab in live:
                    if not self.in_room(tab, room):
                        continue
                    seen = [
                        p
                        for p in self.h.observer.received(tab, PRESENCE)
                        if p.get("serverId") == place.server_id
                    ]
                    latest = seen[-1]["onlineUserIds"] if seen else None
                    if latest != online:
                        problems.append(
                            f"{tab.name} sees {latest} online in {place.server_id}, "
                            f"the members with a socket are {online}"
                        )
            return problems

        def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 3) -> None:
            deadline = time.monotonic() + timeout
            while not condition():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                self.run(asyncio.sleep(0.02))

        def settle_presence(self) -> None:
            deadline = time.monotonic() + 3
            while self.presence_problems() and time.monotonic() < deadline:
                self.run(asyncio.sleep(0.02))

        @invariant()
        def presence_is_the_members_with_a_socket(self) -> None:
            problems = self.presence_problems()
            assert not problems, "\n".join(problems)

    return ZizanyMachine


def run_machine(
    config: MachineConfig, *, examples: int, steps: int, seed: int = 1, shrink: bool = False
) -> None:
    """Run the state machine; raises with the failing steps (shrunk if asked) on a failure.

    Every example starts a small world on the live server, so shrinking re-runs whole
    worlds: worth it in a long run, too slow for the bounded one.
    """
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis.stateful import run_state_machine_as_test

    machine = machine_for(config)

    @hypothesis_seed(seed)
    def once() -> None:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate, Phase.shrink] if shrink else [Phase.generate],
            ),
        )

    once()
