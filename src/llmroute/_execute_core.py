"""The decision code of ``execute()``, shared by the sync, async and streaming drivers.

A :class:`Chain` walks one call's providers: it picks the next one to try (skipping those
cooling down, except the terminus), records each outcome (cooldown tracker, hooks, log) and
decides whether a failure moves on. The drivers only call ``fn`` (with or without ``await``)
between :meth:`Chain.begin` and :meth:`Chain.succeeded` / :meth:`Chain.failed`. The common
case, the first provider succeeding, never builds a chain: ``execute()`` and ``aexecute()``
handle it inline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from time import perf_counter
from typing import Any, Generic, TypeVar, cast

from ._execute_log import log_cancelled, log_failure, log_interrupted, log_skip
from ._execute_types import (
    Attempt,
    ExecuteHooks,
    ExecuteResult,
    RoundRobinCounter,
    SkippedProvider,
    Strategy,
)
from .errors import AllProvidersFailedError, ConfigError, NoProvidersError, StreamInterruptedError
from .failures import Failure, FailureKind, classify_error
from .typing import CooldownTracker

T = TypeVar("T")
P = TypeVar("P")

#: The logger ``execute()`` uses when given none.
default_logger = logging.getLogger("llmroute.execute")

_FALLBACK = Strategy.FALLBACK
_PRIMARY_ONLY = Strategy.PRIMARY_ONLY
_ROUND_ROBIN = Strategy.ROUND_ROBIN
_CANCELLED = FailureKind.CANCELLED
_BAD_REQUEST = FailureKind.BAD_REQUEST
_INFO = logging.INFO


def default_fallback_on(error: BaseException) -> bool:
    """The default ``fallback_on``: whether ``error`` should move on to the next provider.

    True for every error except a cancellation and a plain bad request (HTTP 400/422 that is
    not a context-length or content-policy error), which the next provider would reject just
    the same. A context-length error falls over (the next model may have a larger window),
    and so does a content-policy refusal (policies differ between providers). Use it to
    extend rather than replace the default:
    ``fallback_on=lambda e: isinstance(e, MyError) or default_fallback_on(e)``.
    """
    return _falls_over(classify_error(error))


def _falls_over(failure: Failure) -> bool:
    kind = failure.kind
    return kind is not _CANCELLED and kind is not _BAD_REQUEST


# Members hash and compare as their values, so one lookup serves names and members alike.
_STRATEGIES: dict[str, Strategy] = {member.value: member for member in Strategy}


def resolve_strategy(strategy: Strategy | str) -> Strategy:
    """``strategy`` as a :class:`Strategy`; ``ConfigError`` names the valid ones otherwise."""
    try:
        found = _STRATEGIES.get(strategy)
    except TypeError:  # unhashable
        found = None
    if found is None or (strategy.__class__ is not str and not isinstance(strategy, Strategy)):
        valid = ", ".join(_STRATEGIES)
        raise ConfigError(f"unknown execute strategy {strategy!r}; expected one of: {valid}")
    return found


def name_of(item: object, key: Callable[[Any], str] | None) -> str:
    """The name identifying ``item``: ``key(item)``, the string itself, or its ``name``."""
    name: object
    if key is not None:
        name = key(item)
    elif isinstance(item, str):
        name = item
    else:
        name = getattr(item, "name", None)
    if isinstance(name, str) and name:
        return name if type(name) is str else str.__str__(name)
    if key is not None:
        raise TypeError(f"key() must return a non-empty string, got {name!r} for {item!r}")
    raise TypeError(
        "a provider must be a non-empty string or have a non-empty string 'name' (or pass "
        f"key=); got {type(item).__name__}"
    )


def _as_items(providers: Iterable[P]) -> Sequence[P]:
    if isinstance(providers, (str, bytes)):
        raise TypeError("providers must be a list of providers, not one string: use [name]")
    if isinstance(providers, (list, tuple)):
        return providers
    try:
        return tuple(providers)
    except TypeError:
        raise TypeError(
            f"providers must be a list or other iterable, got {type(providers).__name__}"
        ) from None


def report_success(cooldown: CooldownTracker, name: str) -> None:
    """Tell the tracker ``name`` succeeded, when it can listen (``report_success``)."""
    report = getattr(cooldown, "report_success", None)
    if report is not None:
        report(name)


class Chain(Generic[P]):
    """One call's walk through its providers (private; built only off the fast path)."""

    __slots__ = (
        "attempts",
        "cooldown",
        "exempt",
        "fallback_on",
        "hooks",
        "index",
        "items",
        "key",
        "logger",
        "names",
        "order",
        "pos",
        "skipped",
        "start",
        "stopped",
        "strategy",
    )

    def __init__(
        self,
        providers: Iterable[P],
        strategy: Strategy | str,
        cooldown: CooldownTracker | None,
        exempt: Collection[Any],
        counter: RoundRobinCounter | None,
        fallback_on: Callable[[BaseException], bool] | None,
        logger: logging.Logger | None,
        hooks: ExecuteHooks[P] | None,
        key: Callable[[P], str] | None,
    ) -> None:
        self.strategy = resolve_strategy(strategy)
        cls = providers.__class__
        items = (
            cast(Sequence[P], providers) if cls is list or cls is tuple else _as_items(providers)
        )
        if not items:
            raise NoProvidersError("no providers given: execute() needs at least one")
        n = len(items)
        self.items: Sequence[P] = items
        names: list[str] = []
        if key is None:
            for item in items:  # plain strings and plain-str names as they are
                if item.__class__ is str and item:
                    names.append(item)  # type: ignore[arg-type]
                    continue
                name = None if isinstance(item, str) else getattr(item, "name", None)
                names.append(name if name.__class__ is str and name else name_of(item, None))
        else:
            names = [name_of(item, key) for item in items]
        self.names = names
        if self.strategy is _ROUND_ROBIN:
            if counter is None:
                raise ConfigError(
                    "strategy round_robin needs counter=RoundRobinCounter(), one counter shared "
                    "by the calls it spreads (a fresh one per call would always pick the first)"
                )
            first = counter.next(n)
            self.order: Sequence[int] = [*range(first, n), *range(first)]
        elif self.strategy is _PRIMARY_ONLY:
            self.order = (0,)
        else:
            self.order = range(n)
        self.cooldown = cooldown
        self.exempt = exempt
        self.key = key
        self.fallback_on = fallback_on
        self.logger = logger if logger is not None else default_logger
        self.hooks = hooks
        self.attempts: list[Attempt] = []
        self.skipped: list[SkippedProvider] = []
        self.pos = 0
        self.index = -1
        self.start = 0.0
        self.stopped = False

    def resume(self, start: float) -> None:
        """Take over after the fast path called the first provider (available) at ``start``."""
        self.pos = 1
        self.index = 0
        self.start = start

    def begin(self) -> P:
        """The next provider to call (hooks told, clock started); raises when none is left."""
        order = self.order
        last = len(order) - 1
        cooldown = self.cooldown
        strategy = self.strategy
        while not self.stopped and self.pos <= last:
            index = order[self.pos]
            terminus = self.pos == last
            self.pos += 1
            name = self.names[index]
            if (
                cooldown is not None
                and (strategy is _ROUND_ROBIN or (strategy is _FALLBACK and not terminus))
                and not cooldown.is_available(name)
            ):
                self._skip(index, name, cooldown.cooldown_remaining(name))
                continue
            self.index = index
            item = self.items[index]
            if self.hooks is not None:
                self.hooks.attempt_started(item, name)
            self.start = perf_counter()
            return item
        raise self.exhausted()

    def succeeded(self, response: T) -> ExecuteResult[T]:
        """Record the success of the current attempt and build the result."""
        latency = perf_counter() - self.start
        index = self.index
        name = self.names[index]
        if self.cooldown is not None:
            report_success(self.cooldown, name)
        if self.hooks is not None:
            self.hooks.attempt_succeeded(self.items[index], name, response, latency)
        return ExecuteResult(
            response,
            name,
            latency,
            len(self.attempts) + 1,
            self.was_terminus(),
            tuple(self.attempts),
            tuple(self.skipped),
        )

    def failed(self, error: BaseException) -> bool:
        """Record that the current attempt raised ``error``.

        Returns True when ``error`` is a cancellation the driver must re-raise unchanged;
        raises :class:`AllProvidersFailedError` when the chain stops; returns False to go on.
        """
        latency = perf_counter() - self.start
        failure = _classify(error)
        index = self.index
        name = self.names[index]
        if failure.kind is _CANCELLED:
            self._cancelled(error, failure, latency)
            return True
        self.attempts.append(Attempt(name, error, failure, latency))
        cooling = self._record(name, failure)
        if self.hooks is not None:
            self.hooks.attempt_failed(self.items[index], name, error, failure, latency)
        has_next = self.strategy is _FALLBACK and self.pos < len(self.order)
        if has_next:
            fallback_on = self.fallback_on
            go_on = fallback_on(error) if fallback_on is not None else _falls_over(failure)
        else:
            go_on = False
        if self.logger.isEnabledFor(_INFO):
            action = "fallback" if go_on else "stop" if has_next else "give_up"
            log_failure(
                self.logger,
                name,
                error,
                failure,
                latency,
                action,
                cooling,
                len(self.attempts),
                self.strategy is _FALLBACK,
            )
        if go_on:
            return False
        self.stopped = has_next
        raise self.exhausted() from error

    def exhausted(self) -> AllProvidersFailedError:
        """The error for a call no provider served (the attempts and skips so far)."""
        untried = [self.names[i] for i in self.order[self.pos :]] if self.stopped else []
        return AllProvidersFailedError(self.attempts, self.skipped, untried)

    def was_terminus(self) -> bool:
        """Whether the current attempt is the last resort of a fallback chain."""
        return self.strategy is _FALLBACK and self.index == len(self.items) - 1

    # -- streams -------------------------------------------------------------------------

    def committed(self, has_chunk: bool) -> float:
        """The stream of the current attempt produced its first chunk (or ended empty):
        returns the seconds since the call started and tells the hooks."""
        elapsed = perf_counter() - self.start
        if has_chunk and self.hooks is not None:
            index = self.index
            self.hooks.first_chunk(self.items[index], self.names[index], elapsed)
        return elapsed

    def stream_ended(self, stream: object) -> None:
        """The committed stream was exhausted, closed or collected: a success."""
        latency = perf_counter() - self.start
        index = self.index
        name = self.names[index]
        if self.cooldown is not None:
            report_success(self.cooldown, name)
        if self.hooks is not None:
            self.hooks.attempt_succeeded(self.items[index], name, stream, latency)

    def interrupted(self, error: BaseException, chunks: int) -> StreamInterruptedError | None:
        """The committed stream raised ``error`` after ``chunks`` chunks.

        Records the failure (tracker, hooks, log) and returns the error to raise from it, or
        None for a cancellation, which the driver re-raises unchanged.
        """
        latency = perf_counter() - self.start
        failure = _classify(error)
        index = self.index
        name = self.names[index]
        if failure.kind is _CANCELLED:
            self._cancelled(error, failure, latency)
            return None
        cooling = self._record(name, failure)
        if self.hooks is not None:
            self.hooks.attempt_failed(self.items[index], name, error, failure, latency)
        log_interrupted(self.logger, name, error, failure, latency, chunks, cooling)
        return StreamInterruptedError(name, chunks, failure)

    # -- internals -----------------------------------------------------------------------

    def _record(self, name: str, failure: Failure) -> bool:
        """Put the failure on the tracker unless exempt or request-scoped; True if it cools."""
        cooldown = self.cooldown
        if cooldown is None or not failure.counts_against_health or self._exempt(name):
            return False
        return bool(cooldown.record_failure(name, failure))

    def _exempt(self, name: str) -> bool:
        """Whether ``name`` is in ``exempt`` (names, or providers named like the list's)."""
        exempt = self.exempt
        if not exempt:
            return False
        if isinstance(exempt, str):
            return name == exempt
        try:
            if name in exempt:
                return True
        except TypeError:  # a container that cannot hold strings
            pass
        return any(not isinstance(x, str) and name_of(x, self.key) == name for x in exempt)

    def _cancelled(self, error: BaseException, failure: Failure, latency: float) -> None:
        index = self.index
        notify_cancelled(
            self.items[index], self.names[index], error, failure, latency, self.hooks, self.logger
        )

    def _skip(self, index: int, name: str, remaining: float) -> None:
        self.skipped.append(SkippedProvider(name, remaining))
        if self.hooks is not None:
            self.hooks.provider_skipped(self.items[index], name, remaining)
        log_skip(self.logger, name, remaining)


def notify_cancelled(
    item: P,
    name: str,
    error: BaseException,
    failure: Failure | None,
    latency: float,
    hooks: ExecuteHooks[P] | None,
    logger: logging.Logger | None,
) -> None:
    """Tell the hooks (and the DEBUG log) that the call of ``item`` was cancelled; nothing
    is recorded against it. ``failure`` None: classify ``error`` here."""
    if hooks is not None:
        if failure is None:
            failure = _classify(error)
        hooks.attempt_failed(item, name, error, failure, latency)
    log_cancelled(logger if logger is not None else default_logger, name, error)


def _classify(error: BaseException) -> Failure:
    """The one classification of a provider error; anything that is not an ``Exception``
    (``CancelledError``, ``KeyboardInterrupt``, ``SystemExit``, ...) is a cancellation."""
    failure = classify_error(error)
    if failure.kind is _CANCELLED or isinstance(error, Exception):
        return failure
    return Failure(_CANCELLED, message=type(error).__name__)
