"""The base of the generated router: validate each inbound event, run its handler, answer it.

This module does everything that touches raw Socket.IO data on the way in, so that
hand-written handlers only ever see pydantic models (the "generation gap" pattern).
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pydantic
import socketio
from pydantic import BaseModel

from contract_runtime.emitter import EmitterBase, SocketId
from contract_runtime.errors import ContractError, EmitRejected
from contract_runtime.limits import Limiter, RateLimit
from contract_runtime.observer import CONNECT, DISCONNECT, DispatchObserver, NoObserver
from contract_runtime.schemas import MAX_TEXT, dump

P = TypeVar("P")
log = logging.getLogger("zizany.contract")
RATE_LIMITED = "E_RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class Context(Generic[P]):
    """What a handler knows about the event it handles."""

    sid: SocketId
    principal: P
    event: str
    # time.monotonic() when the event arrived, before it waited for its socket's turn.
    received: float = 0.0


@dataclass(frozen=True, slots=True)
class Operation:
    """A receive operation of the spec, as the dispatcher needs it."""

    event: str
    method: str
    model: type[BaseModel]
    reply_key: str
    errors: frozenset[str]
    rate_limit: RateLimit | None = None


class HandlersBase(abc.ABC, Generic[P]):
    """Connection life cycle hooks; the generated router adds one method per operation."""

    @abc.abstractmethod
    async def authenticate(self, sid: SocketId, environ: Mapping[str, Any]) -> P | None:
        """The principal of a new connection, or None to refuse it with `E_UNAUTHORIZED`."""

    async def on_connected(self, ctx: Context[P]) -> None:
        """Called once a connection is accepted."""

    async def on_disconnected(self, ctx: Context[P]) -> None:
        """Called when a connection ends, after its pending events were handled."""

    def rate_subject(self, principal: P) -> str:
        """Who a rate limit's `user` is: the same text for every socket of one user."""
        return str(principal)

    def rate_limit_of(self, op: Operation) -> RateLimit | None:
        """The limit the dispatcher enforces for `op` (the spec's; a subclass may configure)."""
        return op.rate_limit


