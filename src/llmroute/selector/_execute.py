"""The selector's execute forms: one state read, then your call over the chosen service and
its fallbacks through the generic :func:`llmroute.execute` loop, each attempt written back as
one outcome (stats, health, cursor and pin together)."""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncIterable,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
)
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ..affinity import SessionID
from ..config import Provider, Rule, Service
from ..execute import (
    ExecuteHooks,
    RetryPolicy,
    aexecute,
    aexecute_stream,
    async_iterable,
    check_iterable,
    default_logger,
    execute,
    execute_stream,
)
from ..failures import Failure
from ..state import Outcome, StateSnapshot
from ..usage import Usage
from ._plan import RulePlan
from ._reroute import reroute_order
from ._result import SelectionResult
from ._routed import RoutedAsyncStream, RoutedResult, RoutedStream
from ._taps import AsyncTap, SyncTap, Tap, UsageReader

__all__ = [
    "Pair",
    "RouteOptions",
    "UsageReader",
    "run_aexecute",
    "run_aexecute_stream",
    "run_execute",
    "run_execute_stream",
]

if TYPE_CHECKING:
    from ._selector import ServiceSelector

T = TypeVar("T")
Pair = tuple[Service, Provider | None]


def _pair_name(pair: Pair) -> str:
    return pair[0].name


class _Recorder(ExecuteHooks[Pair]):
    """Writes each attempt of a selector-driven call to the state store as one outcome, keeps
    the in-flight counts, and passes every event on to the caller's own hooks.

    The sync forms write each outcome as it happens. The async forms queue them and
    :meth:`flush` awaits their writes when the call (or the stream) ends: nothing inside one
    call reads the store again, so nothing is lost by waiting, and no sync store call runs on
    the event loop.
    """

    def __init__(
        self,
        selector: ServiceSelector,
        selection: SelectionResult,
        usage: UsageReader | None,
        exempt: Collection[str],
        hooks: ExecuteHooks[Pair] | None,
        deferred: bool,
    ) -> None:
        self.selector = selector
        self.selection = selection
        self.usage = usage
        self.exempt = exempt
        self.hooks = hooks
        self.ttft: dict[str, float] = {}  # per attempt (by name): hedging runs two at once
        self.taps: dict[str, Tap] = {}
        self.deferred = deferred
        self.pending: list[Outcome] = []
        self.cost: float | None = None  # of the one attempt that served

    def attempt_started(self, provider: Pair, name: str) -> None:
        self.ttft.pop(name, None)
        self.taps.pop(name, None)
        self.selector.started(provider[0])
        if self.hooks is not None:
            self.hooks.attempt_started(provider, name)

    def first_chunk(self, provider: Pair, name: str, time_to_first_chunk: float) -> None:
        self.ttft[name] = time_to_first_chunk
        if self.hooks is not None:
            self.hooks.first_chunk(provider, name, time_to_first_chunk)

    def provider_skipped(self, provider: Pair, name: str, cooldown_remaining: float) -> None:
        if self.hooks is not None:
            self.hooks.provider_skipped(provider, name, cooldown_remaining)

    def attempt_succeeded(self, provider: Pair, name: str, response: Any, latency: float) -> None:
        service = provider[0]
        self.selector.finished(service)
        tap = self.taps.get(name)
        if tap is not None:
            usage = tap.usage
        else:
            usage = self.usage(response) if self.usage is not None else None
        ttft = self.ttft.get(name)
        outcome, _ = self.selector.outcome(
            self.selection,
            service,
            usage=usage,
            latency_ms=latency * 1000.0,
            ttft_ms=None if ttft is None else ttft * 1000.0,
        )
        self.cost = outcome.cost
        self._write(outcome)
        if self.hooks is not None:
            self.hooks.attempt_succeeded(provider, name, response, latency)

    def attempt_failed(
        self, provider: Pair, name: str, error: BaseException, failure: Failure, latency: float
    ) -> None:
        service = provider[0]
        self.selector.finished(service)
        outcome, _ = self.selector.outcome(self.selection, service, error=failure)
        if outcome.kind == "failure" and service.service_id in self.exempt:
            outcome = outcome._replace(failure=None)  # exempt: the pin moves, health does not
        self._write(outcome)
        if self.hooks is not None:
            self.hooks.attempt_failed(provider, name, error, failure, latency)

    def _write(self, outcome: Outcome) -> None:
        if self.deferred:
            self.pending.append(outcome)
        else:
            self.selector.write(outcome)

    async def flush(self) -> None:
        """Await the writes of the queued outcomes, in order (a failing write is logged)."""
        pending, self.pending = self.pending, []
        for outcome in pending:
            await self.selector.awrite(outcome)


