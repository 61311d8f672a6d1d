"""One service's health as a value, and the pure functions that move it.

:class:`HealthState` is immutable; every transition takes a state (plus the failure, the
:class:`HealthConfig`, the clock reading and the ejection sequence) and returns the next state
and the log events it caused. Stores hold the states and apply the transitions under their own
lock (in memory) or atomically on a server; no transition does I/O or reads a clock.

The ejection sequence orders ejections across a store: each ejection is stamped with the next
number, and every read of the store carries the number it saw. A success whose read came before
an ejection (``read_seq < state.ejected_seq``) was already in flight when the service was
ejected, so it does not end the ejection: otherwise, under concurrency, every ejection would be
undone at once by a request that started before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..config import HealthConfig
from ..failures import Failure, FailureKind

__all__ = [
    "FRESH",
    "PROBE_LEASE_SECONDS",
    "Event",
    "HealthState",
    "available",
    "backoff",
    "lease_probe",
    "on_failure",
    "on_probe",
    "on_success",
    "probe_due",
    "release_probe",
    "settle",
]

#: A log event: the event name plus the structured fields that go into ``extra``.
Event = dict[str, Any]

#: How long a probe lease lasts: a probe still running after this may be started again.
PROBE_LEASE_SECONDS = 30.0

_MAX_DOUBLINGS = 62


@dataclass(frozen=True, slots=True)
class HealthState:
    """The health of one service at one moment (see the module docstring for ``ejected_seq``).

    ``healthy`` is False from an ejection until re-admission; ``unhealthy_until`` is when the
    current ejection's recovery time ends; ``probe_until`` is when a running probe's lease ends
    (0 when none runs); ``readmitted_at`` is when it was last re-admitted (None: never
    ejected). ``ejections`` counts ejections since the last success (it drives the
    growing recovery time); the ``*_count`` fields and ``total_ejections`` are lifetime counts.
    """

    healthy: bool = True
    unhealthy_until: float = 0.0
    rate_limited_until: float = 0.0
    auth_error: bool = False
    consecutive_errors: int = 0
    ejections: int = 0
    total_ejections: int = 0
    error_count: int = 0
    success_count: int = 0
    last_error: Failure | None = None
    last_error_time: float | None = None
    last_success_time: float | None = None
    ejected_seq: int = 0
    probe_until: float = 0.0
    readmitted_at: float | None = None


#: The state of a service never reported.
FRESH = HealthState()


def backoff(config: HealthConfig, ejection: int) -> float:
    """Recovery time of the ``ejection``-th ejection in a row: base * 2**(n-1), capped."""
    doublings = min(max(ejection - 1, 0), _MAX_DOUBLINGS)
    seconds = config.recovery_timeout_seconds * float(2**doublings)
    return min(seconds, config.max_recovery_timeout_seconds)


# -- reading ------------------------------------------------------------------------------


def available(state: HealthState, now: float, probing: bool) -> bool:
    """Whether the service may take traffic: healthy, or (without probes) its recovery
    time has passed. With probes, only a probe's success re-admits it."""
    return state.healthy or (not probing and now >= state.unhealthy_until)


def probe_due(state: HealthState, now: float) -> bool:
    """Whether a probe should start: ejected, recovery time passed, no live probe lease."""
    return not state.healthy and now >= state.unhealthy_until and now >= state.probe_until


def lease_probe(state: HealthState, now: float) -> HealthState | None:
    """The state with a probe lease taken until ``now + PROBE_LEASE_SECONDS``; None when no
    probe is due (so of many readers, exactly one gets the lease)."""
    if not probe_due(state, now):
        return None
    return replace(state, probe_until=now + PROBE_LEASE_SECONDS)


# -- transitions --------------------------------------------------------------------------


def settle(
    state: HealthState, sid: str, now: float, probing: bool
) -> tuple[HealthState, list[Event]]:
    """Without probes, re-admit a service whose recovery time has passed."""
    if state.healthy or probing or now < state.unhealthy_until:
        return state, []
    return _readmit(state, sid, "recovery timeout elapsed", state.unhealthy_until)


def on_failure(
    state: HealthState,
    sid: str,
    failure: Failure,
    config: HealthConfig,
    now: float,
    seq: int,
    read_seq: int | None = None,
) -> tuple[HealthState, list[Event]]:
    """A failure of the service: rate limits and auth errors eject at once, anything else
    after ``consecutive_error_threshold`` in a row. ``seq`` stamps a new ejection. A failure
    of the request itself (``counts_against_health`` False) changes nothing; a failure whose
    read came before the latest ejection (``read_seq < ejected_seq``) is counted but moves
    nothing: that call started before the service was ejected, which judged it already."""
    if not failure.counts_against_health:
        return state, []
    if read_seq is not None and read_seq < state.ejected_seq:  # judged by that ejection
        noted = replace(
            state, error_count=state.error_count + 1, last_error=failure, last_error_time=now
        )
        return noted, []
    state, events = settle(state, sid, now, config.probe_enabled)
    state = replace(
        state, error_count=state.error_count + 1, last_error=failure, last_error_time=now
    )
    if failure.kind is FailureKind.RATE_LIMIT:
        state, more = _rate_limit(state, sid, failure, config, now, seq)
    elif failure.kind is FailureKind.AUTH:
        state = replace(state, auth_error=True)
        more = []
        if state.healthy or probe_due(state, now):
            state, more = _eject(state, sid, failure, now, _next_backoff(state, config), seq)
    else:
        state = replace(state, consecutive_errors=state.consecutive_errors + 1)
        more = []
        if state.healthy:
            if state.consecutive_errors >= config.consecutive_error_threshold:
                state, more = _eject(state, sid, failure, now, _next_backoff(state, config), seq)
        elif probe_due(state, now):  # real traffic failed where a probe was due: re-arm
            state, more = _eject(state, sid, failure, now, _next_backoff(state, config), seq)
    return state, events + more