class Dispatcher(Generic[P]):
    """Registers the operations on an AsyncServer and runs them: validate, handle, answer.

    `observer` hears of every connection and event it runs (contract_runtime.observer).
    """

    def __init__(
        self,
        sio: socketio.AsyncServer,
        handlers: HandlersBase[P],
        emitter: EmitterBase,
        operations: Sequence[Operation],
        limiter: Limiter | None = None,
    ) -> None:
        missing = [op.method for op in operations if not _implemented(handlers, op.method)]
        if missing:
            raise TypeError(f"{type(handlers).__name__} has no handler for {missing}")
        self.sio = sio
        self.handlers = handlers
        self.emitter = emitter
        self.registry = emitter.registry
        self.operations = tuple(operations)
        self.limiter = limiter
        # The limits counted here, on arrival (after the payload check, before the handler).
        self.limits: dict[str, RateLimit] = {}
        for op in self.operations:
            limit = handlers.rate_limit_of(op)
            if limit is not None and limit.counted_after == "payload":
                self.limits[op.event] = limit
        self.principals: dict[str, P] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.observer: DispatchObserver = NoObserver()
        # At most this many events of one socket wait for their turn; past it an event
        # whose operation can answer E_RATE_LIMITED is refused at once (bounded memory
        # against a client that never waits for its acks). None: no bound.
        self.max_waiting: int | None = None
        self.overflow_retry_ms = 1000
        self.overflowed = 0
        self._waiting: dict[str, int] = {}
        sio.on("connect", self._connect)
        sio.on("disconnect", self._disconnect)
        for op in self.operations:
            sio.on(op.event, self._observed(op.event, self._handler_for(op)))

    async def _connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> None:
        done = self.observer.event_started(sid, CONNECT)
        code: str | None = "E_INTERNAL"
        try:
            await self._accept(sid, environ)
            code = None
        except socketio.exceptions.ConnectionRefusedError as refused:
            code = str(refused.error_args.get("message", code))
            raise
        finally:
            done(code)

    async def _accept(self, sid: str, environ: Mapping[str, Any]) -> None:
        try:
            principal = await self.handlers.authenticate(SocketId(sid), environ)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("authenticating socket %s failed", sid)
            raise socketio.exceptions.ConnectionRefusedError("E_INTERNAL") from None
        if principal is None:
            raise socketio.exceptions.ConnectionRefusedError("E_UNAUTHORIZED")
        self.principals[sid] = principal
        self._locks[sid] = asyncio.Lock()
        self.observer.connected(sid)
        await self._run_hook(self.handlers.on_connected, sid, "connect")

    async def _disconnect(self, sid: str, reason: Any = None) -> None:
        lock = self._locks.get(sid)
        if lock is None:
            return
        done = self.observer.event_started(sid, DISCONNECT)
        try:
            async with lock:
                await self._run_hook(self.handlers.on_disconnected, sid, "disconnect")
                self.principals.pop(sid, None)
                self._locks.pop(sid, None)
        finally:
            self.observer.disconnected(sid)
            done(None)

    async def _run_hook(
        self, hook: Callable[[Context[P]], Awaitable[None]], sid: str, event: str
    ) -> None:
        principal = self.principals.get(sid)
        if principal is None:
            return
        try:
            await hook(Context(SocketId(sid), principal, event))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s hook failed for socket %s", event, sid)

    def _observed(
        self, event: str, handle: Callable[..., Awaitable[Any]]
    ) -> Callable[..., Awaitable[Any]]:
        """`handle`, told to the observer from the event's arrival to its ack."""

        async def observed(sid: str, *args: Any) -> Any:
            if sid not in self._locks:  # not an accepted socket: ignored, not observed
                return await handle(sid, *args)
            done = self.observer.event_started(sid, event)
            code: str | None = "E_INTERNAL"  # unless it is answered
            try:
                ack = await handle(sid, *args)
                code = _failed_code(ack)
                return ack
            finally:
                done(code)

        observed.__name__ = handle.__name__
        return observed

    def _handler_for(self, op: Operation) -> Callable[..., Awaitable[Any]]:
        async def handle(sid: str, *args: Any) -> Any:
            lock = self._locks.get(sid)
            if lock is None:
                return None
            received = time.monotonic()
            waiting = self._waiting.get(sid, 0)
            if (
                self.max_waiting is not None
                and waiting >= self.max_waiting
                and RATE_LIMITED in op.errors
            ):
                # Refused unhandled, so it changes nothing: the effects keep their order.
                self.overflowed += 1
                error = ContractError(
                    f"{waiting} events of this socket are waiting, retry later",
                    code=RATE_LIMITED,
                    extra={"retryAfterMs": self.overflow_retry_ms},
                )
                return await self._fail(op, sid, error)
            self._waiting[sid] = waiting + 1
            try:
                # One event at a time per socket, in arrival order (asyncio.Lock is FIFO).
                async with lock:
                    return await self.dispatch(op, sid, args, received=received)
            finally:
                left = self._waiting[sid] - 1
                if left:
                    self._waiting[sid] = left
                else:
                    del self._waiting[sid]

        handle.__name__ = f"handle_{op.method}"
        return handle

    async def dispatch(
        self, op: Operation, sid: str, args: tuple[Any, ...], *, received: float = 0.0
    ) -> Any:
        """Handle one event: returns the ack (Socket.IO sends it if the client asked).

        `received` is when it arrived (`Context.received`; 0 when unknown).
        """
        principal = self.principals.get(sid)
        if principal is None:
            return None
        if len(args) != 1:
            problems = [{"loc": [], "msg": f"expected one payload argument, got {len(args)}"}]
        else:
            problems = self.registry.problems(op.event, args[0])
        if problems:
            error = ContractError(
                f"invalid {op.event} payload", code="E_VALIDATION", extra={"details": problems}
            )
            return await self._fail(op, sid, error)
        try:
            payload = op.model.model_validate(args[0])
            refusal = await self._over_limit(op, principal, args[0])
            if refusal is not None:
                return await self._fail(op, sid, refusal)
            result = await getattr(self.handlers, op.method)(
                Context(SocketId(sid), principal, op.event, received), payload
            )
        except asyncio.CancelledError:
            raise
        except pydantic.ValidationError as exc:
            details = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            error = ContractError(
                f"invalid {op.event} payload", code="E_VALIDATION", extra={"details": details}
            )
            return await self._fail(op, sid, error)
        except ContractError as exc:
            if exc.code not in op.errors:
                log.error("%s raised %s, which the spec does not list for it", op.event, exc.code)
                self.emitter.rejected[f"code:{exc.code}"] += 1
                exc = ContractError("internal error", code="E_INTERNAL")
            return await self._fail(op, sid, exc)
        except Exception:
            log.exception("handler of %s failed for socket %s", op.event, sid)
            return await self._fail(op, sid, ContractError("internal error", code="E_INTERNAL"))
        ack = dump(result)
        try:
            accepted = self.emitter.accept(op.reply_key, ack)
        except EmitRejected:
            accepted = False
        if not accepted:
            return await self._fail(op, sid, ContractError("internal error", code="E_INTERNAL"))
        return ack

    async def _over_limit(
        self, op: Operation, principal: P, payload: Mapping[str, Any]
    ) -> ContractError | None:
        """The refusal of an event past its operation's limit, or None (it was counted)."""
        limit = self.limits.get(op.event)
        if limit is None or self.limiter is None:
            return None
        key = limit.key(self.handlers.rate_subject(principal), payload)
        wait = await self.limiter.acquire(limit, key)
        if wait is None:
            return None
        retry_ms = math.ceil(max(0.0, wait) * 1000)
        return ContractError(
            f"too many {op.event}, retry in {wait:.1f} s",
            code="E_RATE_LIMITED",
            extra={"retryAfterMs": retry_ms},
        )

    async def _fail(self, op: Operation, sid: str, error: ContractError) -> dict[str, Any]:
        await self.emitter.send_error(SocketId(sid), error, event=op.event)
        ack: dict[str, Any] = {"ok": False, "code": error.code, "message": error.message[:MAX_TEXT]}
        ack.update(error.extra)
        return ack if self.emitter.accept(op.reply_key, ack) else {}


def _failed_code(ack: Any) -> str | None:
    """None for an ok ack (or none), else the failed ack's code."""
    if isinstance(ack, dict) and ack.get("ok") is False:
        code = ack.get("code")
        return code if isinstance(code, str) else "E_INTERNAL"
    return None


def _implemented(handlers: object, method: str) -> bool:
    impl = getattr(type(handlers), method, None)
    return callable(impl) and not getattr(impl, "__isabstractmethod__", False)
