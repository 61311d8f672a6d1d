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

Retries (every form; all off by default)::

    execute(providers, fn, retry=RetryPolicy(), deadline=10, budget=shared_budget)

- ``retry``: a :class:`RetryPolicy`. Each provider is still tried once as ``fallback_on``
  says; the policy adds calls beyond the chain (a service called again) for the kinds it
  retries, up to its ``attempts`` for the service's latest failure's kind, after a jittered
  exponential backoff with a Retry-After as its floor (a Retry-After longer than
  ``max_retry_after`` takes that service out instead of waiting). A single provider is
  retried on itself; ``target="same"`` retries the failing provider before falling back.
- ``deadline``: seconds, read on ``clock`` (default ``time.monotonic``), bounding the whole
  call. No attempt starts and no wait begins that would end past it; the call then stops
  with :class:`AllProvidersFailedError` whose ``reason`` (and message) says the deadline ran
  out. ``fn`` reads the time left with :func:`time_left` (a context variable, right in each
  thread and task) to set its SDK's timeout; the async forms also cancel an attempt still
  running at the deadline.
- ``budget``: a :class:`RetryBudget` shared by the calls it protects (every attempt after a
  call's first is a retry, fallbacks included). A refused retry stops the call with
  ``reason`` "the retry budget is spent".
- ``sleep`` (sync forms, default ``time.sleep``) and ``asleep`` (async forms, default
  ``asyncio.sleep``) do the waiting: the decision is one function (``_retry.next_step``) for
  all drivers, which only wait. ``AttemptLoop.failed`` returns the seconds to wait.

These keyword arguments are typed :class:`SyncRetryArgs` / :class:`AsyncRetryArgs`; they make
the ``retrying`` part of :class:`ExecuteOptions` (a :class:`RetryOptions`, None when none is
given, so a call without them pays nothing; a policy given alone reuses one made once).

The package: ``_types`` (the value types and hooks), ``_options`` (:class:`ExecuteOptions`),
``_loop`` (:class:`AttemptLoop`, the one attempt loop every driver drives), ``_retry``
(:class:`RetryPolicy`, :class:`RetryBudget`, :func:`time_left`, the retry decision),
``_limits`` (a call's deadline and budget counts), ``_drivers`` (``execute``,
``aexecute``), ``_stream`` (the stream drivers), ``_results`` (the stream results),
``_chunks`` (what commits a stream, its time limits), ``_worker`` (the worker thread of a sync
stream with a time limit), ``_hedge`` (racing a slow attempt), ``_io`` (opening and closing
streams) and ``_log`` (the log records).
"""

from __future__ import annotations

from ..typing import CooldownTracker
from ._calls import check_iterable
from ._chunks import default_commits
from ._drivers import aexecute, execute
from ._io import aclose_stream, async_iterable, close_stream
from ._log import default_logger
from ._loop import AttemptLoop
from ._options import (
    AnyRetryArgs,
    AsyncRetryArgs,
    ExecuteOptions,
    RetryArgs,
    RetryOptions,
    SyncRetryArgs,
    default_fallback_on,
)
from ._results import AsyncStreamResult, StreamResult
from ._retry import RetryBudget, RetryPolicy, time_left
from ._stream import aexecute_stream, execute_stream
from ._types import (
    Attempt,
    ExecuteHooks,
    ExecuteResult,
    RoundRobinCounter,
    SkippedProvider,
    Strategy,
)

__all__ = [
    "AnyRetryArgs",
    "AsyncRetryArgs",
    "AsyncStreamResult",
    "Attempt",
    "AttemptLoop",
    "CooldownTracker",
    "ExecuteHooks",
    "ExecuteOptions",
    "ExecuteResult",
    "RetryArgs",
    "RetryBudget",
    "RetryOptions",
    "RetryPolicy",
    "RoundRobinCounter",
    "SkippedProvider",
    "Strategy",
    "StreamResult",
    "SyncRetryArgs",
    "aclose_stream",
    "aexecute",
    "aexecute_stream",
    "async_iterable",
    "check_iterable",
    "close_stream",
    "default_commits",
    "default_fallback_on",
    "default_logger",
    "execute",
    "execute_stream",
    "time_left",
]
