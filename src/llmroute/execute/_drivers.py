"""``execute()`` and ``aexecute()``: the drivers of the attempt loop for a plain call.

They only call ``fn`` (with or without ``await``); :class:`AttemptLoop` decides the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import Any, TypeVar

from typing_extensions import Unpack

from ..typing import CooldownTracker
from ._calls import check_awaitable, check_sync
from ._chunks import check_seconds
from ._hedge import race_calls
from ._io import await_within
from ._limits import apause, pause
from ._loop import AttemptLoop
from ._options import AsyncRetryArgs, ExecuteOptions, SyncRetryArgs
from ._types import ExecuteHooks, ExecuteResult, RoundRobinCounter, Strategy

__all__ = ["aexecute", "execute"]

T = TypeVar("T")
P = TypeVar("P")


def execute(
    providers: Iterable[P],
    fn: Callable[[P], T],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    **retrying: Unpack[SyncRetryArgs],
) -> ExecuteResult[T]:
    """Call ``fn(provider)`` on the providers as ``strategy`` says; return the first success.

    ``providers``: a list of plain strings, of objects with a ``name`` (a :class:`Provider`, a
    :class:`Service`, whose name is its service id), or of anything ``key=`` names.
    ``strategy`` (a :class:`Strategy` or its name; an unknown one raises ``ConfigError``):

    - ``"fallback"``: in order until one succeeds. A provider cooling down
      (``cooldown.is_available(name)`` false) is skipped, except the last one, which is
      always tried as the last resort. ``fallback_on(error) -> bool`` decides whether an
      error moves on (default :func:`default_fallback_on`: all but a plain bad request).
    - ``"primary_only"``: the first provider only, called even when cooling down.
    - ``"round_robin"``: one call, of the next provider in the rotation of ``counter`` (a
      shared :class:`RoundRobinCounter`, required) not cooling down; it fails if all are.

    ``cooldown``: a :class:`HealthMonitor` or any ``CooldownTracker``, kept as long as your app
    runs (one per app, or the selector's); None (the default) tracks nothing. A failure is
    recorded with ``cooldown.record_failure(name, failure)`` unless the provider's name is in
    ``exempt`` or the failure is the request's own (bad request, context length, content
    policy); a success calls ``cooldown.report_success(name)`` when the tracker has it.

    Returns an :class:`ExecuteResult`. Raises :class:`NoProvidersError` for an empty list and
    :class:`AllProvidersFailedError` (every attempt inside, the last error as ``__cause__``)
    when no provider served the call. A cancellation (``KeyboardInterrupt``, ``SystemExit``,
    anything not an ``Exception``) propagates at once: nothing recorded, nothing else tried.
    An exception of your own code (``TypeError``, ``AttributeError``, ``NameError``,
    ``ImportError``, ``AssertionError``, ``NotImplementedError``) propagates unchanged, and an
    ``fn`` that returns an awaitable is a ``TypeError`` (use :func:`aexecute`). ``logger``
    gets an INFO record per failed attempt; ``hooks`` hear of every attempt (a hook that
    raises is logged and ignored).

    ``retry`` (a :class:`RetryPolicy`), ``deadline`` (seconds on ``clock``), ``budget`` (a
    :class:`RetryBudget`) and ``sleep`` (the waits): see "Retries" in :mod:`llmroute.execute`.
    """
    options: ExecuteOptions[P] = ExecuteOptions.of_call(
        strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key, retrying
    )
    return _drive(AttemptLoop(providers, options), fn)


def _drive(loop: AttemptLoop[P], fn: Callable[[P], T]) -> ExecuteResult[T]:
    """Call ``fn`` on each provider the loop hands out until one serves."""
    while True:
        provider = loop.start_next()
        try:
            response = fn(provider)
            check_sync(response)
        except BaseException as exc:
            wait = loop.failed(exc)
            if wait > 0:
                pause(loop, wait)
        else:
            return loop.succeeded(response)


async def aexecute(
    providers: Iterable[P],
    fn: Callable[[P], Awaitable[T]],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    hedge_after: float | None = None,
    **retrying: Unpack[AsyncRetryArgs],
) -> ExecuteResult[T]:
    """:func:`execute` for an async ``fn``: ``await fn(provider)`` on each provider tried.

    Everything else is the same; the waits go through ``asleep`` (default
    ``asyncio.sleep``), and with a ``deadline`` an attempt still running when it comes is
    cancelled (recorded as a ``TimeoutError``) and the call stops. Cancelling the task
    (``asyncio.CancelledError``) while a provider call is running propagates at once: no
    failure is recorded against that provider and no further provider is tried.
    ``hedge_after`` (seconds, opt-in): when a call has not returned that long after it
    started, the next provider is called as well (at most two at once); the first response
    wins, the other call is cancelled and recorded as cancelled (health-neutral); ``hedges``
    on the result counts the extra calls. While hedging, a retry's backoff is not waited.
    """
    options: ExecuteOptions[P] = ExecuteOptions.of_call(
        strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key, retrying
    )
    loop = AttemptLoop(providers, options)
    hedge = check_seconds("hedge_after", hedge_after)
    if hedge is not None:
        return await race_calls(loop, fn, hedge)
    return await _adrive(loop, fn)


async def _adrive(loop: AttemptLoop[P], fn: Callable[[P], Awaitable[T]]) -> ExecuteResult[T]:
    """Await ``fn`` on each provider the loop hands out until one serves."""
    while True:
        provider = loop.start_next()
        try:
            made = fn(provider)
            check_awaitable(made)
            response = await await_within(made, loop.time_left(), loop.name)
        except BaseException as exc:
            wait = loop.failed(exc)
            if wait > 0:
                await apause(loop, wait)
        else:
            return loop.succeeded(response)
