"""Simulating a rule's tactic: picks, and the outcomes that evolve the state they read, on a
clock of the simulation's own (see :meth:`LoadBalancer.simulate`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from ..config import Rule, Service, ServiceID
from ..health import HealthMonitor
from ..stats import InMemoryStatsStore
from ..usage import Usage

__all__ = ["SimClock", "SimulatedCall", "run_simulation"]


class SimulatedCall(NamedTuple):
    """What one simulated call did: it served with ``input_tokens`` / ``output_tokens`` in
    ``latency_ms`` (``ttft_ms`` to the first token, when given), or failed with ``error``
    (anything :func:`llmroute.classify_error` reads: an HTTP status such as ``503`` or
    ``429``, an exception)."""

    input_tokens: int = 100
    output_tokens: int = 200
    latency_ms: float = 300.0
    ttft_ms: float | None = None
    error: object = None


#: What a simulation asks of each call: ``outcome(service, n)`` for the n-th request (from 1).
Outcomes = Callable[[Service, int], SimulatedCall]


class SimClock:
    """The simulation's clock: seconds from 0, moved by the run only."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Balancer(Protocol):
    """The part of a load balancer a simulation drives."""

    @property
    def stats(self) -> InMemoryStatsStore: ...

    def select(self, rule: Rule) -> Service: ...


def run_simulation(
    balancer: _Balancer,
    monitor: HealthMonitor,
    clock: SimClock,
    rule: Rule,
    requests: int,
    interval: float,
    outcome: Outcomes,
) -> dict[ServiceID, int]:
    """Pick ``requests`` times for ``rule``, ``interval`` simulated seconds apart, writing
    each call's :class:`SimulatedCall` back (stats, health, the rule's current service)
    before the next pick; the pick counts per service, the rule's active services first."""
    counts: dict[ServiceID, int] = dict.fromkeys((s.service_id for s in rule.active_services()), 0)
    for n in range(1, requests + 1):
        clock.now = n * interval
        service = balancer.select(rule)
        sid = service.service_id
        counts[sid] = counts.get(sid, 0) + 1
        call = outcome(service, n)
        if not isinstance(call, SimulatedCall):
            raise TypeError(
                f"outcome() must return a SimulatedCall, got {type(call).__name__} for {sid}"
            )
        if call.error is not None:
            monitor.report_error(sid, call.error)
            continue
        usage = Usage(call.input_tokens, call.output_tokens)
        balancer.stats.record_success(service, usage, call.latency_ms, call.ttft_ms)
        monitor.report_success(sid)
    return counts


def served(service: Service, n: int) -> SimulatedCall:
    """The default outcome: every call serves, with :class:`SimulatedCall`'s defaults."""
    return _SERVED


_SERVED = SimulatedCall()
