"""The options of one ``execute()`` call, validated once, and the small rules they carry:
how a strategy is named, how a provider is named, who is exempt, which errors fall over."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypedDict, TypeVar

from typing_extensions import Unpack

from ..errors import ConfigError
from ..failures import Failure, FailureKind, classify_error
from ..typing import CooldownTracker
from ._chunks import check_seconds
from ._log import default_logger
from ._retry import RetryBudget, RetryPolicy
from ._types import ExecuteHooks, RoundRobinCounter, Strategy

__all__ = [
    "AsyncRetryArgs",
    "AnyRetryArgs",
    "ExecuteOptions",
    "RetryArgs",
    "RetryOptions",
    "SyncRetryArgs",
    "as_sequence",
    "chain_order",
    "classify",
    "default_fallback_on",
    "name_of",
    "resolve_strategy",
]

P = TypeVar("P")


class RetryArgs(TypedDict, total=False):
    """The retry keyword arguments of every execute form (see "Retries" in
    :mod:`llmroute.execute`): ``retry``, ``deadline`` (seconds), ``budget``, ``clock``."""

    retry: RetryPolicy | None
    deadline: float | None
    budget: RetryBudget | None
    clock: Callable[[], float] | None


class SyncRetryArgs(RetryArgs, total=False):
    """:class:`RetryArgs` of the sync forms, with ``sleep`` (default ``time.sleep``)."""

    sleep: Callable[[float], object] | None


class AsyncRetryArgs(RetryArgs, total=False):
    """:class:`RetryArgs` of the async forms, with ``asleep`` (default ``asyncio.sleep``)."""

    asleep: Callable[[float], Awaitable[object]] | None


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
    return failure.kind not in (FailureKind.CANCELLED, FailureKind.BAD_REQUEST)


def classify(error: BaseException) -> Failure:
    """The one classification of a provider error; anything that is not an ``Exception``
    (``CancelledError``, ``KeyboardInterrupt``, ``SystemExit``, ...) is a cancellation."""
    failure = classify_error(error)
    if failure.kind is FailureKind.CANCELLED or isinstance(error, Exception):
        return failure
    return Failure(FailureKind.CANCELLED, message=type(error).__name__)


_STRATEGIES = {member.value: member for member in Strategy}


def resolve_strategy(strategy: Strategy | str) -> Strategy:
    """``strategy`` as a :class:`Strategy`; ``ConfigError`` names the valid ones otherwise."""
    found = _STRATEGIES.get(strategy) if isinstance(strategy, str) else None  # Strategy: a str
    if found is None:
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
        return str.__str__(name)  # the text of a str subclass, whatever its __str__ says
    if key is not None:
        raise TypeError(f"key() must return a non-empty string, got {name!r} for {item!r}")
    raise TypeError(
        "a provider must be a non-empty string or have a non-empty string 'name' (or pass "
        f"key=); got {type(item).__name__}"
    )


class AnyRetryArgs(SyncRetryArgs, AsyncRetryArgs, total=False):
    """Every retry keyword argument (``ExecuteOptions.build`` takes them all)."""

    rng: Any


class RetryOptions(NamedTuple):
    """The retry part of :class:`ExecuteOptions` (None there when no retry argument was
    given; an immutable named tuple, built by :meth:`of`): the ``retry`` policy, the
    ``deadline`` (seconds), the shared ``budget``, the ``clock`` the deadline is read on
    (``time.monotonic``), the sleepers ``sleep`` / ``asleep`` (``time.sleep`` /
    ``asyncio.sleep``) and the ``rng`` of the jitter (anything with ``random()``)."""

    retry: RetryPolicy | None = None
    deadline: float | None = None
    budget: RetryBudget | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] = time.sleep
    asleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    rng: Any = None
    #: Whether a call has a deadline or a budget to keep (set by :meth:`of`).
    limited: bool = False

    @classmethod
    def of(cls, args: Mapping[str, Any]) -> RetryOptions:
        """The options from the retry keyword arguments, validated: a ``deadline`` that is
        not finite seconds > 0 is a ``ValueError``, a ``retry`` that is not a
        :class:`RetryPolicy` a ``TypeError``; a clock or sleeper given as None is the
        default one."""
        limited = args.get("deadline") is not None or args.get("budget") is not None
        made = cls(**args, limited=limited)
        deadline, retry = made.deadline, made.retry
        check_seconds("deadline", deadline)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(f"retry must be a RetryPolicy or None, got {retry!r}")
        if made.clock is None or made.sleep is None or made.asleep is None:
            made = made._replace(
                clock=made.clock or time.monotonic,
                sleep=made.sleep or time.sleep,
                asleep=made.asleep or asyncio.sleep,
            )
        return made


@dataclass(frozen=True, slots=True)
class ExecuteOptions(Generic[P]):
    """Everything but the providers and ``fn`` that decides how an ``execute()`` call runs.

    The four drivers build one from their keyword arguments (:meth:`build`) and hand it to
    the attempt loop; build one yourself to drive the loop from outside. The fields mean what
    the keyword arguments of :func:`execute` mean; construction validates them (an unknown
    strategy, or ``round_robin`` without a counter, raises ``ConfigError``). ``retrying``
    holds the retry arguments (:class:`RetryOptions`), None when none was given.
    """

    strategy: Strategy = Strategy.FALLBACK
    cooldown: CooldownTracker | None = None
    exempt: Collection[Any] = ()
    counter: RoundRobinCounter | None = None
    fallback_on: Callable[[BaseException], bool] | None = None
    logger: logging.Logger = default_logger
    hooks: ExecuteHooks[P] | None = None
    key: Callable[[P], str] | None = None
    retrying: RetryOptions | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.strategy, Strategy):  # given by name
            object.__setattr__(self, "strategy", resolve_strategy(self.strategy))
        if self.strategy is Strategy.ROUND_ROBIN and self.counter is None:
            raise ConfigError(
                "strategy round_robin needs counter=RoundRobinCounter(), one counter shared "
                "by the calls it spreads (a fresh one per call would always pick the first)"
            )

    @classmethod
    def build(
        cls,
        *,
        strategy: Strategy | str = Strategy.FALLBACK,
        cooldown: CooldownTracker | None = None,
        exempt: Collection[Any] = (),
        counter: RoundRobinCounter | None = None,
        fallback_on: Callable[[BaseException], bool] | None = None,
        logger: logging.Logger | None = None,
        hooks: ExecuteHooks[P] | None = None,
        key: Callable[[P], str] | None = None,
        **retrying: Unpack[AnyRetryArgs],
    ) -> ExecuteOptions[P]:
        """The options from ``execute()``'s keyword arguments: a strategy may be given by
        name, ``logger=None`` means ``logging.getLogger("llmroute.execute")``, and the retry
        arguments (:class:`RetryArgs`) make the ``retrying`` part."""
        return cls.of_call(
            strategy, cooldown, exempt, counter, fallback_on, logger, hooks, key, retrying
        )

    @classmethod
    def of_call(
        cls,
        strategy: Strategy | str,
        cooldown: CooldownTracker | None,
        exempt: Collection[Any],
        counter: RoundRobinCounter | None,
        fallback_on: Callable[[BaseException], bool] | None,
        logger: logging.Logger | None,
        hooks: ExecuteHooks[P] | None,
        key: Callable[[P], str] | None,
        retrying: Mapping[str, Any],
    ) -> ExecuteOptions[P]:
        """:meth:`build` with positional arguments and the retry arguments as one mapping
        (what the drivers call: the cheapest way when no retry argument is given)."""
        return cls(
            resolve_strategy(strategy),
            cooldown,
            exempt,
            counter,
            fallback_on,
            default_logger if logger is None else logger,
            hooks,
            key,
            _retry_options(retrying) if retrying else None,
        )

    def falls_over(self, error: BaseException, failure: Failure) -> bool:
        """Whether ``error`` (classified as ``failure``) moves on to the next provider."""
        if self.fallback_on is None:
            return _falls_over(failure)
        return self.fallback_on(error)

    def is_exempt(self, name: str) -> bool:
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


def as_sequence(providers: Iterable[P]) -> Sequence[P]:
    """``providers`` as a sequence (``TypeError`` for one string or a non-iterable)."""
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


def chain_order(options: ExecuteOptions[Any], n: int) -> Sequence[int]:
    """The positions in the list the strategy tries, in order."""
    if options.strategy is Strategy.PRIMARY_ONLY:
        return (0,)
    if options.strategy is Strategy.ROUND_ROBIN:
        assert options.counter is not None  # ExecuteOptions checked it
        first = options.counter.next(n)
        return [*range(first, n), *range(first)]
    return range(n)


def _retry_options(args: Mapping[str, Any]) -> RetryOptions:
    """``RetryOptions.of(args)``; a policy or a budget given alone reuses the options made
    for it once (kept on it: the common calls build nothing)."""
    if len(args) != 1:
        return RetryOptions.of(args)
    (only,) = args.values()
    if not isinstance(only, (RetryPolicy, RetryBudget)):
        return RetryOptions.of(args)
    alone: RetryOptions | None = only._alone
    if alone is None:
        alone = RetryOptions.of(args)
        object.__setattr__(only, "_alone", alone)  # a cache of what the object alone means
    return alone
