"""The link to Redis: connected or not, when to try again, and the two log lines of an
outage (one WARNING when it starts, one INFO when it ends)."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["Link", "Throttle"]

_log = logging.getLogger("llmroute.redis")

_FIRST_BACKOFF = 0.1
_MAX_BACKOFF = 5.0


class Link:
    """Whether Redis answered last time, and the reconnect backoff while it does not.

    While down, :meth:`may_try` is True once per backoff step (0.1 s doubling to 5 s), so one
    caller at a time pays a connection attempt (bounded by the socket timeout) and every
    other serves from the local view at once.
    """

    def __init__(self, where: str) -> None:
        self._where = where
        self._lock = threading.Lock()
        self._up = True
        self._backoff = _FIRST_BACKOFF
        self._retry_at = 0.0
        self._since = 0.0
        self._failures = 0

    @property
    def up(self) -> bool:
        """Whether the last call to Redis succeeded."""
        return self._up

    @property
    def epoch(self) -> int:
        """How many calls have failed so far: a call takes it when it starts and hands it to
        :meth:`ok`, so a call that began before a failure does not end that outage."""
        return self._failures

    def may_try(self) -> bool:
        """Whether a call to Redis should be made now (always while up; once per backoff step
        while down: the caller that gets True is the one that tries)."""
        if self._up:
            return True
        with self._lock:
            now = time.monotonic()
            if now < self._retry_at:
                return False
            self._retry_at = now + self._backoff
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
            return True

    def ok(self, epoch: int) -> None:
        """A call that started at ``epoch`` succeeded: log the end of an outage (once), unless
        a call failed after it started (its success says nothing of Redis now)."""
        if self._up:
            return
        with self._lock:
            if self._up or epoch != self._failures:
                return
            self._up = True
            self._backoff = _FIRST_BACKOFF
            seconds = time.monotonic() - self._since
        _log.info(
            "llmroute: Redis at %s is reachable again after %.1f s; shared state resumes",
            self._where,
            seconds,
            extra={"event": "redis_reconnected", "redis": self._where, "outage_s": seconds},
        )

    def failed(self, error: BaseException) -> None:
        """A call failed: log the start of an outage (once) and start the backoff."""
        with self._lock:
            self._failures += 1
            if not self._up:
                return
            self._up = False
            self._since = time.monotonic()
            self._retry_at = self._since + self._backoff
        _log.warning(
            "llmroute: Redis at %s is unreachable (%s); routing from the local view, "
            "outcomes kept locally until it is back",
            self._where,
            type(error.__cause__ or error).__name__,
            extra={"event": "redis_unreachable", "redis": self._where},
        )


class Throttle:
    """At most one log line per ``every`` seconds for one kind of trouble; :meth:`due`
    answers whether to log now and how many were left unlogged since the last line."""

    def __init__(self, every: float = 60.0) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._next = 0.0
        self._skipped = 0

    def due(self) -> int | None:
        """None when this one is not to be logged; else how many were skipped before it."""
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._skipped += 1
                return None
            self._next = now + self._every
            skipped, self._skipped = self._skipped, 0
            return skipped
