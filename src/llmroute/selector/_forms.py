"""The four execute methods of :class:`ServiceSelector`, thin wrappers that gather their
keyword arguments into one :class:`RouteOptions` and run the matching form."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from ..affinity import SessionID
from ..config import Provider, Rule, Service
from ..execute import ExecuteHooks, RetryPolicy
from ..failures import Failure
from ..usage import Usage
from ._execute import (
    Pair,
    RouteOptions,
    UsageReader,
    run_aexecute,
    run_aexecute_stream,
    run_execute,
    run_execute_stream,
)
from ._result import SelectionResult
from ._routed import RoutedAsyncStream, RoutedResult, RoutedStream

if TYPE_CHECKING:
    from ._selector import ServiceSelector

T = TypeVar("T")


def execute(
    self: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], T],
    *,
    session_id: SessionID | str | None = None,
    headers: Mapping[str, str] | None = None,
    client_ip: str | None = None,
    scenario: str | None = None,
    usage: UsageReader | None = Usage.of,
    exempt: Collection[str] = (),
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[Pair] | None = None,
    retry: RetryPolicy | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], Any] | None = None,
) -> RoutedResult[T]:
    """Select a service for ``request`` (one state read), then call ``fn(service, provider)``
    on it and, if it fails, on its fallbacks (the ``fallback`` strategy of
    :func:`llmroute.execute`; a fallback unhealthy at the read is passed over, the last one is
    always tried).

    Every attempt is written back as one outcome: latency, tokens (read from the response by
    ``usage``, ``Usage.of`` by default, which understands OpenAI and Anthropic responses),
    health, the rule's cursor and the session's pin (pinned to the service that served,
    released when its service fails). In-flight counts (for ``least_busy``) are kept.
    ``exempt`` names services (ids) whose failures never count against their health;
    ``hooks`` (an :class:`ExecuteHooks` over ``(service, provider)`` pairs) hear of every
    attempt. ``retry`` (a :class:`RetryPolicy`), ``deadline`` (seconds on the selector's
    clock) and ``sleep`` (the waits; ``asleep`` in the async forms) work as in
    :func:`llmroute.execute`, under the selector's ``retry_budget``; with a policy a rule with
    one service is retried on it. Returns a :class:`RoutedResult`: the ``response``, the
    serving ``service`` and its ``provider``, the ``selection`` and the attempts. Raises what
    :meth:`select` and :func:`llmroute.execute` raise. ``rule=None`` with ``scenario=``
    finds the rule by scenario, as :meth:`select` does.
    """
    opts = RouteOptions(
        session_id=session_id,
        headers=headers,
        client_ip=client_ip,
        usage=usage,
        exempt=exempt,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        retry=retry,
        deadline=deadline,
        scenario=scenario,
        sleep=sleep,
    )
    return run_execute(self, rule, request, fn, opts)


async def aexecute(
    self: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], Awaitable[T]],
    *,
    session_id: SessionID | str | None = None,
    headers: Mapping[str, str] | None = None,
    client_ip: str | None = None,
    scenario: str | None = None,
    usage: UsageReader | None = Usage.of,
    exempt: Collection[str] = (),
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[Pair] | None = None,
    retry: RetryPolicy | None = None,
    deadline: float | None = None,
    asleep: Callable[[float], Awaitable[Any]] | None = None,
    hedge_after: float | None = None,
) -> RoutedResult[T]:
    """:meth:`execute` for an async ``fn``; the state read and writes are awaited.

    ``hedge_after`` (seconds, opt-in) races the next fallback against a call that has not
    returned by then, as in :func:`llmroute.aexecute`; the loser is cancelled and written as
    a cancellation (health-neutral, its in-flight count released); ``hedges`` on the result.
    """
    opts = RouteOptions(
        session_id=session_id,
        headers=headers,
        client_ip=client_ip,
        usage=usage,
        exempt=exempt,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        retry=retry,
        deadline=deadline,
        scenario=scenario,
        sleep=asleep,
        hedge_after=hedge_after,
    )
    return await run_aexecute(self, rule, request, fn, opts)


def execute_stream(
    self: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], Iterable[T]],
    *,
    session_id: SessionID | str | None = None,
    headers: Mapping[str, str] | None = None,
    client_ip: str | None = None,
    scenario: str | None = None,
    usage: UsageReader | None = Usage.of,
    exempt: Collection[str] = (),
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[Pair] | None = None,
    retry: RetryPolicy | None = None,
    deadline: float | None = None,
    sleep: Callable[[float], Any] | None = None,
    first_chunk_timeout: float | None = None,
    stall_timeout: float | None = None,
    commits: Callable[[Any], bool] | None = None,
) -> RoutedStream[T]:
    """:meth:`execute` for a streamed call: ``fn`` returns an iterable of chunks.

    Fails over until the stream commits (its first chunk with content, or what
    ``commits`` says); then the stream is committed (see :func:`llmroute.execute_stream`,
    also for ``first_chunk_timeout`` and ``stall_timeout``, which run a sync stream's reads
    on a worker thread). The time to the committing chunk is recorded as TTFT, the whole
    stream's duration as latency, and the usage the chunks report (OpenAI's final chunk with
    ``stream_options={"include_usage": True}``, Anthropic's message events) as tokens.
    """
    opts = RouteOptions(
        session_id=session_id,
        headers=headers,
        client_ip=client_ip,
        usage=usage,
        exempt=exempt,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        retry=retry,
        deadline=deadline,
        scenario=scenario,
        sleep=sleep,
        first_chunk_timeout=first_chunk_timeout,
        stall_timeout=stall_timeout,
        commits=commits,
    )
    return run_execute_stream(self, rule, request, fn, opts)


async def aexecute_stream(
    self: ServiceSelector,
    rule: Rule | str | None,
    request: Any,
    fn: Callable[[Service, Provider | None], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    *,
    session_id: SessionID | str | None = None,
    headers: Mapping[str, str] | None = None,
    client_ip: str | None = None,
    scenario: str | None = None,
    usage: UsageReader | None = Usage.of,
    exempt: Collection[str] = (),
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[Pair] | None = None,
    first_chunk_timeout: float | None = None,
    stall_timeout: float | None = None,
    commits: Callable[[Any], bool] | None = None,
    hedge_after: float | None = None,
    retry: RetryPolicy | None = None,
    deadline: float | None = None,
    asleep: Callable[[float], Awaitable[Any]] | None = None,
) -> RoutedAsyncStream[T]:
    """:meth:`execute_stream` for async streams (``fn`` returns an async iterable or an
    awaitable of one), with ``first_chunk_timeout``, ``stall_timeout``, ``commits`` and
    ``hedge_after`` as in :func:`llmroute.aexecute_stream` (a hedge that loses is written as
    a cancellation: health-neutral, its in-flight count released); ``retry``, ``deadline``
    and ``asleep`` as in :meth:`aexecute`."""
    opts = RouteOptions(
        session_id=session_id,
        headers=headers,
        client_ip=client_ip,
        usage=usage,
        exempt=exempt,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        retry=retry,
        deadline=deadline,
        scenario=scenario,
        sleep=asleep,
        first_chunk_timeout=first_chunk_timeout,
        stall_timeout=stall_timeout,
        commits=commits,
        hedge_after=hedge_after,
    )
    return await run_aexecute_stream(self, rule, request, fn, opts)


def record(
    self: ServiceSelector,
    result: SelectionResult,
    *,
    service: Service | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    error: BaseException | Failure | int | None = None,
) -> Failure | None:
    """Feed a request's outcome back in one state write: stats, health, the rule's cursor
    and the session's pin.

    ``service`` is the one that served (default ``result.service``; pass the fallback
    that served when you failed over yourself). On success: usage, latency, time to
    first token and output speed go to stats; health hears of the success; the session
    is pinned to the service that served. On ``error`` (an exception, a
    :class:`Failure` or a status code) the error is classified once; health hears of
    it, and a failure of the service (not of the request) releases the session's pin.
    Returns the classification (None on success).
    """
    usage = Usage(input_tokens, output_tokens, cached_tokens) if error is None else None
    outcome, failure = self.outcome(
        result, service, usage=usage, latency_ms=latency_ms, ttft_ms=ttft_ms, error=error
    )
    self.write(outcome)
    return failure


async def arecord(
    self: ServiceSelector,
    result: SelectionResult,
    *,
    service: Service | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_tokens: int = 0,
    latency_ms: float | None = None,
    ttft_ms: float | None = None,
    error: BaseException | Failure | int | None = None,
) -> Failure | None:
    """:meth:`record` for async callers: the state write is awaited."""
    usage = Usage(input_tokens, output_tokens, cached_tokens) if error is None else None
    outcome, failure = self.outcome(
        result, service, usage=usage, latency_ms=latency_ms, ttft_ms=ttft_ms, error=error
    )
    await self.awrite(outcome)
    return failure
