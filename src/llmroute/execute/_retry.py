"""Retries of ``execute()``: the :class:`RetryPolicy`, the :class:`RetryBudget`, the time left
before a call's deadline (:func:`time_left`), and the one decision of which service comes next
and after how long a wait (:func:`next_step`), which every driver, sync or async, follows.

No waiting happens here: the decision returns the seconds to wait and the driver waits them
through its sleeper (``sleep=`` / ``asleep=``).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from ..failures import Failure, FailureKind

__all__ = [
    "GIVE_UP",
    "RetryBudget",
    "RetryPolicy",
    "RetryState",
    "RetryStep",
    "next_step",
    "time_left",
]

#: The kinds a default policy retries (the others, request-scoped kinds and AUTH, never).
_DEFAULT_ATTEMPTS: Mapping[FailureKind, int] = {
    FailureKind.RATE_LIMIT: 3,
    FailureKind.SERVER: 3,
    FailureKind.TIMEOUT: 3,
    FailureKind.CONNECTION: 3,
}
_RNG = random.Random()


def _kind(kind: FailureKind | str) -> FailureKind:
    return kind if isinstance(kind, FailureKind) else FailureKind(kind)


def _check_seconds(name: str, value: float) -> None:
    """Finite seconds >= 0 (a wait may be zero; time limits use ``_chunks.check_seconds``)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be finite seconds >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How ``execute()`` retries a failed call: pass it as ``retry=`` (immutable, reusable).

    ``attempts`` maps a :class:`FailureKind` (or its name) to the most calls one ``execute()``
    makes in all, counting the first and the fallbacks, for a retry of a service whose latest
    failure is of that kind; a kind not in it is never retried. The default retries
    RATE_LIMIT, SERVER, TIMEOUT and CONNECTION up to 3 calls; AUTH and the request-scoped
    kinds never. The policy never
    shortens the fallback chain: each candidate is still called once as ``fallback_on`` says;
    retries are the calls beyond that (a service called again).

    ``target``: ``"next"`` (default) sends a retry to the next candidate still worth calling,
    in the chain's order, so the same service is called again only when it is the only one
    left; ``"same"`` retries the failing service first and falls back once its kind's
    attempts are used.

    The wait before a retry is exponential backoff with full jitter: a uniform draw in
    ``[0, min(max_backoff, base * 2 ** (n - 1)))`` for the n-th retry. A server's Retry-After
    is a floor of that wait when it is at most ``max_retry_after``; a longer one takes the
    service out of the retries (the call moves on to the next service instead of waiting, and
    the hint ends up in the error's ``retry_after``). Change one part with
    :meth:`with_attempts` or :meth:`but` (``policy.but(base=0.1)``).
    """

    attempts: Mapping[FailureKind, int] = field(default_factory=lambda: dict(_DEFAULT_ATTEMPTS))
    base: float = 0.5
    max_backoff: float = 10.0
    max_retry_after: float = 30.0
    target: str = "next"
    #: The ExecuteOptions retry part of a call given this policy alone (made once, reused).
    _alone: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        attempts = {_kind(k): v for k, v in self.attempts.items()}
        for kind, count in attempts.items():
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"attempts[{kind.value}] must be an int >= 1, got {count!r}")
        object.__setattr__(self, "attempts", attempts)
        _check_seconds("base", self.base)
        _check_seconds("max_backoff", self.max_backoff)
        _check_seconds("max_retry_after", self.max_retry_after)
        if self.target not in ("next", "same"):
            raise ValueError(f"target must be 'next' or 'same', got {self.target!r}")

    def attempts_for(self, kind: FailureKind) -> int:
        """The most calls of one ``execute()`` while its latest failure is of ``kind``."""
        return self.attempts.get(kind, 1)

    def with_attempts(
        self, attempts: Mapping[FailureKind | str, int] | None = None, **by_name: int
    ) -> RetryPolicy:
        """A copy with these kinds' attempts changed (``with_attempts(server=5, auth=2)``);
        1 stops retrying a kind."""
        merged: dict[FailureKind, int] = dict(self.attempts)
        for kind, count in {**(attempts or {}), **by_name}.items():
            merged[_kind(kind)] = count
        return replace(self, attempts=merged)

    def but(self, **changes: Any) -> RetryPolicy:
        """A copy with the given fields changed (``base``, ``max_backoff``, ...)."""
        return replace(self, **changes)

    def backoff(self, retry: int, rng: Any = None) -> float:
        """The jittered wait before the ``retry``-th retry (1-based), in seconds."""
        cap = min(self.max_backoff, self.base * 2.0 ** min(retry - 1, 60))
        return (rng if rng is not None else _RNG).random() * cap

    def waits_out(self, failure: Failure) -> bool:
        """Whether a retry of the service that failed with ``failure`` may wait for it: the
        kind is retried and its Retry-After (if any) is at most ``max_retry_after``."""
        if self.attempts.get(failure.kind, 1) <= 1:
            return False
        return failure.retry_after is None or failure.retry_after <= self.max_retry_after


class RetryBudget:
    """Envoy's retry budget: retries in flight stay at most ``ratio`` of the calls in flight,
    with room for at least ``min_retries`` concurrent retries (defaults 0.2 and 3).

    Share one between the calls it protects (a :class:`ServiceSelector` holds one; pass it to
    ``execute(budget=...)``): in an outage every call still makes its first attempt, but the
    retries (every attempt after a call's first, fallbacks included) stop multiplying the
    load, and a call refused a retry ends in :class:`AllProvidersFailedError` saying the
    budget is spent. Thread-safe; ``in_flight`` and ``retries_in_flight`` read the counts.
    A call uses only :meth:`enter`, :meth:`leave`, :meth:`try_retry` and :meth:`retry_done`:
    override them to keep the counts elsewhere (a budget shared by a fleet).
    """

    __slots__ = ("_alone", "_lock", "in_flight", "min_retries", "ratio", "retries_in_flight")

    def __init__(self, ratio: float = 0.2, min_retries: int = 3) -> None:
        if not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"ratio must be between 0 and 1, got {ratio!r}")
        if isinstance(min_retries, bool) or not isinstance(min_retries, int) or min_retries < 0:
            raise ValueError(f"min_retries must be an int >= 0, got {min_retries!r}")
        self.ratio = float(ratio)
        self.min_retries = min_retries
        self.in_flight = 0
        self.retries_in_flight = 0
        self._lock = threading.Lock()
        self._alone: Any = None  # the retry options of a call given this budget alone

    def enter(self) -> None:
        """A call starts."""
        with self._lock:
            self.in_flight += 1

    def leave(self) -> None:
        """A call ended."""
        with self._lock:
            self.in_flight -= 1

    def try_retry(self) -> bool:
        """Take a retry slot if the budget allows one now (release it with :meth:`retry_done`)."""
        with self._lock:
            allowed = max(self.min_retries, self.ratio * self.in_flight)
            if self.retries_in_flight + 1 > allowed:
                return False
            self.retries_in_flight += 1
            return True

    def retry_done(self) -> None:
        """A retry that took a slot ended."""
        with self._lock:
            self.retries_in_flight -= 1

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio:g}, min_retries={self.min_retries}, "
            f"in_flight={self.in_flight}, retries_in_flight={self.retries_in_flight})"
        )


#: (deadline, clock) of the execute() call running the current attempt, if it has a deadline.
DEADLINE: ContextVar[tuple[float, Callable[[], float]] | None] = ContextVar(
    "llmroute_deadline", default=None
)


def time_left() -> float | None:
    """Seconds left before the deadline of the ``execute()`` call whose ``fn`` is running
    (``deadline=``), never below 0; None outside such a call or without a deadline.

    Call it from your ``fn`` to hand the SDK its own timeout:
    ``lambda p: client.chat.completions.create(..., timeout=time_left())``. It reads a
    context variable, so it is right in every thread and asyncio task.
    """
    current = DEADLINE.get()
    if current is None:
        return None
    at, clock = current
    return max(0.0, at - clock())


class RetryStep(NamedTuple):
    """A planned retry: call the item at position ``item`` again after ``wait`` seconds."""

    item: int
    wait: float


#: The step that says: no retry, give up.
GIVE_UP = RetryStep(-1, 0.0)


class RetryState(NamedTuple):
    """What the retry decision reads of a call: ``calls`` made so far, ``retries`` among
    them, the chain's ``order`` of items, the ``current`` item, each failed item's ``last``
    failure, and the items ``skipped`` as cooling down."""

    calls: int
    retries: int
    order: Sequence[int]
    current: int
    last: Mapping[int, Failure]
    skipped: Collection[int]


def next_step(
    policy: RetryPolicy | None, failure: Failure, has_next: bool, state: RetryState, rng: Any
) -> RetryStep | None:
    """THE retry decision, for every driver: after ``failure`` (which falls over), None to
    go on with the chain's next provider at once, a :class:`RetryStep`, or ``GIVE_UP``."""
    if policy is None:
        return None if has_next else GIVE_UP
    if has_next:
        if policy.target != "same" or not policy.waits_out(failure):
            return None
        if state.calls >= policy.attempts_for(failure.kind):
            return None
        wait = policy.backoff(state.retries + 1, rng)
        return RetryStep(state.current, max(wait, failure.retry_after or 0.0))
    order, n = state.order, len(state.order)
    start = order.index(state.current) if state.current in order else 0
    # "next": the candidates after the current one, the current one last; "same": it first.
    # A candidate is retried while its own latest failure's kind has attempts left.
    first = 0 if policy.target == "same" else 1
    for k in range(first, first + n):
        index = order[(start + k) % n]
        seen = state.last.get(index)
        if seen is None:  # never called (round robin): the latest failure's kind decides
            if index in state.skipped or state.calls >= policy.attempts_for(failure.kind):
                continue
            return RetryStep(index, policy.backoff(state.retries + 1, rng))
        if state.calls < policy.attempts_for(seen.kind) and policy.waits_out(seen):
            wait = policy.backoff(state.retries + 1, rng)
            return RetryStep(index, max(wait, seen.retry_after or 0.0))
    return GIVE_UP


def reroute(
    tracker: object, name: str, failure: Failure, order: list[int], pos: int, name_at: Any
) -> None:
    """Let a cooldown tracker with ``reroute(name, failure, pending)`` reorder (or thin) the
    providers still pending after ``name`` failed, for this call only: it answers the
    positions in ``pending`` (names) to try, in order, or None to keep the order."""
    hook = getattr(tracker, "reroute", None)
    if hook is None or pos >= len(order):
        return
    left = order[pos:]
    chosen = hook(name, failure, [name_at(i) for i in left])
    if chosen is not None:
        order[pos:] = [left[k] for k in chosen]