def on_success(
    state: HealthState, sid: str, now: float, read_seq: int | None
) -> tuple[HealthState, list[Event]]:
    """A success: reset the error count and the growth, and end the ejection unless a
    rate-limit window still runs. A success whose read came before the ejection
    (``read_seq < ejected_seq``; None means "now") is counted but ends nothing."""
    state = replace(state, success_count=state.success_count + 1, last_success_time=now)
    if not state.healthy and read_seq is not None and read_seq < state.ejected_seq:
        return state, []
    state = replace(state, consecutive_errors=0, ejections=0)
    if state.healthy:
        return state, []
    if now < state.rate_limited_until:  # still inside the provider's rate-limit window
        return replace(state, auth_error=False, unhealthy_until=state.rate_limited_until), []
    return _readmit(state, sid, "success", now)


def on_probe(
    state: HealthState,
    sid: str,
    ok: bool,
    failure: Failure | None,
    config: HealthConfig,
    now: float,
    lease_seq: int,
    seq: int,
) -> tuple[HealthState, list[Event]]:
    """A probe's answer, applied only to the ejection it was leased for (``lease_seq``)."""
    if state.healthy or state.ejected_seq != lease_seq:
        return state, []
    state = replace(state, probe_until=0.0)
    if ok:
        return _readmit(state, sid, "probe succeeded", now)
    if failure is not None:
        state = replace(state, last_error=failure, last_error_time=now)
    return _eject(state, sid, failure, now, _next_backoff(state, config), seq, "probe failed")


def release_probe(state: HealthState, lease_seq: int) -> tuple[HealthState, list[Event]]:
    """Give back the probe lease of ejection ``lease_seq`` without an answer."""
    if state.healthy or state.ejected_seq != lease_seq or not state.probe_until:
        return state, []
    return replace(state, probe_until=0.0), []


# -- helpers ------------------------------------------------------------------------------


def _next_backoff(state: HealthState, config: HealthConfig) -> float:
    return backoff(config, state.ejections + 1)


def _rate_limit(
    state: HealthState,
    sid: str,
    failure: Failure,
    config: HealthConfig,
    now: float,
    seq: int,
) -> tuple[HealthState, list[Event]]:
    """Unhealthy at once until Retry-After (clamped to [1 s, max]) or the recovery time."""
    state = replace(state, consecutive_errors=0)
    ejecting = state.healthy or probe_due(state, now)
    retry_after = failure.retry_after
    if retry_after is not None:
        window = min(max(retry_after, 1.0), config.max_recovery_timeout_seconds)
    else:
        window = backoff(config, state.ejections + 1 if ejecting else max(state.ejections, 1))
    state = replace(state, rate_limited_until=max(state.rate_limited_until, now + window))
    if ejecting:
        return _eject(state, sid, failure, now, window, seq)
    return replace(state, unhealthy_until=max(state.unhealthy_until, now + window)), []


def _eject(
    state: HealthState,
    sid: str,
    failure: Failure | None,
    now: float,
    seconds: float,
    seq: int,
    reason: str = "",
) -> tuple[HealthState, list[Event]]:
    state = replace(
        state,
        healthy=False,
        unhealthy_until=now + seconds,
        ejections=state.ejections + 1,
        total_ejections=state.total_ejections + 1,
        ejected_seq=seq,
        probe_until=0.0,
    )
    event: Event = {
        "event": "ejected",
        "service_id": sid,
        "reason": reason or (failure.kind.value if failure else "unknown"),
        "status_code": failure.status_code if failure else None,
        "error_code": failure.code if failure else None,
        "consecutive_errors": state.consecutive_errors,
        "ejections": state.ejections,
        "recovery_seconds": seconds,
        "rate_limited": now < state.rate_limited_until,
        "auth_error": state.auth_error,
    }
    return state, [event]


def _readmit(
    state: HealthState, sid: str, reason: str, at: float
) -> tuple[HealthState, list[Event]]:
    state = replace(
        state,
        readmitted_at=at,
        healthy=True,
        unhealthy_until=0.0,
        rate_limited_until=0.0,
        auth_error=False,
        consecutive_errors=0,
        probe_until=0.0,
    )
    return state, [{"event": "recovered", "service_id": sid, "reason": reason}]
