"""Exceptions raised by llmroute.

Every exception llmroute raises on purpose derives from :class:`LLMRouteError`, so one
``except LLMRouteError`` catches them all. Where the meaning fits a builtin too, the class
also derives from it (a bad configuration is a ``ValueError``)::

    LLMRouteError
    +-- ConfigError (also ValueError)       configuration that does not validate
    +-- NoServiceAvailableError             a rule has no service left to choose
    +-- NoProvidersError (also ValueError)  execute() was given no provider
    +-- AllProvidersFailedError             no provider served the call (carries every attempt)
    +-- StreamInterruptedError              a stream broke after its first chunk
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .execute import Attempt, SkippedProvider
    from .failures import Failure

__all__ = [
    "AllProvidersFailedError",
    "ConfigError",
    "LLMRouteError",
    "NoProvidersError",
    "NoServiceAvailableError",
    "StreamInterruptedError",
]


class LLMRouteError(Exception):
    """Base class of every error llmroute raises on purpose."""


class ConfigError(LLMRouteError, ValueError):
    """A configuration that does not validate.

    The message names where in the document each problem is, one per line, for example
    ``rules[0].services[1].weight: must be >= 0``. ``problems`` holds the same as
    ``(path, message)`` pairs (the path is ``""`` for the document itself) and ``source``
    names the file when the configuration was read from one.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        problems: Sequence[tuple[str, str]] = (),
        source: str | None = None,
    ) -> None:
        self.problems: tuple[tuple[str, str], ...] = tuple(problems)
        self.source = source
        if message is None:
            message = _render(self.problems)
        if source:
            message = f"{source}: {message}"
        super().__init__(message)


def _render(problems: Sequence[tuple[str, str]]) -> str:
    lines = [f"{path}: {msg}" if path else msg for path, msg in problems]
    if len(lines) == 1:
        return lines[0]
    return f"{len(lines)} configuration errors:\n" + "\n".join(f"  {line}" for line in lines)


class NoServiceAvailableError(LLMRouteError):
    """A rule has no service left that could serve the request.

    ``rule`` is the rule's uuid; the message says what removed the candidates.
    """

    def __init__(self, message: str, *, rule: str = "") -> None:
        self.rule = rule
        super().__init__(message)


class NoProvidersError(LLMRouteError, ValueError):
    """``execute()`` (or a stream form) was given an empty list of providers."""


class AllProvidersFailedError(LLMRouteError):
    """No provider served the call: each one tried failed, or was cooling down.

    ``attempts`` holds every failed attempt in order (:class:`llmroute.Attempt`: provider name,
    error, classified failure, latency); ``skipped`` every provider passed over because it was
    cooling down (:class:`llmroute.SkippedProvider`); ``untried`` the providers never reached
    because an error stopped the chain (a plain bad request is not sent elsewhere). The last
    error is ``last_error`` and the ``__cause__``; both are None when every provider was
    skipped. ``primary_only`` and ``round_robin`` raise it too, around their one attempt, so a
    single ``except AllProvidersFailedError`` catches every way a call can fail.
    """

    def __init__(
        self,
        attempts: Sequence[Attempt] = (),
        skipped: Sequence[SkippedProvider] = (),
        untried: Sequence[str] = (),
        windows: Sequence[float] = (),
        reason: str = "",
    ) -> None:
        self.reason = reason
        self.attempts: tuple[Attempt, ...] = tuple(attempts)
        self.skipped: tuple[SkippedProvider, ...] = tuple(skipped)
        self.untried: tuple[str, ...] = tuple(untried)
        self.windows: tuple[float, ...] = tuple(windows)
        message = _all_failed_message(self.attempts, self.skipped, self.untried)
        super().__init__(f"{message}; stopped: {reason}" if reason else message)
        if self.attempts:
            self.__cause__ = self.attempts[-1].error

    @property
    def last_error(self) -> BaseException | None:
        """The error of the last attempt (None when no provider was tried)."""
        return self.attempts[-1].error if self.attempts else None

    @property
    def last_failure(self) -> Failure | None:
        """The classification of the last attempt's error (None when none was tried)."""
        return self.attempts[-1].failure if self.attempts else None

    @property
    def retry_after(self) -> float | None:
        """Seconds until a provider is expected back, or None when nothing says.

        The shortest of: the skipped providers' remaining cooldowns, the Retry-After hints of
        the failures, and the cooldowns the tried providers entered (``windows``, from the
        cooldown tracker, this call's ejections included). What to put in a ``Retry-After``
        header of your own.
        """
        hints = [skip.cooldown_remaining for skip in self.skipped]
        hints += [a.failure.retry_after for a in self.attempts if a.failure.retry_after is not None]
        hints += self.windows
        return min(hints) if hints else None

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.attempts, self.skipped, self.untried, self.windows, self.reason))


