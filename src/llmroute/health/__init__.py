"""Service health: eject failing services, honour rate limits, re-admit with growing timeouts.

Health is state: one immutable :class:`HealthState` per service, moved by the pure transitions
of :mod:`llmroute.health._state` (threshold, rate-limit window, auth flag, growing ejection,
success reset, probe leases). A service is ejected after ``consecutive_error_threshold``
errors in a row, at once on a rate limit (until Retry-After, clamped to [1 s, max], or the
recovery time) or an auth error. Each ejection that follows another without a success in
between doubles the recovery time up to the maximum (60, 120, 240, ... 600 s by default); a
success resets it. Request-scoped failures (bad request, context length, content policy,
cancellation) never count. :class:`HealthMonitor` is the in-memory table of these states;
:func:`panic_filter` is the one panic-mode rule (all unhealthy: keep them all).
"""

from ._filter import HealthFilter, panic_filter
from ._monitor import HealthMonitor
from ._probes import ProbeThreads, is_async_probe, run_probe
from ._report import HealthStatus, ServiceHealth, emit
from ._state import (
    FRESH,
    PROBE_LEASE_SECONDS,
    HealthState,
    available,
    backoff,
    lease_probe,
    on_failure,
    on_probe,
    on_success,
    probe_due,
    release_probe,
    settle,
)

__all__ = [
    "FRESH",
    "HealthFilter",
    "HealthMonitor",
    "HealthState",
    "HealthStatus",
    "PROBE_LEASE_SECONDS",
    "ProbeThreads",
    "ServiceHealth",
    "available",
    "backoff",
    "emit",
    "is_async_probe",
    "lease_probe",
    "on_failure",
    "on_probe",
    "on_success",
    "panic_filter",
    "probe_due",
    "release_probe",
    "run_probe",
    "settle",
]