class _SnapshotCooldown:
    """The selection's snapshot as ``execute()``'s cooldown tracker: a fallback that was
    unhealthy when the request was read is passed over (the last one is always tried).
    After a context-length or content-policy failure it reroutes the call's pending
    fallbacks (:func:`reroute_order`)."""

    def __init__(self, snapshot: StateSnapshot, clock: Callable[[], float], plan: RulePlan) -> None:
        self.snapshot = snapshot
        self.clock = clock
        self.plan = plan

    def reroute(self, name: str, failure: Failure, pending: list[str]) -> list[int] | None:
        return reroute_order(self.plan, name, failure, pending)

    def is_available(self, name: str) -> bool:
        return self.snapshot.healthy(name)

    def cooldown_remaining(self, name: str) -> float:
        state = self.snapshot.unhealthy.get(name)
        return 0.0 if state is None else max(0.0, state.unhealthy_until - self.clock())

    def record_failure(self, name: str, error: object) -> bool:
        return False  # the recorder writes the failure with the rest of the outcome


class RouteOptions(NamedTuple):
    """What the four execute forms of the selector share, besides the rule, request and fn;
    the stream limits and ``hedge_after`` are read by the forms that take them."""

    session_id: SessionID | str | None = None
    headers: Mapping[str, str] | None = None
    client_ip: str | None = None
    usage: UsageReader | None = Usage.of
    exempt: Collection[str] = ()
    fallback_on: Callable[[BaseException], bool] | None = None
    logger: logging.Logger | None = None
    hooks: ExecuteHooks[Pair] | None = None
    retry: RetryPolicy | None = None
    deadline: float | None = None
    sleep: Callable[[float], Any] | None = None  # time.sleep / asyncio.sleep by default
    first_chunk_timeout: float | None = None
    stall_timeout: float | None = None
    commits: Callable[[Any], bool] | None = None
    hedge_after: float | None = None
    scenario: str | None = None


def _limits(selector: ServiceSelector, opts: RouteOptions, sleeper: str) -> dict[str, Any]:
    """The retry keyword arguments that are set: policy, deadline (on the selector's clock),
    sleeper, the selector's retry budget."""
    limits: dict[str, Any] = {} if opts.retry is None else {"retry": opts.retry}
    if opts.deadline is not None:  # the clock only matters for a deadline
        limits.update(deadline=opts.deadline, clock=selector.clock)
    if selector.retry_budget is not None:
        limits["budget"] = selector.retry_budget
    return limits if opts.sleep is None else {**limits, sleeper: opts.sleep}


class _Call(NamedTuple):
    selection: SelectionResult
    pairs: tuple[Pair, ...]
    recorder: _Recorder
    cooldown: _SnapshotCooldown


def _call(
    selector: ServiceSelector,
    snapshot: StateSnapshot,
    prepared: Any,
    opts: RouteOptions,
    deferred: bool,
) -> _Call:
    plan, req, query = prepared
    selection = selector.decide(plan, req, snapshot, query.take_turn)
    pairs = plan.chain(selection.service, selection.scope, selection.unhealthy)
    recorder = _Recorder(selector, selection, opts.usage, opts.exempt, opts.hooks, deferred)
    return _Call(selection, pairs, recorder, _SnapshotCooldown(snapshot, selector.clock, plan))


def _prepare(
    selector: ServiceSelector, rule: Rule | str | None, request: Any, opts: RouteOptions
) -> Any:
    """The selection's plan, request and query, the read taking the round-robin turn."""
    return selector.prepare(
        rule,
        request,
        opts.session_id,
        opts.headers,
        opts.client_ip,
        take_turn=True,
        scenario=opts.scenario,
    )


