"""``execute_stream()`` and ``aexecute_stream()``: fallback for streamed responses.

A stream fails over until it *commits*: until a chunk with content arrives (``commits=``,
:func:`default_commits` by default). The drivers read that far before they return, holding
the chunks before it (role-only deltas, keep-alives, ``message_start``...) to deliver them
first; a provider that errors, or ends the call, or stays silent for ``first_chunk_timeout``
before the commit is replaced by the next. From the commit on, a later error, or a gap longer
than ``stall_timeout``, raises :class:`StreamInterruptedError`. ``hedge_after`` (async)
races the next candidate against a slow first one.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Collection, Iterable
from time import monotonic
from typing import Any, TypeVar

from typing_extensions import Unpack

from ..typing import CooldownTracker
from ._chunks import StreamLimits
from ._hedge import race
from ._io import aclose_stream, close_stream, open_stream, open_sync, opened_pair, within
from ._limits import apause, pause
from ._loop import AttemptLoop
from ._options import AsyncRetryArgs, ExecuteOptions, SyncRetryArgs
from ._results import AsyncStreamResult, Opened, StreamResult
from ._types import ExecuteHooks, RoundRobinCounter, Strategy
from ._worker import Expired, Worker, abandon_close

__all__ = ["aexecute_stream", "execute_stream"]

T = TypeVar("T")
P = TypeVar("P")


def execute_stream(
    providers: Iterable[P],
    fn: Callable[[P], Iterable[T]],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    first_chunk_timeout: float | None = None,
    stall_timeout: float | None = None,
    commits: Callable[[Any], bool] | None = None,
    **retrying: Unpack[SyncRetryArgs],
) -> StreamResult[T]:
    """:func:`execute` for a streamed call: ``fn(provider)`` returns an iterable of chunks.

    Fails over (with the same strategies, cooldown and ``fallback_on`` as :func:`execute`)
    while the call, or reading up to the chunk that commits the stream, raises. Returns once
    the stream committed, as a :class:`StreamResult` that yields the chunks read so far and
    the rest; a later error raises :class:`StreamInterruptedError` (recorded against the
    provider, no fail-over). ``commits(chunk) -> bool`` says which chunk commits (default
    :func:`default_commits`: the first with content; role-only deltas, empty deltas and
    keep-alive events do not). A stream that ends before committing counts as a success.

    ``first_chunk_timeout`` (seconds) bounds the call plus the reads up to the commit; a
    provider that takes longer is abandoned (its stream closed, a ``TimeoutError``
    recorded) and the next tried. ``stall_timeout`` bounds each gap between chunks after the
    commit; a longer one raises :class:`StreamInterruptedError` from a ``TimeoutError``.
    A sync iterator that blocks cannot be interrupted, so with either limit the stream's
    blocking steps run on a worker thread (one per attempt, in a copy of your contextvars)
    while your thread waits at most so long: the call and the reads up to the commit
    always, and every later read when ``stall_timeout`` is set (without it, the reads go
    back to your thread). That costs a thread start per attempt and, per chunk read on it,
    two queue hand-offs. An abandoned stream is closed at once (an SDK stream's ``close()``
    ends the blocked read) and again on the worker when its read returns. Without either
    limit nothing runs on another thread. The attempt ends, for the tracker and ``hooks``,
    when the stream is exhausted, closed, or fails. ``retry``, ``deadline``, ``budget``
    and ``sleep`` bound the attempts before the commit as in :func:`execute`.
    """
    limits = StreamLimits.build(first_chunk_timeout, stall_timeout, commits)
    options: ExecuteOptions[P] = ExecuteOptions.of_call(
        strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key, retrying
    )
    loop = AttemptLoop(providers, options)
    while True:
        provider = loop.start_next()
        try:
            opened = _open(fn, provider, limits, loop.name, loop.logger)
        except BaseException as exc:
            wait = loop.failed(exc)
            if wait > 0:
                pause(loop, wait)
        else:
            return StreamResult(loop, opened, limits.stall_timeout)


def _open(
    fn: Callable[[P], Iterable[T]],
    provider: P,
    limits: StreamLimits,
    name: str,
    logger: logging.Logger,
) -> Opened:
    """Open a sync stream up to its commit (on a worker thread when a limit is set); what
    it got to open is closed when that fails."""
    opened: list[Any] = []
    worker = Worker(name) if limits.threaded else None
    try:
        if worker is None:
            held, ended = open_sync(fn, provider, opened, limits.commits)
        else:
            timeout = limits.first_chunk_timeout
            deadline = None if timeout is None else monotonic() + timeout
            try:
                held, ended = worker.run(
                    lambda: open_sync(fn, provider, opened, limits.commits), deadline
                )
            except Expired:
                raise TimeoutError(f"no chunk from provider {name} within {timeout:g}s") from None
    except BaseException:
        if worker is None:
            close_stream(*opened_pair(opened), logger)
        else:  # the list is read when each close runs: the worker may still be filling it
            worker.abandon(lambda: abandon_close(*opened_pair(opened), logger))
        raise
    iterator, source = opened_pair(opened)
    return Opened(source, iterator, held, ended, worker)


async def aexecute_stream(
    providers: Iterable[P],
    fn: Callable[[P], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    first_chunk_timeout: float | None = None,
    stall_timeout: float | None = None,
    commits: Callable[[Any], bool] | None = None,
    hedge_after: float | None = None,
    **retrying: Unpack[AsyncRetryArgs],
) -> AsyncStreamResult[T]:
    """:func:`execute_stream` for async streams: ``fn(provider)`` returns an async iterable
    (an async generator) or an awaitable of one (``client.chat.completions.create(...,
    stream=True)`` of an async SDK client).

    ``first_chunk_timeout`` (seconds, None for no limit) bounds the call plus the reads up
    to the commit, in the same task; a provider that takes longer is abandoned (its stream
    closed, a ``TimeoutError`` recorded) and the next one tried. ``stall_timeout`` bounds
    each wait for a chunk after the commit (``asyncio.timeout`` around ``__anext__``); a
    longer gap closes the stream and raises :class:`StreamInterruptedError`. ``commits`` as
    in :func:`execute_stream`.

    ``hedge_after`` (seconds, opt-in): when the attempt in flight has not committed that
    long after it started, the next candidate is started as well (at most two run at once);
    the first to commit wins, and the other is cancelled, its stream closed, and recorded
    as cancelled (``hooks.attempt_failed`` with kind ``CANCELLED``: health-neutral). An
    attempt that fails meanwhile is recorded as usual and the race goes on. ``hedges`` on
    the result counts the extra attempts started. Returns an :class:`AsyncStreamResult`.
    A ``deadline`` cuts ``first_chunk_timeout`` to the time left; the waits go through
    ``asleep``; while hedging, a retry's backoff is not waited.
    """
    limits = StreamLimits.build(first_chunk_timeout, stall_timeout, commits, hedge_after)
    options: ExecuteOptions[P] = ExecuteOptions.of_call(
        strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key, retrying
    )
    loop = AttemptLoop(providers, options)
    log = loop.logger
    if limits.hedge_after is not None:
        return await _hedged(fn, loop, limits, limits.hedge_after)
    while True:
        provider = loop.start_next()
        try:
            opened = await _aopen(fn, provider, limits, loop.name, log, loop.time_left())
        except BaseException as exc:
            wait = loop.failed(exc)
            if wait > 0:
                await apause(loop, wait)
        else:
            return AsyncStreamResult(loop, opened, limits.stall_timeout)


async def _hedged(
    fn: Callable[[P], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    loop: AttemptLoop[P],
    limits: StreamLimits,
    hedge_after: float,
) -> AsyncStreamResult[T]:
    """``aexecute_stream`` with hedging: the attempts race to their commit."""
    log = loop.logger

    async def start(provider: P, name: str) -> Opened:
        return await _aopen(fn, provider, limits, name, log, loop.time_left())

    async def discard(opened: Opened) -> None:
        await aclose_stream(opened.iterator, opened.source, log)

    won, hedges = await race(loop, start, hedge_after, discard)
    return AsyncStreamResult(loop, won, limits.stall_timeout, hedges)


async def _aopen(
    fn: Callable[[P], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    provider: P,
    limits: StreamLimits,
    name: str,
    logger: logging.Logger,
    left: float | None = None,
) -> Opened:
    """Open an async stream up to its commit, within ``first_chunk_timeout`` (cut to
    ``left``, the time before the deadline); what it got to open is closed when that fails
    or is cancelled."""
    opened: list[Any] = []
    timeout = _sooner(limits.first_chunk_timeout, left)
    try:
        if timeout is None:
            held, ended = await open_stream(fn, provider, opened, limits.commits)
        else:
            got, expired = await within(open_stream(fn, provider, opened, limits.commits), timeout)
            if expired:
                raise TimeoutError(f"no chunk from provider {name} within {timeout:g}s")
            held, ended = got
    except BaseException:
        await aclose_stream(*opened_pair(opened), logger)
        raise
    iterator, source = opened_pair(opened)
    return Opened(source, iterator, held, ended)


def _sooner(timeout: float | None, left: float | None) -> float | None:
    """The first-chunk timeout, cut to the time left before the deadline."""
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)
