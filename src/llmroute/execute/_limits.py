"""What bounds one ``execute()`` call besides its providers: the deadline (and the time left
that :func:`time_left` offers ``fn``) and its share of a :class:`RetryBudget`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..typing import CooldownTracker
from ._options import ExecuteOptions, RetryOptions
from ._retry import DEADLINE
from ._types import Attempt

__all__ = ["CallLimits", "apause", "cooldown_windows", "pause"]


class CallLimits:
    """One call's deadline and retry-budget counts; the loop holds one only when the call
    has a deadline or a budget, and :meth:`close` gives everything back once."""

    __slots__ = ("_open", "_slot", "_token", "at", "options", "reason")

    def __init__(self, options: RetryOptions) -> None:
        self.options = options
        self.reason = ""
        self._slot = False  # the current attempt holds a slot of the retry budget
        self._open = True
        self.at: float | None = None
        self._token: Any = None
        if options.deadline is not None:
            self.at = options.clock() + options.deadline
            self._token = DEADLINE.set((self.at, options.clock))
        if options.budget is not None:
            options.budget.enter()

    def time_left(self) -> float | None:
        """Seconds left before the deadline (never below 0), None without one."""
        return None if self.at is None else max(0.0, self.at - self.options.clock())

    def refused(self, wait: float) -> str:
        """Why the next attempt, ``wait`` seconds from now, may not start ("" if it may):
        ``deadline`` or ``budget`` (``reason`` says it in words); else a slot is taken."""
        opts = self.options
        if self.at is not None and opts.clock() + wait >= self.at:
            self.reason = f"the deadline of {opts.deadline:g}s ran out"
            return "deadline"
        budget = opts.budget
        if budget is not None:
            if not budget.try_retry():
                self.reason = "the retry budget is spent (too many retries in flight)"
                return "budget"
            self._slot = True
        return ""

    def attempt_ended(self) -> None:
        """The current attempt ended: its budget slot (if any) is given back."""
        if self._slot:
            self._slot = False
            budget = self.options.budget
            if budget is not None:
                budget.retry_done()

    def close(self) -> None:
        """The call is decided: give back the budget's counts and the deadline's context."""
        if not self._open:
            return
        self._open = False
        self.attempt_ended()
        budget = self.options.budget
        if budget is not None:
            budget.leave()
        if self._token is not None:
            try:
                DEADLINE.reset(self._token)
            except ValueError:  # another context (a stream closed elsewhere)
                DEADLINE.set(None)
            self._token = None


def cooldown_windows(
    cooldown: CooldownTracker | None, attempts: Sequence[Attempt]
) -> tuple[float, ...]:
    """The cooldowns the tried providers are in now (this call's failures included)."""
    if cooldown is None:
        return ()
    windows = []
    for name in dict.fromkeys(a.provider for a in attempts):
        try:
            remaining = cooldown.cooldown_remaining(name)
        except Exception:  # a tracker that cannot say: no window from it
            continue
        if remaining > 0:
            windows.append(float(remaining))
    return tuple(windows)


class _Driven(Protocol):
    @property
    def options(self) -> ExecuteOptions[Any]: ...

    def abandon(self) -> None: ...


def pause(loop: _Driven, wait: float) -> None:
    """Wait ``wait`` seconds on the call's ``sleep``; the call is abandoned if that raises
    (``KeyboardInterrupt``), so its budget counts and deadline are given back."""
    try:
        _retrying(loop).sleep(wait)
    except BaseException:
        loop.abandon()
        raise


async def apause(loop: _Driven, wait: float) -> None:
    """:func:`pause` on the call's ``asleep`` (a cancelled task abandons the call)."""
    try:
        await _retrying(loop).asleep(wait)
    except BaseException:
        loop.abandon()
        raise


def _retrying(loop: _Driven) -> RetryOptions:
    retrying = loop.options.retrying
    assert retrying is not None  # a wait comes from a retry policy
    return retrying
