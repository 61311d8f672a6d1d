"""Shared builders for the tactic and load-balancer tests (not a test module)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from llmroute import LoadBalancer, Rule, Service, ServiceID
from llmroute.state import InMemoryTacticState, StateSnapshot
from llmroute.stats import InMemoryStatsStore
from llmroute.tactics import BalancingTactic, CandidateSet, create_tactic
from llmroute.testing import FakeClock


def svc(name: str, **fields: Any) -> Service:
    """A service ``p:<name>``."""
    return Service(provider="p", model=name, **fields)


A, B, C, D = svc("a"), svc("b"), svc("c"), svc("d")


def make_rule(
    services: Iterable[Service] = (A, B, C),
    tactic: str = "random",
    uuid: str = "rule-1",
    **params: Any,
) -> Rule:
    """A rule over ``services`` with ``tactic`` and its ``params``."""
    return Rule(uuid=uuid, services=tuple(services), lb_tactic={"type": tactic, "params": params})


def candidate_set(tactic: BalancingTactic, services: Iterable[Service]) -> CandidateSet:
    """A candidate set of ``services`` prepared by ``tactic``, as a rule's tactic builds it."""
    candidates = CandidateSet(tuple(services))
    candidates.data = tactic.prepare(candidates)
    return candidates


def picks(
    tactic: str | BalancingTactic,
    services: Iterable[Service],
    snapshot: StateSnapshot,
    count: int = 1,
    seed: int = 7,
) -> list[str]:
    """The model names of ``count`` pure picks of ``tactic`` over ``services`` from one
    snapshot (no balancer, no stores)."""
    built = create_tactic(tactic) if isinstance(tactic, str) else tactic
    candidates = candidate_set(built, services)
    rng = random.Random(seed)
    return [built.pick(snapshot, candidates, rng)[0].model for _ in range(count)]


class Env:
    """A load balancer wired to a fake clock, a seeded rng and stores the test can reach."""

    def __init__(self, *, seed: int = 7, health: Any = None, sessions: Any = None) -> None:
        self.clock = FakeClock()
        self.stats = InMemoryStatsStore(clock=self.clock)
        self.state = InMemoryTacticState()
        self.lb = LoadBalancer(
            self.stats,
            health=health,
            sessions=sessions,
            state=self.state,
            rng=random.Random(seed),
            clock=self.clock,
        )

    def set_current(self, rule: Rule, service: Service) -> None:
        self.state.record(rule.uuid, service.service_id)

    def names(self, rule: Rule, count: int, candidates: Any = None) -> list[str]:
        """The model names of ``count`` consecutive selections."""
        return [self.lb.select(rule, candidates).model for _ in range(count)]


class Health:
    """A health view with a fixed set of unhealthy service ids; counts its calls."""

    def __init__(self, *unhealthy: Service) -> None:
        self.unhealthy = {s.service_id for s in unhealthy}
        self.calls = 0

    def is_healthy(self, service_id: ServiceID, /) -> bool:
        self.calls += 1
        return service_id not in self.unhealthy


class FastHealth(Health):
    """A health view that also offers the ``any_unhealthy`` shortcut."""

    def any_unhealthy(self) -> bool:
        return bool(self.unhealthy)


class Sessions:
    """Live session counts per service id."""

    def __init__(self, counts: dict[Service, int] | None = None) -> None:
        self.counts = {s.service_id: n for s, n in (counts or {}).items()}

    def count_by_service(self, service_id: ServiceID, /) -> int:
        return self.counts.get(service_id, 0)
