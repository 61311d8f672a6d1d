"""The value types of ``execute()``: strategies, the round-robin counter, attempts, results, and
the per-attempt hooks a caller (the selector) plugs in."""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any, Generic, NamedTuple, TypeVar

from ..failures import Failure, FailureKind, mask_secrets

__all__ = [
    "Attempt",
    "ExecuteHooks",
    "ExecuteResult",
    "RoundRobinCounter",
    "SkippedProvider",
    "Strategy",
]

T = TypeVar("T")
P = TypeVar("P")


class Strategy(str, Enum):
    """How ``execute()`` uses its list of providers; the value is the name a string may give.

    ``PRIMARY_ONLY`` calls the first provider and nothing else. ``FALLBACK`` (the default)
    tries them in order, skipping those cooling down except the last, until one succeeds.
    ``ROUND_ROBIN`` calls one provider per call, rotating through the list with a shared
    :class:`RoundRobinCounter`.
    """

    PRIMARY_ONLY = "primary_only"
    FALLBACK = "fallback"
    ROUND_ROBIN = "round_robin"


class RoundRobinCounter:
    """A thread-safe rotating position for ``strategy="round_robin"``; share one per rotation.

    Each :meth:`next` hands out the next position, so N calls over a list of n providers
    spread exactly (N // n or N // n + 1 each) however many threads or tasks make them. Keep
    one counter per list you rotate over (a module global, or next to your clients): a fresh
    counter per call would always pick the first provider.
    """

    __slots__ = ("_lock", "_value")

    def __init__(self, start: int = 0) -> None:
        if isinstance(start, bool) or not isinstance(start, int) or start < 0:
            raise ValueError(f"start must be an int >= 0, got {start!r}")
        self._lock = threading.Lock()
        self._value = start

    def next(self, n: int) -> int:
        """The next position in ``range(n)`` (n >= 1), advancing the counter by one."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n!r}")
        with self._lock:
            value = self._value
            self._value = value + 1
        return value % n

    @property
    def value(self) -> int:
        """How many positions were handed out (plus ``start``)."""
        return self._value

    def __repr__(self) -> str:
        return f"RoundRobinCounter(value={self._value})"


class Attempt(NamedTuple):
    """One failed call of a provider: its name, what it raised, how that was classified, and
    how long it took (seconds, ``time.perf_counter``). An immutable named tuple."""

    provider: str
    error: BaseException
    failure: Failure
    latency: float

    @property
    def kind(self) -> FailureKind:
        """The failure kind (``failure.kind``)."""
        return self.failure.kind

    def __repr__(self) -> str:
        # The error's own repr quotes what the provider said, credentials included: masked.
        return (
            f"Attempt(provider={self.provider!r}, error={mask_secrets(repr(self.error))}, "
            f"failure={self.failure!r}, latency={self.latency!r})"
        )


class SkippedProvider(NamedTuple):
    """A provider passed over without a call because it was cooling down, and for how much
    longer (seconds, as the cooldown tracker said). An immutable named tuple."""

    provider: str
    cooldown_remaining: float


class ExecuteResult(Generic[T]):
    """What ``execute()`` returns: the response and how it was obtained (read-only).

    ``response`` is what your ``fn`` returned; ``provider`` the name of the provider that
    served it; ``latency`` that successful call's duration in seconds (``time.perf_counter``);
    ``attempt_num`` how many providers were called, 1-based (skipped ones do not count);
    ``was_terminus`` whether the server was the fallback of last resort (the last provider
    under ``fallback``; always False for ``primary_only`` and ``round_robin``); ``attempts``
    the failed attempts before it and ``skipped`` the providers passed over as cooling down;
    ``hedges`` how many extra attempts ``hedge_after`` started (0 without hedging).
    """

    __slots__ = (
        "_attempt_num",
        "_attempts",
        "_hedges",
        "_latency",
        "_provider",
        "_response",
        "_skipped",
        "_was_terminus",
    )

    def __init__(
        self,
        response: T,
        provider: str,
        latency: float,
        attempt_num: int = 1,
        was_terminus: bool = False,
        attempts: tuple[Attempt, ...] = (),
        skipped: tuple[SkippedProvider, ...] = (),
        hedges: int = 0,
    ) -> None:
        self._response = response
        self._provider = provider
        self._latency = latency
        self._attempt_num = attempt_num
        self._was_terminus = was_terminus
        self._attempts = attempts
        self._skipped = skipped
        self._hedges = hedges

    @property
    def response(self) -> T:
        """What ``fn`` returned."""
        return self._response

    @property
    def provider(self) -> str:
        """The name of the provider that served the call."""
        return self._provider

    @property
    def latency(self) -> float:
        """Seconds the successful call took."""
        return self._latency

    @property
    def attempt_num(self) -> int:
        """1-based number of the successful attempt, counting only providers actually called."""
        return self._attempt_num

    @property
    def was_terminus(self) -> bool:
        """True when the last provider of a ``fallback`` chain (the last resort) served."""
        return self._was_terminus

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The failed attempts before the successful one, in order."""
        return self._attempts

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The providers skipped because they were cooling down, in order."""
        return self._skipped

    @property
    def hedges(self) -> int:
        """How many extra attempts ``hedge_after`` started, racing the first (0 without)."""
        return self._hedges

    @property
    def total_latency(self) -> float:
        """Seconds spent in provider calls: the failed attempts plus the successful one."""
        return self._latency + sum(attempt.latency for attempt in self._attempts)

    def __repr__(self) -> str:
        failed = ", ".join(f"{a.provider}: {a.failure.kind.value}" for a in self._attempts)
        return (
            f"ExecuteResult(provider={self._provider!r}, attempt_num={self._attempt_num}, "
            f"latency={self._latency:.6f}, was_terminus={self._was_terminus}, "
            f"failed=[{failed}], response={_short_repr(self._response)})"
        )


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ExecuteHooks(Generic[P]):
    """Callbacks around each provider attempt of ``execute()`` and its stream forms.

    Subclass it and override what you need (every method does nothing by default); pass an
    instance as ``hooks=``. ``provider`` is the item from your list, ``name`` its name. Hooks
    run synchronously on the calling thread or task, in this order per attempt:
    :meth:`attempt_started`, then exactly one of :meth:`attempt_succeeded` or
    :meth:`attempt_failed`, so in-flight counts stay balanced. A cancellation
    (``CancelledError``, ``KeyboardInterrupt``) ends the attempt with :meth:`attempt_failed`
    and a failure of kind ``CANCELLED``, which must not be counted against the provider.
    With ``hedge_after`` two attempts may be in flight at once (the second's
    :meth:`attempt_started` comes before the first ends): keep per-attempt state by ``name``;
    the hedge that loses ends with :meth:`attempt_failed`, kind ``CANCELLED``.
    For streams, :meth:`first_chunk` comes in between when the stream commits (its first
    chunk with content), and the attempt ends when the stream does:
    :meth:`attempt_succeeded` (``response`` is the stream result, read ``completed`` and
    ``chunks_delivered`` on it) when it is exhausted, closed or collected,
    :meth:`attempt_failed` when it fails before or after its first chunk. An
    ``Exception`` raised by a hook never changes the call's outcome: it is logged (ERROR, with
    ``extra={"event": "bookkeeping_failed"}``) and the call goes on as if the hook had
    returned, so a served response is never lost. Keep hooks cheap all the same.
    """

    def attempt_started(self, provider: P, name: str) -> None:
        """A call of ``provider`` is about to start."""

    def attempt_succeeded(self, provider: P, name: str, response: Any, latency: float) -> None:
        """The call returned ``response`` after ``latency`` seconds (streams: it ended)."""

    def attempt_failed(
        self, provider: P, name: str, error: BaseException, failure: Failure, latency: float
    ) -> None:
        """The call raised ``error`` (classified as ``failure``) after ``latency`` seconds."""

    def first_chunk(self, provider: P, name: str, time_to_first_chunk: float) -> None:
        """Streams only: the first chunk arrived; the stream is committed to ``provider``."""

    def provider_skipped(self, provider: P, name: str, cooldown_remaining: float) -> None:
        """``provider`` was passed over without a call because it is cooling down."""
