"""Test doubles shipped with llmroute, for your tests and ours. Nothing in the package
imports this module."""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]


class FakeClock:
    """A clock you move by hand: call it for the time, :meth:`advance` it, never sleep.

    Pass it wherever llmroute takes ``clock=``. It starts at ``start`` seconds (a fixed
    epoch-like value by default, so it reads like wall time).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got advance({seconds})")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (not earlier than the current time)."""
        with self._lock:
            if now < self._now:
                raise ValueError(f"a clock only moves forward; {now} < {self._now}")
            self._now = float(now)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"
