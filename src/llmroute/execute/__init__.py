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

The package: ``_types`` (the value types and hooks), ``_options`` (:class:`ExecuteOptions`),
``_loop`` (:class:`AttemptLoop`, the one attempt loop every driver drives), ``_drivers``
(``execute``, ``aexecute``), ``_stream`` (the stream drivers), ``_results`` (the stream
results), ``_chunks`` (what commits a stream, its time limits), ``_worker`` (the worker
thread of a sync stream with a time limit), ``_hedge`` (racing a slow attempt), ``_io``
(opening and closing streams) and ``_log`` (the log records).
"""

from __future__ import annotations

from ..typing import CooldownTracker
from ._chunks import default_commits
from ._drivers import aexecute, execute
from ._io import aclose_stream, async_iterable, close_stream
from ._log import default_logger
from ._loop import AttemptLoop
from ._options import ExecuteOptions, default_fallback_on
from ._results import AsyncStreamResult, StreamResult
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
    "AsyncStreamResult",
    "Attempt",
    "AttemptLoop",
    "CooldownTracker",
    "ExecuteHooks",
    "ExecuteOptions",
    "ExecuteResult",
    "RoundRobinCounter",
    "SkippedProvider",
    "Strategy",
    "StreamResult",
    "aclose_stream",
    "aexecute",
    "aexecute_stream",
    "async_iterable",
    "close_stream",
    "default_commits",
    "default_fallback_on",
    "default_logger",
    "execute",
    "execute_stream",
]