def _all_failed_message(
    attempts: Sequence[Attempt], skipped: Sequence[SkippedProvider], untried: Sequence[str]
) -> str:
    cooling = ", ".join(f"{s.provider} ({s.cooldown_remaining:.1f}s left)" for s in skipped)
    if not attempts:
        if len(skipped) == 1:
            only = skipped[0]
            return f"provider {only.provider} is cooling down ({only.cooldown_remaining:.1f}s left)"
        return f"all {len(skipped)} providers are cooling down: {cooling}"
    failed = ", ".join(_attempt_text(a) for a in attempts)
    if untried:
        last = attempts[-1]
        head = (
            f"provider {last.provider} failed with {last.failure.kind.value}, which does not "
            f"fall back to another provider (not tried: {', '.join(untried)})"
        )
    elif len(attempts) == 1 and not skipped:
        return f"provider {_attempt_text(attempts[0]).replace(' -> ', ' failed: ', 1)}"
    elif skipped:
        head = "no provider served the call"
    else:
        tried = len({a.provider for a in attempts})
        extra = f" ({len(attempts)} attempts)" if len(attempts) > tried else ""
        head = f"all {tried} providers failed{extra}"
    message = f"{head}: {failed}"
    return f"{message}; cooling down: {cooling}" if cooling else message


def _attempt_text(attempt: Attempt) -> str:
    """``service -> kind (HTTP status): ExceptionType: text``; the text is the failure's
    message, cut at 200 characters with secrets masked (by the classification)."""
    text = f"{attempt.provider} -> {describe_failure(attempt.failure)}: "
    text += type(attempt.error).__name__
    return f"{text}: {attempt.failure.message}" if attempt.failure.message else text


def describe_failure(failure: Failure) -> str:
    """``kind (HTTP status, retry after Ns)``: a failure in a few words, without its message."""
    details = []
    if failure.status_code is not None:
        details.append(f"HTTP {failure.status_code}")
    if failure.retry_after is not None:
        details.append(f"retry after {failure.retry_after:g}s")
    kind = failure.kind.value
    return f"{kind} ({', '.join(details)})" if details else kind


class StreamInterruptedError(LLMRouteError):
    """A stream failed after its first chunk, when its provider was already committed.

    Chunks already handed to you cannot be taken back, so there is no fail-over: ``provider``
    names the provider, ``chunks_delivered`` says how many chunks got through, ``failure`` is
    the classified error and ``__cause__`` the error itself.
    """

    def __init__(
        self, provider: str, chunks_delivered: int, failure: Failure | None = None
    ) -> None:
        self.provider = provider
        self.chunks_delivered = chunks_delivered
        self.failure = failure
        reason = f": {describe_failure(failure)}" if failure is not None else ""
        plural = "" if chunks_delivered == 1 else "s"
        super().__init__(
            f"stream from provider {provider} broke after {chunks_delivered} chunk{plural}{reason}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.provider, self.chunks_delivered, self.failure))
