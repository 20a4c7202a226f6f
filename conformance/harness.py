"""The live side of a run: probes, barriers, steps, and REST calls checked against `x-emits`."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from conformance.client import Account, Probe, Request
from conformance.coverage import Coverage
from conformance.observer import Arrival, Observer, Step, Truth
from conformance.rest import RestClient, RestResult, RestSpec
from conformance.spec import Contract, canonical, id_kind, snake

_names = itertools.count(1)


class Harness:
    """Sockets and a REST client against one live server, all watched by one Observer."""

    def __init__(
        self,
        url: str,
        contract: Contract,
        rest_spec: RestSpec,
        *,
        ack_timeout: float = 10.0,
        coverage: Coverage | None = None,
        presence_interval: float = 0.0,
    ) -> None:
        self.url = url
        # The target's presence coalescing interval: a connect or disconnect may announce
        # presence once more, up to this long after it. A step waits that out (and a
        # barrier), so such a late announcement never lands in the middle of the step.
        self.presence_interval = presence_interval
        self._presence_changed_at: float | None = None
        self.contract = contract
        self.rest_spec = rest_spec
        self.ack_timeout = ack_timeout
        self.coverage = coverage or Coverage(contract, rest_spec)
        self.observer = Observer(contract, self.coverage, Truth())
        self.rest = RestClient(rest_spec, url, self._record_rest)
        self.probes: list[Probe] = []
        with_reply = sorted(e for e, op in contract.receive.items() if op.reply is not None)
        if not with_reply:
            raise ValueError("no receive operation has a reply: nothing to build a barrier on")
        # A request without its payload argument must be answered with the validation error
        # and change nothing: an ack round trip on every socket that is also a check.
        self.barrier_event = with_reply[0]
        self.steps = 0
        self.unobservable_emits = 0

    @property
    def violations(self) -> list[Any]:
        """Everything found so far."""
        return self.observer.violations

    def fail(self, kind: str, message: str) -> None:
        """Record a violation."""
        self.observer.fail(kind, message)

    def _record_rest(self, result: RestResult, problems: list[str]) -> None:
        self.coverage.rest_call(result.op.op_id, result.status)
        for problem in problems:
            self.fail("rest-contract", f"{result.op.method} {result.op.path}: {problem}")
        if isinstance(result.body, dict | list):
            self.observer.learn(None, result.body)

    # ---- sockets -----------------------------------------------------------------------------

    async def connect(self, account: Account, name: str | None = None) -> Probe:
        """A new connection of `account`, followed by the observer."""
        probe = Probe(name or f"{account.username}#{next(_names)}", account, self.observer)
        self.observer.add_probe(probe)
        await probe.connect(self.url)
        self.probes.append(probe)
        self._presence_changed()
        return probe

    async def close(self, probe: Probe) -> None:
        """Close one connection on purpose."""
        await probe.close()
        self._presence_changed()

    def _presence_changed(self) -> None:
        if self.presence_interval > 0:
            self._presence_changed_at = asyncio.get_running_loop().time()

    async def _settle_presence(self) -> None:
        """Before a step: the coalesced presence of earlier connects has been sent and has
        arrived (the quiet world a step assumes)."""
        changed, self._presence_changed_at = self._presence_changed_at, None
        if changed is None:
            return
        left = changed + self.presence_interval * 1.5 - asyncio.get_running_loop().time()
        if left > 0:
            await asyncio.sleep(left)
        await self.barrier()

    async def wait(self, request: Request, within: float | None = None) -> Request:
        """Wait for a request's ack (`within` seconds); a missing ack is a violation."""
        if not request.wants_ack:
            return request
        limit = within or self.ack_timeout
        try:
            await asyncio.wait_for(request.answered.wait(), limit)
        except TimeoutError:
            self.fail("no-ack", f"{request.describe()}: no ack within {limit} s")
            self.observer.lose(request)
        return request

    async def barrier(self, probes: list[Probe] | None = None) -> None:
        """An ack round trip on every live socket: everything sent to them before has arrived.

        It covers what was emitted before the barrier's requests were handled: for a request
        sent without an ack, first `barrier([its sender])`, which returns once the server
        has handled that request (one socket's events are handled in order).
        """
        targets = probes if probes is not None else self.observer.live()
        live = [p for p in targets if p.connected]
        requests = [await p.send(self.barrier_event, (), barrier=True) for p in live]
        await asyncio.gather(*(self.wait(r) for r in requests))
        if probes is None:
            self.observer.settled()

    async def socket_step(
        self,
        probe: Probe,
        event: str,
        args: tuple[Any, ...],
        *,
        ack: bool = True,
        label: str | None = None,
        valid: bool | None = None,
    ) -> tuple[Request, list[Arrival]]:
        """Send one request in a quiet world, then a barrier; check what it caused."""
        await self._settle_presence()
        step = self.observer.begin_step(label or f"{probe.name} {event}", probe)
        request = await probe.send(event, args, ack=ack)
        step.requests.append(request)
        await self.wait(request)
        if not ack:
            await self.barrier([probe])
        await self.barrier()
        if ack and not request.lost:
            step.failed = not request.ok
        arrivals = self.observer.end_step(step)
        self.steps += 1
        self._check_verdict(request, valid)
        return request, arrivals

    def _check_verdict(self, request: Request, valid: bool | None) -> None:
        if not request.wants_ack or request.lost or valid is None:
            return
        code = self.contract.validation_code
        if valid and request.code == code:
            self.fail(
                "validation",
                f"{request.describe()}: a payload valid against the schema was rejected "
                f"({request.reply})",
            )
        if not valid and request.code != code:
            self.fail(
                "validation",
                f"{request.describe()}: an invalid payload was answered {request.reply}, "
                f"not {code}",
            )

    # ---- REST --------------------------------------------------------------------------------

    async def rest_step(
        self,
        label: str,
        op_id: str,
        *,
        cookie: str | None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        expect: int | None = None,
        before: Callable[[], None] | None = None,
        undo: Callable[[], None] | None = None,
        **path: Any,
    ) -> RestResult:
        """A REST call in a quiet world, then a barrier; check its `x-emits` on the sockets."""
        await self._settle_presence()
        step = self.observer.begin_step(label, None)
        if before is not None:
            before()
        result = await self.rest.call(op_id, cookie=cookie, json=json, params=params, **path)
        if not result.ok and undo is not None:
            undo()
        await self.barrier()
        step.failed = not result.ok
        arrivals = self.observer.end_step(step)
        self.steps += 1
        if expect is not None and result.status != expect:
            self.fail(
                "driver",
                f"{label}: {op_id} answered {result.status} {canonical(result.body)[:300]}, "
                f"expected {expect}",
            )
        if result.ok:
            self._check_emits(step, result, arrivals)
        return result

    def _check_emits(self, step: Step, result: RestResult, arrivals: list[Arrival]) -> None:
        op = result.op
        declared = {e.event for e in op.emits}
        extra = sorted({(a.event, a.room) for a in arrivals if a.room and a.event not in declared})
        for event, room in extra:
            self.fail(
                "x-emits",
                f"{op.op_id} sent {event} to {room}, which its x-emits ({sorted(declared)}) "
                f"does not list",
            )
        for emit in op.emits:
            send = self.contract.send.get(emit.event)
            if send is None or send.room is None or send.room.address != emit.room:
                self.fail(
                    "x-emits",
                    f"{op.op_id}: x-emits names {emit.event} to {emit.room}, which "
                    f"spec/asyncapi.yaml does not declare on that room",
                )
                continue
            if emit.when is not None:
                continue
            value = self._resolve(send.room.parameter, result)
            if value is None:
                self.unobservable_emits += 1
                continue
            room = send.room.name(value)
            # Sockets in the room throughout (a revoking event: in it before) must see it.
            revoking = (
                self.observer.revoked_room(emit.event, {send.room.parameter: value}, user_id=None)
                is not None
            )
            watching = [
                p
                for p, rooms in step.rooms_start.items()
                if room in rooms and (revoking or room in step.rooms_end.get(p, frozenset()))
            ]
            if not watching:
                self.unobservable_emits += 1
                continue
            got = [a for a in arrivals if a.event == emit.event and a.room == room]
            if not got:
                self.fail(
                    "x-emits",
                    f"{op.op_id} answered {result.status}, but {emit.event} never reached "
                    f"{room} (watched by {[p.name for p in watching]})",
                )
                continue
            self._check_agreement(op.op_id, emit.event, result.body, got)

    def _check_agreement(self, op_id: str, event: str, body: Any, got: list[Arrival]) -> None:
        """When the REST answer holds the event's payload, the event carries exactly it."""
        candidates = [body] + (list(body.values()) if isinstance(body, dict) else [])
        for value in candidates:
            if self.contract.payload_problems(event, value):
                continue
            for a in got:
                if a.payload != value:
                    self.fail(
                        "agreement",
                        f"{op_id} answered {canonical(value)[:300]} but {event} to "
                        f"{a.probe.name} carried {canonical(a.payload)[:300]}",
                    )
            return

    def _resolve(self, parameter: str, result: RestResult) -> int | None:
        """A room parameter's value: from the path, the answer, or the entity's parents."""
        for key in (parameter, snake(parameter)):
            value = result.path_params.get(key)
            if isinstance(value, int):
                return value
        entity = id_kind(parameter)
        body = result.body
        if isinstance(body, dict):
            for key in (parameter, snake(parameter)):
                if isinstance(body.get(key), int):
                    return int(body[key])
            for item in body.values():
                if isinstance(item, dict):
                    for key in (parameter, snake(parameter)):
                        if isinstance(item.get(key), int):
                            return int(item[key])
            inner = body.get(entity) if entity is not None else None
            if isinstance(inner, dict) and isinstance(inner.get("id"), int):
                return int(inner["id"])
        for key, value in result.path_params.items():
            kind = id_kind(key)
            if kind is None or not isinstance(value, int):
                continue
            node: tuple[str, int] | None = (kind, value)
            for _ in range(10):
                if node is None:
                    break
                if node[0] == entity:
                    return node[1]
                node = self.observer.parents.get(node)
        return None

    async def aclose(self) -> None:
        """Close every probe and the REST client (nothing arriving from now on is checked)."""
        self.observer.finished = True
        for probe in self.probes:
            await probe.close()
        await self.rest.aclose()
