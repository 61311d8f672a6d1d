"""The attempt loop of ``execute()``: one state machine the four drivers share (no decision twice).

An :class:`AttemptLoop` walks one call's providers in the order its strategy gives. It picks
the next provider to call (skipping those cooling down, except the fallback of last resort),
is told how each call went, records that (cooldown tracker, hooks, log) and decides whether
to fall back, stop or re-raise. It does no I/O and never calls your ``fn``: the driver does,
with or without ``await``, between :meth:`AttemptLoop.start_next` and one of
:meth:`AttemptLoop.succeeded` / :meth:`AttemptLoop.failed`. Driving it from outside::

    loop = AttemptLoop(providers, ExecuteOptions.build(cooldown=health, hooks=hooks, key=key))
    while True:
        provider = loop.start_next()   # raises AllProvidersFailedError when none is left
        try:
            response = call(provider)  # or: await call(provider)
        except BaseException as exc:
            wait = loop.failed(exc)    # returns to go on; raises to stop (see below)
            sleep(wait)                # 0 for a fallback; loop.abandon() if this raises
        else:
            return loop.succeeded(response)  # the ExecuteResult

``failed(error)`` returns the seconds to wait (0 for a fallback, a retry's backoff), re-raises
a cancellation or a caller's bug, and raises AllProvidersFailedError when the loop stops.
Streams report ``committed(has_chunk)``, then ``stream_ended(stream)`` or
``stream_failed(error, chunks)``. Read-only state: ``provider``, ``name``, ``attempt_num``,
``was_terminus``, ``attempts``, ``skipped``, ``logger``, ``options``, ``time_left()``.

Bookkeeping never changes the outcome: an ``Exception`` raised by a hook or by the tracker's
``record_failure`` / ``report_success`` is logged once at ERROR (``event`` =
``bookkeeping_failed``) and the loop goes on as if it had not raised. The tracker's reads
(``is_available``, ``cooldown_remaining``) and ``fallback_on`` are decisions, not
bookkeeping: what they raise propagates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any, Generic, NoReturn, TypeVar

from ..errors import AllProvidersFailedError, NoProvidersError, StreamInterruptedError
from ..failures import Failure, FailureKind
from ._calls import CALLER_BUGS
from ._limits import CallLimits, cooldown_windows
from ._log import log_bookkeeping_failed, log_cancelled, log_failure, log_interrupted, log_skip
from ._options import ExecuteOptions, as_sequence, chain_order, classify, name_of
from ._retry import GIVE_UP, RetryState, next_step, reroute
from ._types import Attempt, ExecuteResult, SkippedProvider, Strategy

__all__ = ["AttemptLoop"]

T = TypeVar("T")
P = TypeVar("P")


class AttemptLoop(Generic[P]):
    """One call's walk through its providers; see the module docstring for how to drive it.

    ``providers`` as :func:`execute` takes them (raises ``NoProvidersError`` when empty,
    ``TypeError`` when not a list); each provider is named when the loop reaches it.
    """

    __slots__ = (
        "_attempts",
        "_index",
        "_items",
        "_last",
        "_limits",
        "_names",
        "_order",
        "_pos",
        "_retries",
        "_retry_index",
        "_skipped",
        "_skipped_idx",
        "_start",
        "_stopped",
        "options",
    )

    def __init__(self, providers: Iterable[P], options: ExecuteOptions[P]) -> None:
        items = as_sequence(providers)
        if not items:
            raise NoProvidersError("no providers given: execute() needs at least one")
        self.options = options
        self._items = items
        self._names: list[str | None] = [None] * len(items)
        self._order = list(chain_order(options, len(items)))  # a list: reroute may reorder it
        self._attempts: list[Attempt] = []
        self._skipped: list[SkippedProvider] = []
        self._pos = 0  # how many entries of the order were taken
        self._index = -1  # the item of the current attempt
        self._start = 0.0
        self._stopped = False
        self._last: dict[int, Failure] = {}  # each failed item's latest failure
        self._skipped_idx: set[int] = set()
        self._retries = 0
        self._retry_index = -1  # the item a retry calls next (-1: the chain's next)
        retrying = options.retrying
        self._limits = CallLimits(retrying) if retrying and retrying.limited else None

    # -- the state, for results ----------------------------------------------------------

    @property
    def provider(self) -> P:
        """The provider of the current attempt."""
        return self._items[self._index]

    @property
    def name(self) -> str:
        """The name of the provider of the current attempt."""
        return self._name_at(self._index)

    @property
    def attempt_num(self) -> int:
        """1-based number of the current attempt, counting only providers called."""
        return len(self._attempts) + 1

    @property
    def was_terminus(self) -> bool:
        """Whether the current attempt is the last resort of a fallback chain."""
        return self.options.strategy is Strategy.FALLBACK and self._index == len(self._items) - 1

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The failed attempts so far, in order."""
        return tuple(self._attempts)

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The providers skipped as cooling down so far, in order."""
        return tuple(self._skipped)

    @property
    def logger(self) -> logging.Logger:
        """The logger of the call."""
        return self.options.logger

    # -- driving it ----------------------------------------------------------------------

    def start_next(self) -> P:
        """The next provider to call (skips recorded, hooks told, clock started); raises
        :class:`AllProvidersFailedError` when none is left."""
        index = self._retry_index
        if index >= 0:  # a retry the last failure planned
            self._retry_index = -1
            name = self._name_at(index)
        else:
            last = len(self._order) - 1
            while True:
                if self._stopped or self._pos > last:
                    self.abandon()
                    raise self._exhausted()
                index = self._order[self._pos]
                terminus = self._pos == last
                self._pos += 1
                name = self._name_at(index)
                if not self._skips(name, terminus):
                    break
                self._skip(index, name)
        self._index = index
        hooks = self.options.hooks
        if hooks is not None:
            self._quietly("attempt_started", name, hooks.attempt_started, self._items[index], name)
        self._start = perf_counter()
        return self._items[index]

    def time_left(self) -> float | None:
        """Seconds left before the call's deadline (never below 0), None without one."""
        return None if self._limits is None else self._limits.time_left()

    def succeeded(self, response: T, hedges: int = 0) -> ExecuteResult[T]:
        """The call returned ``response`` (``hedges`` raced it): record it, build the result."""
        latency = perf_counter() - self._start
        if self._limits is not None:
            self._limits.close()
        self._record_success(response, latency)
        return ExecuteResult(
            response,
            self.name,
            latency,
            self.attempt_num,
            self.was_terminus,
            self.attempts,
            self.skipped,
            hedges,
        )

    def failed(self, error: BaseException) -> float:
        """The current call raised ``error``: returns the seconds to wait before the next
        provider (0 for a fallback, a backoff for a retry); raises ``error`` (a cancellation)
        or :class:`AllProvidersFailedError` (the loop stops)."""
        latency = perf_counter() - self._start
        failure = self._failure_or_cancel(error, latency)
        name = self.name
        self._attempts.append(Attempt(name, error, failure, latency))
        self._last[self._index] = failure
        if self._limits is not None:
            self._limits.attempt_ended()
        cooling = self._record_failure(error, failure, latency)
        if isinstance(error, CALLER_BUGS):  # the caller's own bug: loud, unchanged, no fall-over
            self._stopped = True
            self.abandon()
            raise error
        try:
            action, wait = self._next_step(error, failure)
        except BaseException:  # fallback_on raised: the call ends here
            self.abandon()
            raise
        fallback = self.options.strategy is Strategy.FALLBACK
        log_failure(
            self.logger,
            name,
            error,
            failure,
            latency,
            action,
            cooling,
            len(self._attempts),
            fallback,
            wait,
        )
        if action == "fallback":  # the tracker may reorder what is left (request-scoped)
            reroute(self.options.cooldown, name, failure, self._order, self._pos, self._name_at)
        if action not in ("fallback", "retry"):
            self._stopped = fallback and self._pos < len(self._order)
            self.abandon()
            raise self._exhausted() from error
        return wait

    def _next_step(self, error: BaseException, failure: Failure) -> tuple[str, float]:
        """What follows a failure: ``fallback``, ``retry`` (after the wait), or why the loop
        stops (``stop``, ``give_up``, ``deadline``, ``budget``)."""
        opts = self.options
        has_next = opts.strategy is Strategy.FALLBACK and self._pos < len(self._order)
        retrying = opts.retrying
        policy = None if retrying is None else retrying.retry
        if not has_next and policy is None:
            return "give_up", 0.0
        if not opts.falls_over(error, failure):
            return ("stop" if has_next else "give_up"), 0.0
        rng = None if retrying is None else retrying.rng
        step = next_step(policy, failure, has_next, self._state(), rng)
        if step is GIVE_UP:
            return "give_up", 0.0
        wait = 0.0 if step is None else step.wait
        refused = "" if self._limits is None else self._limits.refused(wait)
        if refused:
            return refused, wait
        if step is None:
            return "fallback", 0.0
        self._retry_index = step.item
        self._retries += 1
        return "retry", wait

    def _state(self) -> RetryState:
        calls, last, skipped = len(self._attempts), self._last, self._skipped_idx
        return RetryState(calls, self._retries, self._order, self._index, last, skipped)

    def abandon(self) -> None:
        """The driver stops (a wait raised): the call gives back its budget counts and its
        deadline. Idempotent; every way the loop itself ends does it too."""
        if self._limits is not None:
            self._limits.close()

    # -- streams -------------------------------------------------------------------------

    def committed(self, has_chunk: bool) -> float:
        """The current call's stream produced its first chunk (or ended empty): returns the
        seconds since the call started and tells the hooks."""
        elapsed = perf_counter() - self._start
        if self._limits is not None:
            self._limits.close()
        hooks = self.options.hooks
        if has_chunk and hooks is not None:
            self._quietly(
                "first_chunk", self.name, hooks.first_chunk, self.provider, self.name, elapsed
            )
        return elapsed

    def stream_ended(self, stream: object) -> None:
        """The committed stream was exhausted, closed or collected: a success."""
        self._record_success(stream, perf_counter() - self._start)

    def stream_failed(self, error: BaseException, chunks: int) -> NoReturn:
        """The committed stream raised ``error`` after ``chunks`` chunks: records the failure
        and raises :class:`StreamInterruptedError` from it (``error`` itself if a cancellation)."""
        latency = perf_counter() - self._start
        failure = self._failure_or_cancel(error, latency)
        cooling = self._record_failure(error, failure, latency)
        log_interrupted(self.logger, self.name, error, failure, latency, chunks, cooling)
        raise StreamInterruptedError(self.name, chunks, failure) from error

    # -- hedging: more than one attempt in flight -----------------------------------------

    @property
    def current(self) -> tuple[int, float]:
        """The current attempt as a token for :meth:`resume` (hedging keeps two in flight)."""
        return self._index, self._start

    def resume(self, current: tuple[int, float]) -> None:
        """Make the attempt ``current`` (a token from :attr:`current`) the current one."""
        self._index, self._start = current

    # -- internals -----------------------------------------------------------------------

    def _name_at(self, index: int) -> str:
        name = self._names[index]
        if name is None:
            name = self._names[index] = name_of(self._items[index], self.options.key)
        return name

    def _skips(self, name: str, terminus: bool) -> bool:
        """Whether ``name`` is passed over: it is cooling down, and the strategy skips (the
        last resort of ``fallback`` and the one provider of ``primary_only`` are called)."""
        cooldown, strategy = self.options.cooldown, self.options.strategy
        if cooldown is None or strategy is Strategy.PRIMARY_ONLY:
            return False
        if strategy is Strategy.FALLBACK and terminus:
            return False
        return not cooldown.is_available(name)

    def _skip(self, index: int, name: str) -> None:
        assert self.options.cooldown is not None
        remaining = self.options.cooldown.cooldown_remaining(name)
        self._skipped_idx.add(index)
        self._skipped.append(SkippedProvider(name, remaining))
        hooks = self.options.hooks
        if hooks is not None:
            item = self._items[index]
            self._quietly("provider_skipped", name, hooks.provider_skipped, item, name, remaining)
        log_skip(self.logger, name, remaining)

    def _failure_or_cancel(self, error: BaseException, latency: float) -> Failure:
        """``error`` classified; a cancellation is told to the hooks and re-raised here."""
        failure = classify(error)
        if failure.kind is FailureKind.CANCELLED:
            self.abandon()
            self._tell_failed(error, failure, latency)
            log_cancelled(self.logger, self.name, error)
            raise error
        return failure

    def _record_success(self, response: object, latency: float) -> None:
        name = self.name
        report = getattr(self.options.cooldown, "report_success", None)
        if report is not None:
            self._quietly("report_success", name, report, name)
        hooks = self.options.hooks
        if hooks is not None:
            succeeded = hooks.attempt_succeeded
            self._quietly(
                "attempt_succeeded", name, succeeded, self.provider, name, response, latency
            )

    def _record_failure(self, error: BaseException, failure: Failure, latency: float) -> bool:
        """Put the failure on the tracker (unless exempt or request-scoped) and tell the
        hooks; True when the provider now cools down."""
        name = self.name
        cooldown = self.options.cooldown
        cooling = False
        if (
            cooldown is not None
            and failure.counts_against_health
            and not self.options.is_exempt(name)
        ):
            cooling = bool(
                self._quietly("record_failure", name, cooldown.record_failure, name, failure)
            )
        self._tell_failed(error, failure, latency)
        return cooling

    def _tell_failed(self, error: BaseException, failure: Failure, latency: float) -> None:
        hooks = self.options.hooks
        if hooks is not None:
            name = self.name
            failed = hooks.attempt_failed
            self._quietly(
                "attempt_failed", name, failed, self.provider, name, error, failure, latency
            )

    def _quietly(self, callback: str, name: str, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)``, a bookkeeping ``callback`` about provider ``name``: what it raises
        is logged (ERROR, once), not propagated, and None returned."""
        try:
            return call(*args)
        except Exception:
            log_bookkeeping_failed(self.logger, callback, name)
            return None

    def _exhausted(self) -> AllProvidersFailedError:
        """The error for a call no provider served (the attempts and skips so far)."""
        untried = [self._name_at(i) for i in self._order[self._pos :]] if self._stopped else []
        return AllProvidersFailedError(
            self._attempts,
            self._skipped,
            untried,
            cooldown_windows(self.options.cooldown, self._attempts),
            "" if self._limits is None else self._limits.reason,
        )
