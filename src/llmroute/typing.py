"""Every plug-in protocol of llmroute in one place, each with its async twin where it has I/O.

A plug-in is anything that structurally matches its protocol; nothing needs to subclass.

- :data:`Clock`: a zero-argument callable returning seconds (``time.time`` by default).
- :class:`StateStore` / :class:`AsyncStateStore`: where routing state lives (health, usage
  windows, latency figures, pins, cursors). A request touches it twice: one :meth:`read` of a
  :class:`~llmroute.state.StateQuery` answered by an immutable
  :class:`~llmroute.state.StateSnapshot` before deciding, and one :meth:`write` of an
  :class:`~llmroute.state.Outcome` after the call. ``llmroute.state.InMemoryState`` implements
  both protocols.
- :class:`CountsInFlight` / :class:`SharesRetryBudget`: optional parts of a store shared by
  replicas (``llmroute.redis.RedisState`` has both): the selector then counts its calls in
  flight with the store's :class:`InFlightCounter` and takes its retry budget from it, so
  both are the fleet's.
- :data:`Probe` / :data:`AsyncProbe`: a health check of an ejected service.
- :class:`CooldownTracker`: what plain :func:`llmroute.execute` needs to skip providers that
  are cooling down (``llmroute.HealthMonitor`` implements it).
- :data:`UsageReader`: reads token usage off a response or stream chunk.
- :class:`Rng`: what tactics draw from (``random.Random``, or a session's own draws).

This module imports nothing of llmroute at run time (the value types it names are imported for
type checkers only), so every other module may import it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .execute import RetryBudget
    from .state import Outcome, StateQuery, StateSnapshot
    from .usage import Usage

__all__ = [
    "AsyncProbe",
    "AsyncStateStore",
    "Clock",
    "CooldownTracker",
    "CountsInFlight",
    "InFlightCounter",
    "Probe",
    "Rng",
    "SharesRetryBudget",
    "StateStore",
    "UsageReader",
    "system_clock",
]

#: A zero-argument callable returning the current time in seconds (``time.time`` by default).
Clock = Callable[[], float]

#: The default clock: wall time, so TTLs and windows read as seconds since the epoch.
system_clock: Clock = time.time

#: A health probe: called with the service id, returns True when the service is healthy
#: again; raising counts as a failed probe. It never runs inside a read: the selector (or the
#: health monitor) runs it on a worker thread.
Probe = Callable[[str], bool]

#: The async form of :data:`Probe`, run as a task by async callers.
AsyncProbe = Callable[[str], Awaitable[bool]]

#: Reads the token usage off a response or a stream chunk; None when it carries none.
UsageReader = Callable[[Any], "Usage | None"]


@runtime_checkable
class Rng(Protocol):
    """The randomness a tactic draws from: ``random()`` returns a float in [0, 1).
    ``random.Random`` is one (seed it for reproducible choices)."""

    def random(self) -> float:
        """The next draw, in [0, 1)."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Where routing state lives; one read and one write per request. Thread-safe.

    :meth:`read` answers a query with an immutable snapshot in one step (it may carry one
    atomic increment: the round-robin turn when ``query.take_turn`` is set, and the probe
    leases when ``query.lease_probes`` is set). :meth:`write` applies one outcome in one step:
    stats, health, the rule's cursor and the session's pin together. Neither may raise for a
    store that is unreachable; a shared store degrades to what it last knew.
    """

    def read(self, query: StateQuery, /) -> StateSnapshot:
        """The state ``query`` asks for, as of now."""
        ...

    def write(self, outcome: Outcome, /) -> None:
        """Apply one outcome (a success, a failure, a cancellation, a probe's answer)."""
        ...


@runtime_checkable
class AsyncStateStore(Protocol):
    """The async twin of :class:`StateStore`: ``await aread(query)``, ``await awrite(outcome)``."""

    async def aread(self, query: StateQuery, /) -> StateSnapshot:
        """The state ``query`` asks for, as of now."""
        ...

    async def awrite(self, outcome: Outcome, /) -> None:
        """Apply one outcome."""
        ...


@runtime_checkable
class InFlightCounter(Protocol):
    """Counts calls in flight per service (``llmroute.state.InFlight`` is this process's)."""

    def add(self, service_id: str, delta: int, /) -> None:
        """Count ``delta`` calls (+1 started, -1 finished)."""
        ...

    def count(self, service_id: str, /) -> int:
        """The calls in flight to one service that this counter counted itself."""
        ...

    def view(self) -> Mapping[str, int]:
        """Every service's calls in flight, as the tactics read them (read-only)."""
        ...


@runtime_checkable
class CountsInFlight(Protocol):
    """An optional part of a state store: it keeps the in-flight counts the selector's calls
    make (a store shared by replicas publishes them, so ``least_busy`` sees the fleet's)."""

    def in_flight_counter(self) -> InFlightCounter:
        """The counter the selector counts its calls with."""
        ...


@runtime_checkable
class SharesRetryBudget(Protocol):
    """An optional part of a state store: it makes retry budgets a fleet shares. A selector
    built on it with ``retry_budget=True`` takes its budget from here."""

    def retry_budget(self, like: RetryBudget | None = None, /) -> RetryBudget:
        """A budget with ``like``'s ratio and minimum (the defaults without it), counted
        over every replica of the store."""
        ...


@runtime_checkable
class CooldownTracker(Protocol):
    """What plain ``execute()`` needs to skip providers that are cooling down.

    Names are whatever identifies a provider or service to you (provider names, service ids).
    ``llmroute.HealthMonitor`` implements it; any object with these three methods will do (a
    ``report_success(name)`` method, when present, hears of successes).
    """

    def is_available(self, name: str) -> bool:
        """True unless ``name`` is cooling down."""
        ...

    def cooldown_remaining(self, name: str) -> float:
        """Seconds until ``name`` may be tried again (0.0 when available or due)."""
        ...

    def record_failure(self, name: str, error: object) -> bool:
        """Record a failed call; True when this failure put ``name`` into cooldown."""
        ...
