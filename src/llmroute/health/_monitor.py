"""The in-memory health table: one :class:`HealthState` per service, moved by the pure
transitions of :mod:`._state` under one lock, and read without it.

:class:`HealthMonitor` is both the health part of the in-memory state store (the selector reads
the unhealthy services in one step and writes outcomes) and a standalone ``CooldownTracker``
for plain :func:`llmroute.execute`. Probes never run inside a read: a read that finds a probe
due takes the single-flight lease and starts the probe on a worker thread (the selector starts
its own, on a thread or a task), routing around the service until the probe answers.

State transitions are logged on ``logging.getLogger("llmroute.health")`` with structured
``extra`` fields (``event``, ``service_id``, ``reason``, ``recovery_seconds``, ...).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

from ..config import HealthConfig
from ..failures import Failure, FailureKind, classify_error
from ..typing import AsyncProbe, Clock, Probe, system_clock
from . import _state as transitions
from ._probes import ProbeThreads, run_probe
from ._report import ServiceHealth, emit, report
from ._state import FRESH, Event, HealthState

__all__ = ["HealthMonitor"]

_log = logging.getLogger("llmroute.health")

_Id = TypeVar("_Id", bound=str)

#: How long a re-admission is remembered (for the pins' promotion hold).
_RECOVERED_HORIZON = 3600.0


class HealthMonitor:
    """Thread-safe health of services, keyed by service id (implements ``CooldownTracker``).

    ``HealthMonitor(config=None, *, clock=None, probe=None)``: ``config`` defaults to
    :class:`HealthConfig` with ``probe_enabled`` set when a ``probe`` is given; ``clock``
    defaults to ``time.time``. Probing runs while ``config.probe_enabled`` is true and a probe
    is set (``probe_enabled`` without a probe raises ``ValueError``). Any non-empty string
    names a service, so provider names work too.

    Re-admission (timeout or probe) clears the error count but not the growth: only a reported
    success does. A failed probe, or a counted failure of real traffic while a probe is due,
    re-arms the ejection with the next (doubled) recovery time.
    """

    def __init__(
        self,
        config: HealthConfig | None = None,
        *,
        clock: Clock | None = None,
        probe: Probe | AsyncProbe | None = None,
    ) -> None:
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a zero-argument callable, got {clock!r}")
        if probe is not None and not callable(probe):
            raise TypeError(f"probe must be a callable taking a service id, got {probe!r}")
        self._clock: Clock = clock if clock is not None else system_clock
        self._probe = probe
        self._lock = threading.Lock()
        self._states: dict[str, HealthState] = {}
        # The unhealthy states, replaced (never mutated) on each change: readers take it whole.
        self._unhealthy: Mapping[str, HealthState] = MappingProxyType({})
        # When each service was last re-admitted, for the last hour; replaced like _unhealthy.
        self._recovered: Mapping[str, float] = MappingProxyType({})
        self._seq = 0
        self._threads = ProbeThreads()
        self._config = HealthConfig(probe_enabled=probe is not None)
        self.update_config(config if config is not None else self._config)

    @property
    def config(self) -> HealthConfig:
        """The configuration in force."""
        return self._config

    @property
    def probe(self) -> Probe | AsyncProbe | None:
        """The probe, when probing is on."""
        return self._probe if self._config.probe_enabled else None

    def update_config(self, config: HealthConfig) -> None:
        """Swap the configuration; current ejections keep their end times.

        Raises ``TypeError`` for a non-:class:`HealthConfig` and ``ValueError`` when it enables
        probing but this monitor has no probe.
        """
        if not isinstance(config, HealthConfig):
            raise TypeError(f"config must be a HealthConfig, got {type(config).__name__}")
        if config.probe_enabled and self._probe is None:
            raise ValueError("health config has probe_enabled=true but no probe= was given")
        self._config = config

    # -- the state store's side ----------------------------------------------------------

    def unhealthy(self) -> tuple[Mapping[str, HealthState], int]:
        """The unhealthy states (a read-only mapping that never changes) and the ejection
        sequence, without taking the lock: the sequence is read first and written last, so it
        is never newer than the mapping (a success read with it ends no ejection it did not
        see)."""
        seq = self._seq
        return self._unhealthy, seq

    def recovered(self) -> Mapping[str, float]:
        """When each service re-admitted within the last hour was re-admitted (read-only)."""
        return self._recovered

    def lease_probes(self, service_ids: Iterable[_Id], now: float) -> list[tuple[_Id, int]]:
        """Take the probe lease of every listed service that has a probe due; returns
        ``(service id, the ejection's sequence)`` for each lease taken (single flight: of
        concurrent callers, one gets each lease)."""
        leased: list[tuple[_Id, int]] = []
        with self._lock:
            for sid in service_ids:
                state = self._unhealthy.get(sid)
                if state is None:
                    continue
                taken = transitions.lease_probe(state, now)
                if taken is not None:
                    self._put(sid, taken)
                    leased.append((sid, taken.ejected_seq))
        return leased

    def apply_success(self, service_id: str, now: float, read_seq: int | None) -> None:
        """Record a success of an attempt whose read saw ejection sequence ``read_seq``
        (nothing to do for a service without a record: it is healthy with no errors)."""
        if service_id not in self._states:
            return
        self._apply(service_id, lambda s: transitions.on_success(s, service_id, now, read_seq))

    def apply_failure(
        self,
        service_id: str,
        failure: Failure,
        config: HealthConfig,
        now: float,
        read_seq: int | None = None,
    ) -> bool:
        """Record a classified failure under ``config`` of an attempt whose read saw
        ``read_seq`` (None: now); True when it ejected the service."""
        if not failure.counts_against_health:
            return False
        events = self._apply(
            service_id,
            lambda s: transitions.on_failure(
                s, service_id, failure, config, now, self._seq + 1, read_seq
            ),
        )
        return any(event["event"] == "ejected" for event in events)

    def apply_probe(
        self,
        service_id: str,
        ok: bool,
        failure: Failure | None,
        config: HealthConfig,
        now: float,
        lease_seq: int,
    ) -> None:
        """Record a probe's answer for the ejection it was leased for."""
        self._apply(
            service_id,
            lambda s: transitions.on_probe(
                s, service_id, ok, failure, config, now, lease_seq, self._seq + 1
            ),
        )

    def release_probe(self, service_id: str, lease_seq: int) -> None:
        """Give back a probe lease without an answer, so the probe is due again."""
        self._apply(service_id, lambda s: transitions.release_probe(s, lease_seq))

    # -- reading -------------------------------------------------------------------------

    def is_healthy(self, service_id: str) -> bool:
        """True when ``service_id`` may take traffic; a service never reported is healthy.

        Once an ejection's recovery time has passed the service is re-admitted, or, with
        probing on, a probe is started on a worker thread (one per service at a time) and the
        service reads unhealthy until it answers.
        """
        state = self._unhealthy.get(service_id)
        if state is None:
            return True
        now = self._clock()
        probing = self.probe is not None
        if transitions.available(state, now, probing):
            self._apply(service_id, lambda s: transitions.settle(s, service_id, now, False))
            return True
        if probing and transitions.probe_due(state, now):
            for sid, seq in self.lease_probes((service_id,), now):
                self._start_probe(sid, seq)
        return False

    def any_unhealthy(self) -> bool:
        """False only when every service reads healthy, so callers may skip per-service checks."""
        return bool(self._unhealthy)

    def get_health(self, service_id: str) -> ServiceHealth:
        """A report of ``service_id``'s health (a healthy, empty one when never reported).

        Re-admits a service whose recovery time has passed when probing is off; never runs a
        probe.
        """
        now = self._clock()
        if self.probe is None:
            self._apply(service_id, lambda s: transitions.settle(s, service_id, now, False))
        with self._lock:
            state = self._states.get(service_id, FRESH)
        return report(service_id, state, now)

    def get_all_health(self) -> dict[str, ServiceHealth]:
        """Reports of every service with a record, keyed by service id."""
        with self._lock:
            keys = list(self._states)
        return {key: self.get_health(key) for key in keys}

    # -- reporting -----------------------------------------------------------------------

    def report_success(self, service_id: str) -> None:
        """A call succeeded: reset the error count and the growing recovery time, and end an
        ejection (auth included) unless a rate-limit window is still running."""
        self.apply_success(service_id, self._clock(), None)

    def report_error(self, service_id: str, error: object) -> Failure:
        """Classify ``error`` (an exception, a status code or a :class:`Failure`) and record
        it; request-scoped failures are ignored. Returns the classification."""
        now = self._clock()
        failure = classify_error(error, now=now)
        self.apply_failure(service_id, failure, self._config, now)
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
        self.apply_failure(service_id, failure, self._config, self._clock())

    def report_auth_error(self, service_id: str, status_code: int | None = 401) -> None:
        """Eject at once, flagged as an auth problem; a success or the recovery ends it."""
        if status_code is not None and (
            isinstance(status_code, bool) or not isinstance(status_code, int)
        ):
            raise TypeError(f"status_code must be an int or None, got {status_code!r}")
        failure = Failure(FailureKind.AUTH, status_code, message="authentication failed")
        self.apply_failure(service_id, failure, self._config, self._clock())

    def reset_health(self, service_id: str) -> None:
        """Make ``service_id`` healthy with all counts at zero (keeps the record)."""
        with self._lock:
            if service_id not in self._states:
                return
            was_unhealthy = service_id in self._unhealthy
            self._put(service_id, FRESH)
        if was_unhealthy:
            emit([{"event": "recovered", "service_id": service_id, "reason": "reset"}])

    def remove_health(self, service_id: str) -> None:
        """Forget ``service_id`` entirely (it reads healthy again)."""
        with self._lock:
            self._states.pop(service_id, None)
            if service_id in self._unhealthy:
                self._unhealthy = MappingProxyType(
                    {k: v for k, v in self._unhealthy.items() if k != service_id}
                )

    def join_probes(self, timeout: float | None = None) -> None:
        """Wait for the probes this monitor started on worker threads to finish."""
        self._threads.join(timeout)

    # -- CooldownTracker -----------------------------------------------------------------

    def is_available(self, name: str) -> bool:
        """``CooldownTracker``: the same as :meth:`is_healthy`."""
        return self.is_healthy(name)

    def cooldown_remaining(self, name: str) -> float:
        """``CooldownTracker``: seconds until the ejection of ``name`` ends (0.0 if none)."""
        state = self._unhealthy.get(name)
        if state is None:
            return 0.0
        return max(0.0, state.unhealthy_until - self._clock())

    def record_failure(self, name: str, error: object) -> bool:
        """``CooldownTracker``: :meth:`report_error`, True when it ejected ``name``."""
        now = self._clock()
        return self.apply_failure(name, classify_error(error, now=now), self._config, now)

    # -- internals -----------------------------------------------------------------------

    def _apply(
        self,
        service_id: str,
        step: Callable[[HealthState], tuple[HealthState, list[Event]]],
    ) -> list[Event]:
        if not isinstance(service_id, str) or not service_id:
            raise ValueError(f"a service id must be a non-empty string, got {service_id!r}")
        with self._lock:
            old = self._states.get(service_id, FRESH)
            new, events = step(old)
            if new is not old:
                # The mapping first, the sequence second: a reader that takes the sequence
                # first (see unhealthy()) never holds one newer than the mapping it reads.
                self._put(service_id, new)
                if new.ejected_seq > self._seq:
                    self._seq = new.ejected_seq
        emit(events)
        return events

    def _put(self, service_id: str, state: HealthState) -> None:
        """Store ``state``; keep the unhealthy mapping in step (lock held)."""
        self._states[service_id] = state
        at = state.readmitted_at
        if state.healthy and at is not None and service_id in self._unhealthy:
            recent = {k: v for k, v in self._recovered.items() if v > at - _RECOVERED_HORIZON}
            recent[service_id] = at
            self._recovered = MappingProxyType(recent)
        if not state.healthy or service_id in self._unhealthy:
            unhealthy = {k: v for k, v in self._unhealthy.items() if k != service_id}
            if not state.healthy:
                unhealthy[service_id] = state
            self._unhealthy = MappingProxyType(unhealthy)

    def _start_probe(self, service_id: str, lease_seq: int) -> None:
        probe = self._probe
        assert probe is not None
        self._threads.start(service_id, self._run_probe, service_id, probe, lease_seq)

    def _run_probe(self, service_id: str, probe: Probe | AsyncProbe, lease_seq: int) -> None:
        try:
            ok, failure = run_probe(probe, service_id, self._clock)
        except BaseException:  # not an answer (an interrupt, an exit): the probe stays due
            self.release_probe(service_id, lease_seq)
            _log.warning("health probe of %s did not answer", service_id, exc_info=True)
            return
        self.apply_probe(service_id, ok, failure, self._config, self._clock(), lease_seq)

    def __repr__(self) -> str:
        with self._lock:
            total, unhealthy = len(self._states), len(self._unhealthy)
        return f"HealthMonitor(services={total}, unhealthy={unhealthy})"
