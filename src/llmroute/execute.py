"""``execute()`` and ``aexecute()``: run your own provider call across providers with fallback.

You keep your SDK calls; llmroute decides which provider to call next and reports what
happened::

    health = HealthMonitor()          # one per app: it remembers who is cooling down

    result = execute(
        [primary, backup],            # Provider / Service objects, anything with .name, or str
        lambda p: clients[p.name].chat.completions.create(model=..., messages=...),
        cooldown=health,
    )
    result.response, result.provider, result.attempt_num

Each error is classified once (:func:`llmroute.classify_error`); that classification decides
whether the provider cools down (request-scoped errors never do) and, through
``fallback_on``, whether the next provider is tried. Streams: :func:`execute_stream` and
:func:`aexecute_stream`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from time import perf_counter
from typing import Any, TypeVar

from ._execute_core import Chain, default_fallback_on, notify_cancelled, report_success
from ._execute_stream import AsyncStreamResult, StreamResult, aexecute_stream, execute_stream
from ._execute_types import (
    Attempt,
    ExecuteHooks,
    ExecuteResult,
    RoundRobinCounter,
    SkippedProvider,
    Strategy,
)
from .typing import CooldownTracker

__all__ = [
    "AsyncStreamResult",
    "Attempt",
    "CooldownTracker",
    "ExecuteHooks",
    "ExecuteResult",
    "RoundRobinCounter",
    "SkippedProvider",
    "Strategy",
    "StreamResult",
    "aexecute",
    "aexecute_stream",
    "default_fallback_on",
    "execute",
    "execute_stream",
]

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
) -> ExecuteResult[T]:
    """Call ``fn(provider)`` on the providers as ``strategy`` says; return the first success.

    ``providers``: a list of objects with a ``name`` (a :class:`Provider`, a :class:`Service`,
    whose name is its service id, or your own), or plain strings, or anything with ``key=``
    giving its name. ``strategy`` (a :class:`Strategy` or its name; an unknown one raises
    ``ConfigError``):

    - ``"fallback"``: in order until one succeeds. A provider cooling down
      (``cooldown.is_available(name)`` false) is skipped, except the last one, which is
      always tried as the last resort. ``fallback_on(error) -> bool`` decides whether an
      error moves on (default :func:`default_fallback_on`: all but a plain bad request).
    - ``"primary_only"``: the first provider only, called even when cooling down.
    - ``"round_robin"``: one provider per call, the next in the rotation of ``counter`` (a
      :class:`RoundRobinCounter` you share between calls; required), skipping those cooling
      down; when all are, it fails at once without a call.

    ``cooldown``: a :class:`HealthMonitor` or any ``CooldownTracker``, kept for as long as your
    app runs (one per app, or the selector's). None (the default) tracks nothing: no provider
    is ever skipped. A failure is recorded with ``cooldown.record_failure(name, failure)``
    (the classified :class:`Failure`) unless the provider's name is in ``exempt`` or the
    failure is the request's own (bad request, context length, content policy); a success
    calls ``cooldown.report_success(name)`` when the tracker has it.

    Returns an :class:`ExecuteResult`. Raises :class:`NoProvidersError` for an empty list and
    :class:`AllProvidersFailedError` (every attempt inside, the last error as ``__cause__``)
    when no provider served the call, whatever the strategy. A cancellation
    (``KeyboardInterrupt``, ``SystemExit``, anything not an ``Exception``) propagates at once:
    nothing is recorded and nothing else is tried. One record per failed attempt goes to
    ``logger`` (default ``logging.getLogger("llmroute.execute")``) at INFO, per skip at DEBUG;
    none on success. ``hooks`` (:class:`ExecuteHooks`) hear about every attempt.
    """
    # Fast path: the default strategy and a first provider that is available and succeeds
    # cost two clock reads and the result; anything else goes through a Chain.
    fast = _fast_first(providers, strategy, cooldown, key)
    if fast is None:
        chain: Chain[P] = Chain(
            providers, strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key
        )
    else:
        first, name, n = fast
        if hooks is not None:
            hooks.attempt_started(first, name)
        start = perf_counter()
        try:
            response = fn(first)
        except BaseException as exc:
            options = (strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key)
            resumed = _after_first_failure(exc, first, name, start, providers, options)
            if resumed is None:
                raise
            chain = resumed
        else:
            return _first_served(first, name, n, response, perf_counter() - start, cooldown, hooks)
    while True:
        provider = chain.begin()
        try:
            response = fn(provider)
        except BaseException as exc:
            if chain.failed(exc):
                raise
        else:
            return chain.succeeded(response)


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
) -> ExecuteResult[T]:
    """:func:`execute` for an async ``fn``: ``await fn(provider)`` on each provider tried.

    Everything else is the same. Cancelling the task (``asyncio.CancelledError``) while a
    provider call is running propagates at once: no failure is recorded against that
    provider and no further provider is tried.
    """
    fast = _fast_first(providers, strategy, cooldown, key)
    if fast is None:
        chain: Chain[P] = Chain(
            providers, strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key
        )
    else:
        first, name, n = fast
        if hooks is not None:
            hooks.attempt_started(first, name)
        start = perf_counter()
        try:
            response = await fn(first)
        except BaseException as exc:
            options = (strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key)
            resumed = _after_first_failure(exc, first, name, start, providers, options)
            if resumed is None:
                raise
            chain = resumed
        else:
            return _first_served(first, name, n, response, perf_counter() - start, cooldown, hooks)
    while True:
        provider = chain.begin()
        try:
            response = await fn(provider)
        except BaseException as exc:
            if chain.failed(exc):
                raise
        else:
            return chain.succeeded(response)


def _fast_first(
    providers: Iterable[P],
    strategy: Strategy | str,
    cooldown: CooldownTracker | None,
    key: Callable[[P], str] | None,
) -> tuple[P, str, int] | None:
    """(first provider, its name, list length) when the fast path applies: the default
    strategy, a list or tuple, and a first provider that has a name and is available (or is
    the only one). None sends the call through a :class:`Chain`, which validates it all."""
    if strategy != "fallback":
        return None
    cls = providers.__class__
    if cls is not list and cls is not tuple:
        return None
    items: Any = providers
    try:
        n = len(items)
        first = items[0]
        if key is not None:
            name = key(first)
        elif first.__class__ is str:
            name = first
        elif isinstance(first, str):  # a str subclass: the Chain takes its text, not .name
            return None
        else:
            name = first.name
    except Exception:
        return None
    if name.__class__ is not str or not name:
        return None
    if cooldown is not None and n > 1 and not cooldown.is_available(name):
        return None
    return first, name, n


#: The options of a call, in :class:`Chain`'s order (after the providers).
_Options = tuple[
    "Strategy | str",
    "CooldownTracker | None",
    "Collection[Any]",
    "RoundRobinCounter | None",
    "Callable[[BaseException], bool] | None",
    "logging.Logger | None",
    "ExecuteHooks[P] | None",
    "Callable[[P], str] | None",
]


def _after_first_failure(
    exc: BaseException,
    first: P,
    name: str,
    start: float,
    providers: Iterable[P],
    options: _Options[P],
) -> Chain[P] | None:
    """The fast path's first call raised ``exc``: the :class:`Chain` that goes on from there
    (the failure recorded), or None when ``exc`` must propagate as it is (a cancellation,
    notified without building a chain, or an error the chain does not fall over on)."""
    if not isinstance(exc, Exception):
        hooks, logger = options[6], options[5]
        notify_cancelled(first, name, exc, None, perf_counter() - start, hooks, logger)
        return None
    chain: Chain[P] = Chain(providers, *options)
    chain.resume(start)
    return None if chain.failed(exc) else chain


def _first_served(
    first: P,
    name: str,
    n: int,
    response: T,
    latency: float,
    cooldown: CooldownTracker | None,
    hooks: ExecuteHooks[P] | None,
) -> ExecuteResult[T]:
    """The result when the first provider served (fast path): no attempt failed."""
    if cooldown is not None:
        report_success(cooldown, name)
    if hooks is not None:
        hooks.attempt_succeeded(first, name, response, latency)
    return ExecuteResult(response, name, latency, 1, n == 1, (), ())
