"""Service health: eject failing services, honour rate limits, re-admit with growing timeouts.

:class:`HealthMonitor` keeps one record per service id (a :class:`ServiceID` or its string; any
non-empty string works, so provider names do too). Errors are classified once by
:func:`llmroute.classify_error`; request-scoped failures (bad request, context length, content
policy, cancellation) are ignored. A service is ejected after ``consecutive_error_threshold``
errors in a row, at once on a rate limit (until Retry-After, clamped to [1 s, max], or the
recovery time) or an auth error. Each ejection that follows another without a success in between
doubles the recovery time up to the maximum (60, 120, 240, ... 600 s by default); a success
resets it. When the recovery time has passed the service is re-admitted, or, with a probe, the
probe decides (one probe per service at a time; others see the service unhealthy meanwhile).

State transitions are logged on ``logging.getLogger("llmroute.health")`` with structured
``extra`` fields (``event``, ``service_id``, ``reason``, ``recovery_seconds``, ...).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ._clock import Clock, system_clock
from ._health_record import Event, Record
from ._health_view import CooldownTracker, HealthFilter
from .config import HealthConfig
from .failures import Failure, FailureKind, classify_error

__all__ = [
    "CooldownTracker",
    "HealthFilter",
    "HealthMonitor",
    "HealthStatus",
    "Probe",
    "ServiceHealth",
]

_log = logging.getLogger("llmroute.health")

#: A health probe: called with the service id, returns True when the service is healthy again.
#: Raising counts as a failed probe. It runs on the thread that asked ``is_healthy``.
Probe = Callable[[str], bool]


class HealthStatus(str, Enum):
    """Where a service stands: healthy, unhealthy (ejected), or unhealthy with a probe running."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    PROBING = "probing"


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """An immutable snapshot of one service's health (from :meth:`HealthMonitor.get_health`).

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


class HealthMonitor:
    """Thread-safe health state of services, keyed by service id (implements ``CooldownTracker``).

    ``HealthMonitor(config=None, *, clock=None, probe=None)``: ``config`` defaults to
    :class:`HealthConfig` with ``probe_enabled`` set when a ``probe`` is given; ``clock``
    defaults to ``time.time``. Probing runs only while ``config.probe_enabled`` is true and a
    probe is set (``probe_enabled`` without a probe raises ``ValueError``). Locking is per
    service; no lock is held while a probe runs. :meth:`is_healthy` on a service without a
    record or with a healthy one takes no lock.

    Re-admission (timeout or probe) clears the error count but not the growth: only a reported
    success does. A failed probe, or a counted failure of real traffic while a probe is due,
    re-arms the ejection with the next (doubled) recovery time.
    """

    def __init__(
        self,
        config: HealthConfig | None = None,
        *,
        clock: Clock | None = None,
        probe: Probe | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a zero-argument callable, got {clock!r}")
        if probe is not None and not callable(probe):
            raise TypeError(f"probe must be a callable taking a service id, got {probe!r}")
        self._clock: Clock = clock if clock is not None else system_clock
        self._probe_fn = probe
        self._records: dict[str, Record] = {}
        self._lock = threading.Lock()  # guards creation and removal of records only
        self._ejected: set[str] = set()  # ids whose record is unhealthy (see any_unhealthy)
        self._config = HealthConfig(probe_enabled=probe is not None)
        self._probe: Probe | None = None
        self.update_config(config if config is not None else self._config)

    @property
    def config(self) -> HealthConfig:
        """The configuration in force."""
        return self._config

    def update_config(self, config: HealthConfig) -> None:
        """Swap the configuration; current ejections keep their end times.

        The new threshold and recovery times apply from the next report. Raises ``TypeError``
        for a non-:class:`HealthConfig` and ``ValueError`` when it enables probing but this
        monitor has no probe.
        """
        if not isinstance(config, HealthConfig):
            raise TypeError(f"config must be a HealthConfig, got {type(config).__name__}")
        if config.probe_enabled and self._probe_fn is None:
            raise ValueError("health config has probe_enabled=true but no probe= was given")
        self._config = config
        self._probe = self._probe_fn if config.probe_enabled else None

    # -- reading -------------------------------------------------------------------------

    def is_healthy(self, service_id: str) -> bool:
        """True when ``service_id`` may take traffic; a service never reported is healthy.

        Once an ejection's recovery time has passed the service is re-admitted, or, with
        probing on, this call runs the probe (only one caller per service does; the others get
        False until it finishes).
        """
        record = self._records.get(service_id)
        if record is None or record.healthy:
            return True
        return self._recheck(service_id, record)

    def any_unhealthy(self) -> bool:
        """False only when every service reads healthy, so callers may skip per-service checks.

        May answer True for a service whose recovery time has just passed (it is re-admitted on
        its next :meth:`is_healthy`); never answers False while one is ejected.
        """
        return bool(self._ejected)

    def get_health(self, service_id: str) -> ServiceHealth:
        """A snapshot of ``service_id``'s health (a healthy, empty one when never reported).

        Re-admits a service whose recovery time has passed when probing is off; never runs a
        probe.
        """
        record = self._records.get(service_id)
        if record is None:
            return ServiceHealth(service_id=str(service_id))
        now = self._clock()
        with record.lock:
            events = record.settle(service_id, now, self._probe is not None)
            self._track(service_id, record)
            snapshot = _snapshot(service_id, record, now)
        _emit(events)
        return snapshot

    def get_all_health(self) -> dict[str, ServiceHealth]:
        """Snapshots of every service with a record, keyed by service id."""
        with self._lock:
            keys = list(self._records)
        return {key: self.get_health(key) for key in keys}

    # -- reporting -----------------------------------------------------------------------

    def report_success(self, service_id: str) -> None:
        """A call succeeded: reset the error count and the growing recovery time, and end an
        ejection (auth included) unless a rate-limit window is still running. No-op for a
        service without a record."""
        record = self._records.get(service_id)
        if record is None:
            return
        now = self._clock()
        with record.lock:
            events = record.success(service_id, now)
            self._track(service_id, record)
        _emit(events)

    def report_error(self, service_id: str, error: object) -> Failure:
        """Classify ``error`` (an exception, a status code or a :class:`Failure`) and record it.

        Request-scoped failures are ignored; rate limits go to :meth:`report_rate_limit`, auth
        failures to :meth:`report_auth_error`; anything else counts towards the threshold.
        Returns the classification.
        """
        now = self._clock()
        failure = classify_error(error, now=now)
        self._report(service_id, failure, failure.retry_after, now)
        return failure

    def report_rate_limit(self, service_id: str, retry_after: float | None = None) -> None:
        """Eject at once for ``retry_after`` seconds (clamped to [1 s, max recovery]) or the
        recovery time when None; resets the error count. ``ValueError`` for a negative or
        non-finite ``retry_after``."""
        if retry_after is not None:
            if isinstance(retry_after, bool) or not isinstance(retry_after, (int, float)):
                raise TypeError(f"retry_after must be seconds or None, got {retry_after!r}")
            if not math.isfinite(retry_after) or retry_after < 0:
                raise ValueError(f"retry_after must be finite and >= 0, got {retry_after!r}")
            retry_after = float(retry_after)
        failure = Failure(FailureKind.RATE_LIMIT, 429, retry_after, message="rate limited")
        self._report(service_id, failure, retry_after, self._clock())

    def report_auth_error(self, service_id: str, status_code: int | None = 401) -> None:
        """Eject at once, flagged as an auth problem; a success or the recovery ends it."""
        if status_code is not None and (
            isinstance(status_code, bool) or not isinstance(status_code, int)
        ):
            raise TypeError(f"status_code must be an int or None, got {status_code!r}")
        failure = Failure(FailureKind.AUTH, status_code, message="authentication failed")
        self._report(service_id, failure, None, self._clock())

    def reset_health(self, service_id: str) -> None:
        """Make ``service_id`` healthy with all counts at zero (keeps the record)."""
        record = self._records.get(service_id)
        if record is None:
            return
        with record.lock:
            was_unhealthy = record.reset()
            self._track(service_id, record)
        if was_unhealthy:
            _emit([{"event": "recovered", "service_id": service_id, "reason": "reset"}])

    def remove_health(self, service_id: str) -> None:
        """Forget ``service_id`` entirely (it reads healthy again)."""
        with self._lock:
            record = self._records.pop(service_id, None)
        if record is not None:
            with record.lock:
                self._ejected.discard(service_id)

    # -- CooldownTracker -----------------------------------------------------------------

    def is_available(self, name: str) -> bool:
        """``CooldownTracker``: the same as :meth:`is_healthy`."""
        return self.is_healthy(name)

    def cooldown_remaining(self, name: str) -> float:
        """``CooldownTracker``: seconds until the ejection of ``name`` ends (0.0 if none)."""
        record = self._records.get(name)
        if record is None or record.healthy:
            return 0.0
        return max(0.0, record.unhealthy_until - self._clock())

    def record_failure(self, name: str, error: object) -> bool:
        """``CooldownTracker``: :meth:`report_error`, True when it ejected ``name``."""
        now = self._clock()
        failure = classify_error(error, now=now)
        return self._report(name, failure, failure.retry_after, now)

    # -- internals -----------------------------------------------------------------------

    def _record_for(self, service_id: str) -> Record:
        record = self._records.get(service_id)
        if record is not None:
            return record
        if not isinstance(service_id, str) or not service_id:
            raise ValueError(f"a service id must be a non-empty string, got {service_id!r}")
        with self._lock:
            return self._records.setdefault(service_id, Record())

    def _track(self, service_id: str, record: Record) -> None:
        """Mirror the record's state into ``_ejected``; call with ``record.lock`` held."""
        if record.healthy:
            self._ejected.discard(service_id)
        else:
            self._ejected.add(service_id)

    def _report(
        self, service_id: str, failure: Failure, retry_after: float | None, now: float
    ) -> bool:
        """Record a classified failure; True when it turned the service unhealthy."""
        if not failure.counts_against_health:
            return False
        record = self._record_for(service_id)
        config = self._config
        probing_on = self._probe is not None
        with record.lock:
            if failure.kind is FailureKind.RATE_LIMIT:
                events = record.rate_limit(
                    service_id, failure, retry_after, config, now, probing_on
                )
            elif failure.kind is FailureKind.AUTH:
                events = record.auth(service_id, failure, config, now, probing_on)
            else:
                events = record.error(service_id, failure, config, now, probing_on)
            self._track(service_id, record)
        _emit(events)
        return any(event["event"] == "ejected" for event in events)

    def _recheck(self, service_id: str, record: Record) -> bool:
        """The slow path of :meth:`is_healthy` for a service that is ejected."""
        now = self._clock()
        if now < record.unhealthy_until:
            return False
        probe = self._probe
        with record.lock:
            if record.healthy:
                return True
            if now < record.unhealthy_until or record.probing:
                return False
            if probe is not None:
                epoch = record.start_probe()
            else:
                events = record.settle(service_id, now, False)
                self._track(service_id, record)
        if probe is not None:
            return self._run_probe(service_id, record, probe, epoch)
        _emit(events)
        return True

    def _run_probe(self, service_id: str, record: Record, probe: Probe, epoch: int) -> bool:
        _log.debug(
            "health probe of %s started",
            service_id,
            extra={"event": "probe_started", "service_id": service_id},
        )
        failure: Failure | None = None
        finished = False
        try:
            try:
                ok = bool(probe(service_id))
            except Exception as exc:
                ok = False
                failure = classify_error(exc, now=self._clock())
            finished = True
        finally:
            if not finished:  # KeyboardInterrupt and the like: leave the probe due, re-raise
                with record.lock:
                    record.probing = False
        now = self._clock()
        with record.lock:
            events = record.finish_probe(service_id, epoch, ok, failure, self._config, now)
            self._track(service_id, record)
            healthy = record.healthy
        _emit(events)
        return healthy

    def __repr__(self) -> str:
        records = list(self._records.values())
        unhealthy = sum(1 for record in records if not record.healthy)
        return f"HealthMonitor(services={len(records)}, unhealthy={unhealthy})"


def _snapshot(service_id: str, record: Record, now: float) -> ServiceHealth:
    if record.healthy:
        status = HealthStatus.HEALTHY
    else:
        status = HealthStatus.PROBING if record.probing else HealthStatus.UNHEALTHY
    return ServiceHealth(
        service_id=str(service_id),
        status=status,
        consecutive_errors=record.consecutive_errors,
        last_error=record.last_error,
        last_error_time=record.last_error_time,
        last_success_time=record.last_success_time,
        rate_limited=not record.healthy and now < record.rate_limited_until,
        auth_error=record.auth_error,
        unhealthy_until=None if record.healthy else record.unhealthy_until,
        ejections=record.ejections,
        total_ejections=record.total_ejections,
        error_count=record.error_count,
        success_count=record.success_count,
    )


def _emit(events: list[Event]) -> None:
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
