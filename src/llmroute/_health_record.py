"""One service's mutable health record and its state transitions (private to the monitor).

Every transition runs with the record's ``lock`` held and returns the log events it caused, so
the monitor can log after releasing the lock. ``healthy`` and ``unhealthy_until`` are written
in an order that lets the monitor's hot path read them without the lock: ``unhealthy_until``
before ``healthy`` turns False, ``healthy`` last when it turns True.
"""

from __future__ import annotations

import threading
from typing import Any

from .config import HealthConfig
from .failures import Failure

#: A log event: the event name plus the structured fields that go into ``extra``.
Event = dict[str, Any]

_MAX_DOUBLINGS = 62


def backoff(config: HealthConfig, ejection: int) -> float:
    """Recovery time of the ``ejection``-th ejection in a row: base * 2**(n-1), capped."""
    doublings = min(max(ejection - 1, 0), _MAX_DOUBLINGS)
    seconds = config.recovery_timeout_seconds * float(2**doublings)
    return min(seconds, config.max_recovery_timeout_seconds)


class Record:
    """The health state of one service; mutate only with ``lock`` held."""

    __slots__ = (
        "auth_error",
        "consecutive_errors",
        "ejections",
        "epoch",
        "error_count",
        "healthy",
        "last_error",
        "last_error_time",
        "last_success_time",
        "lock",
        "probing",
        "rate_limited_until",
        "success_count",
        "total_ejections",
        "unhealthy_until",
    )

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.epoch = 0
        self.probing = False
        self.error_count = 0
        self.success_count = 0
        self.total_ejections = 0
        self._clear()

    def _clear(self) -> None:
        self.unhealthy_until = 0.0
        self.healthy = True
        self.rate_limited_until = 0.0
        self.auth_error = False
        self.consecutive_errors = 0
        self.ejections = 0
        self.last_error: Failure | None = None
        self.last_error_time: float | None = None
        self.last_success_time: float | None = None

    # -- transitions ---------------------------------------------------------------------

    def settle(self, sid: str, now: float, probing_on: bool) -> list[Event]:
        """Without probes, re-admit a service whose recovery time has passed."""
        if self.healthy or probing_on or now < self.unhealthy_until:
            return []
        return [self._readmit(sid, "recovery timeout elapsed")]

    def error(
        self, sid: str, failure: Failure, config: HealthConfig, now: float, probing_on: bool
    ) -> list[Event]:
        """A failure that counts against health and is neither a rate limit nor auth."""
        events = self._note_error(sid, failure, now, probing_on)
        self.consecutive_errors += 1
        if self.healthy:
            if self.consecutive_errors >= config.consecutive_error_threshold:
                events.append(self._eject(sid, failure, now, backoff(config, self.ejections + 1)))
        elif self._due(now):  # real traffic failed where a probe was due: re-arm
            events.append(self._eject(sid, failure, now, backoff(config, self.ejections + 1)))
        return events

    def rate_limit(
        self,
        sid: str,
        failure: Failure,
        retry_after: float | None,
        config: HealthConfig,
        now: float,
        probing_on: bool,
    ) -> list[Event]:
        """Unhealthy at once until Retry-After (clamped to [1 s, max]) or the recovery time."""
        events = self._note_error(sid, failure, now, probing_on)
        self.consecutive_errors = 0
        ejecting = self.healthy or self._due(now)
        if retry_after is not None:
            window = min(max(retry_after, 1.0), config.max_recovery_timeout_seconds)
        else:
            window = backoff(config, self.ejections + 1 if ejecting else max(self.ejections, 1))
        self.rate_limited_until = max(self.rate_limited_until, now + window)
        if ejecting:
            events.append(self._eject(sid, failure, now, window))
        else:
            self.unhealthy_until = max(self.unhealthy_until, now + window)
        return events

    def auth(
        self, sid: str, failure: Failure, config: HealthConfig, now: float, probing_on: bool
    ) -> list[Event]:
        """Unhealthy at once, flagged as an auth problem, until a success or recovery."""
        events = self._note_error(sid, failure, now, probing_on)
        self.auth_error = True
        if self.healthy or self._due(now):
            events.append(self._eject(sid, failure, now, backoff(config, self.ejections + 1)))
        return events

    def success(self, sid: str, now: float) -> list[Event]:
        """Reset the error count and the growth; end the ejection unless rate limited."""
        self.success_count += 1
        self.last_success_time = now
        self.consecutive_errors = 0
        self.ejections = 0
        if self.healthy:
            return []
        if now < self.rate_limited_until:  # still inside the provider's rate-limit window
            self.auth_error = False
            self.unhealthy_until = self.rate_limited_until
            return []
        return [self._readmit(sid, "success")]

    def start_probe(self) -> int:
        """Mark a probe as running; returns the epoch the result must still match."""
        self.probing = True
        return self.epoch

    def finish_probe(
        self,
        sid: str,
        epoch: int,
        ok: bool,
        failure: Failure | None,
        config: HealthConfig,
        now: float,
    ) -> list[Event]:
        """Apply a probe's result, unless the state moved on while it ran."""
        self.probing = False
        if epoch != self.epoch or self.healthy:
            return []
        if ok:
            return [self._readmit(sid, "probe succeeded")]
        if failure is not None:
            self.last_error = failure
            self.last_error_time = now
        return [self._eject(sid, failure, now, backoff(config, self.ejections + 1), "probe failed")]

    def reset(self) -> bool:
        """Forget everything (a fresh healthy record); True when it was unhealthy."""
        was_unhealthy = not self.healthy
        self.epoch += 1
        self.error_count = 0
        self.success_count = 0
        self.total_ejections = 0
        self._clear()
        return was_unhealthy

    # -- helpers -------------------------------------------------------------------------

    def _due(self, now: float) -> bool:
        return not self.healthy and not self.probing and now >= self.unhealthy_until

    def _note_error(self, sid: str, failure: Failure, now: float, probing_on: bool) -> list[Event]:
        events = self.settle(sid, now, probing_on)
        self.error_count += 1
        self.last_error = failure
        self.last_error_time = now
        return events

    def _eject(
        self, sid: str, failure: Failure | None, now: float, seconds: float, reason: str = ""
    ) -> Event:
        self.ejections += 1
        self.total_ejections += 1
        self.epoch += 1
        self.unhealthy_until = now + seconds
        self.healthy = False
        return {
            "event": "ejected",
            "service_id": sid,
            "reason": reason or (failure.kind.value if failure else "unknown"),
            "status_code": failure.status_code if failure else None,
            "error_code": failure.code if failure else None,
            "consecutive_errors": self.consecutive_errors,
            "ejections": self.ejections,
            "recovery_seconds": seconds,
            "rate_limited": now < self.rate_limited_until,
            "auth_error": self.auth_error,
        }

    def _readmit(self, sid: str, reason: str) -> Event:
        self.epoch += 1
        self.rate_limited_until = 0.0
        self.auth_error = False
        self.consecutive_errors = 0
        self.unhealthy_until = 0.0
        self.healthy = True
        return {"event": "recovered", "service_id": sid, "reason": reason}