def _begin(
    selector: ServiceSelector, rule: Rule | str | None, request: Any, opts: RouteOptions
) -> _Call:
    prepared = _prepare(selector, rule, request, opts)
    return _call(selector, selector.read(prepared[2]), prepared, opts, False)


async def _abegin(
    selector: ServiceSelector, rule: Rule | str | None, request: Any, opts: RouteOptions
) -> _Call:
    prepared = _prepare(selector, rule, request, opts)
    return _call(selector, await selector.aread(prepared[2]), prepared, opts, True)


def run_execute(
    selector: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], T],
    opts: RouteOptions,
) -> RoutedResult[T]:
    """The sync form: one read, the attempts, one outcome write per attempt."""
    call = _begin(selector, rule, request, opts)
    result = execute(
        call.pairs,
        lambda pair: fn(pair[0], pair[1]),
        cooldown=call.cooldown,
        fallback_on=opts.fallback_on,
        logger=opts.logger,
        hooks=call.recorder,
        key=_pair_name,
        **_limits(selector, opts, "sleep"),
    )
    return RoutedResult(result, call.selection, call.recorder.cost)


async def run_aexecute(
    selector: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], Awaitable[T]],
    opts: RouteOptions,
) -> RoutedResult[T]:
    """The async form: the read and the writes are awaited."""
    call = await _abegin(selector, rule, request, opts)
    try:
        result = await aexecute(
            call.pairs,
            lambda pair: fn(pair[0], pair[1]),
            cooldown=call.cooldown,
            fallback_on=opts.fallback_on,
            logger=opts.logger,
            hooks=call.recorder,
            key=_pair_name,
            hedge_after=opts.hedge_after,
            **_limits(selector, opts, "asleep"),
        )
    finally:
        await call.recorder.flush()
    return RoutedResult(result, call.selection, call.recorder.cost)


def run_execute_stream(
    selector: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], Iterable[T]],
    opts: RouteOptions,
) -> RoutedStream[T]:
    """The sync stream form."""
    call = _begin(selector, rule, request, opts)
    log = opts.logger if opts.logger is not None else default_logger
    recorder = call.recorder

    def open_tap(pair: Pair) -> Iterable[T]:
        made = fn(pair[0], pair[1])
        check_iterable(made)  # before the tap hides what fn returned (the async form awaits it)
        tap = SyncTap(made, opts.usage, log)
        recorder.taps[pair[0].name] = tap
        return tap

    stream = execute_stream(
        call.pairs,
        open_tap,
        cooldown=call.cooldown,
        fallback_on=opts.fallback_on,
        logger=opts.logger,
        hooks=recorder,
        key=_pair_name,
        first_chunk_timeout=opts.first_chunk_timeout,
        stall_timeout=opts.stall_timeout,
        commits=opts.commits,
        **_limits(selector, opts, "sleep"),
    )
    return RoutedStream(stream, call.selection)


async def run_aexecute_stream(
    selector: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    opts: RouteOptions,
) -> RoutedAsyncStream[T]:
    """The async stream form."""
    call = await _abegin(selector, rule, request, opts)
    log = opts.logger if opts.logger is not None else default_logger
    recorder = call.recorder

    async def open_tap(pair: Pair) -> AsyncIterable[T]:
        tap = AsyncTap(await async_iterable(fn(pair[0], pair[1])), opts.usage, log)
        recorder.taps[pair[0].name] = tap
        return tap

    try:
        stream = await aexecute_stream(
            call.pairs,
            open_tap,
            cooldown=call.cooldown,
            fallback_on=opts.fallback_on,
            logger=opts.logger,
            hooks=recorder,
            key=_pair_name,
            first_chunk_timeout=opts.first_chunk_timeout,
            stall_timeout=opts.stall_timeout,
            commits=opts.commits,
            hedge_after=opts.hedge_after,
            **_limits(selector, opts, "asleep"),
        )
    finally:
        await recorder.flush()  # the attempts that failed before the first chunk
    return RoutedAsyncStream(stream, call.selection, recorder.flush)
