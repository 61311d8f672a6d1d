"""Reading health for people: :class:`ServiceHealth` reports and the log lines of transitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

from ..failures import Failure
from ._state import Event, HealthState

__all__ = ["HealthStatus", "ServiceHealth", "emit", "report"]

_log = logging.getLogger("llmroute.health")


class HealthStatus(str, Enum):
    """Where a service stands: healthy, unhealthy (ejected), or unhealthy with a probe running."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    PROBING = "probing"


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """An immutable report of one service's health (from :meth:`HealthMonitor.get_health`).

    ``unhealthy_until`` is the clock time the current ejection ends (None when healthy; in the
    past when a probe is due). ``ejections`` counts ejections since the last success (it drives
    the growing recovery time); ``total_ejections``, ``error_count`` and ``success_count`` are
    lifetime counts (errors that counted against health; successes reported on a record).
    """

    service_id: str
    status: HealthStatus = HealthStatus.HEALTHY
    consecutive_errors: int = 0
    last_error: Failure | None = None
    last_error_time: float | None = None
    last_success_time: float | None = None
    rate_limited: bool = False
    auth_error: bool = False
    unhealthy_until: float | None = None
    ejections: int = 0
    total_ejections: int = 0
    error_count: int = 0
    success_count: int = 0

    @property
    def healthy(self) -> bool:
        """True when the status is HEALTHY."""
        return self.status is HealthStatus.HEALTHY


def report(service_id: str, state: HealthState, now: float) -> ServiceHealth:
    """The report of one service's state as of ``now``."""
    if state.healthy:
        status = HealthStatus.HEALTHY
    elif now < state.probe_until:
        status = HealthStatus.PROBING
    else:
        status = HealthStatus.UNHEALTHY
    return ServiceHealth(
        service_id=str(service_id),
        status=status,
        consecutive_errors=state.consecutive_errors,
        last_error=state.last_error,
        last_error_time=state.last_error_time,
        last_success_time=state.last_success_time,
        rate_limited=not state.healthy and now < state.rate_limited_until,
        auth_error=state.auth_error,
        unhealthy_until=None if state.healthy else state.unhealthy_until,
        ejections=state.ejections,
        total_ejections=state.total_ejections,
        error_count=state.error_count,
        success_count=state.success_count,
    )


def emit(events: list[Event]) -> None:
    """Log health events: ejections at WARNING, recoveries at INFO."""
    for event in events:
        sid = event["service_id"]
        if event["event"] == "ejected":
            _log.warning(
                "service %s unhealthy for %.1fs (%s)",
                sid,
                event["recovery_seconds"],
                event["reason"],
                extra=event,
            )
        else:
            _log.info("service %s healthy again (%s)", sid, event["reason"], extra=event)
