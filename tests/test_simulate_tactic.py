"""LoadBalancer.simulate (issue 15): pick counts per service, the state evolving as the
simulated outcomes arrive, deterministic for a seed, on state of its own."""

from __future__ import annotations

from typing import Any

import pytest

from llmroute import HealthConfig, HealthMonitor, LoadBalancer, Rule, Service
from llmroute.config import TACTIC_PARAMS
from llmroute.tactics import SimulatedCall
from llmroute.testing import FakeClock

A = Service(provider="p", model="a")
B = Service(provider="p", model="b")
C = Service(provider="p", model="c", tier=1)


def rule(tactic: str, *services: Service, **params: Any) -> Rule:
    return Rule(uuid="r", services=services or (A, B), lb_tactic={"type": tactic, "params": params})


def counts(result: dict[Any, int]) -> dict[str, int]:
    return {str(sid): n for sid, n in result.items()}


@pytest.mark.parametrize("tactic", sorted(TACTIC_PARAMS))
def test_every_tactic_simulates_deterministically_over_its_candidates(tactic: str) -> None:
    balancer = LoadBalancer()
    first = balancer.simulate(rule(tactic, A, B, C), requests=200, seed=7)
    assert first == balancer.simulate(rule(tactic, A, B, C), requests=200, seed=7)
    assert list(first) == [A.service_id, B.service_id, C.service_id]
    assert sum(first.values()) == 200


def test_another_seed_gives_other_random_counts() -> None:
    balancer = LoadBalancer()
    runs = {
        tuple(balancer.simulate(rule("random"), requests=100, seed=s).values()) for s in range(5)
    }
    assert len(runs) > 1


def test_token_based_moves_on_as_the_simulated_usage_fills_the_window() -> None:
    # 300 tokens a call under a 1,000 threshold: four calls on a, then four on b
    result = LoadBalancer().simulate(rule("token_based", token_threshold=1000), requests=8)
    assert counts(result) == {"p:a": 4, "p:b": 4}


def test_latency_based_leaves_a_service_whose_simulated_latency_is_over_the_threshold() -> None:
    def slow_a(service: Service, n: int) -> SimulatedCall:
        return SimulatedCall(latency_ms=3000.0 if service == A else 100.0)

    result = LoadBalancer().simulate(
        rule("latency_based", latency_threshold_ms=500), requests=50, outcome=slow_a
    )
    assert counts(result) == {"p:a": 1, "p:b": 49}


def test_failures_eject_a_service_until_it_recovers_on_the_simulated_clock() -> None:
    def a_fails(service: Service, n: int) -> SimulatedCall:
        return SimulatedCall(error=503) if service == A else SimulatedCall()

    health = HealthConfig(
        consecutive_error_threshold=1, recovery_timeout_seconds=10, max_recovery_timeout_seconds=10
    )
    result = LoadBalancer().simulate(
        rule("tier", A, C), requests=30, outcome=a_fails, health=health
    )
    # a (tier 0) fails at 1 and is out for 10 s; back at 11 and 21, failing each time
    assert counts(result) == {"p:a": 3, "p:c": 27}


def test_the_health_settings_default_to_the_balancers_monitor() -> None:
    monitor = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=FakeClock())
    always = lambda service, n: SimulatedCall(error=503) if service == A else SimulatedCall()  # noqa: E731
    strict = LoadBalancer(health=monitor).simulate(
        rule("random"), requests=100, seed=1, outcome=always
    )
    lenient = LoadBalancer().simulate(rule("random"), requests=100, seed=1, outcome=always)
    assert strict[A.service_id] < lenient[A.service_id]


def test_round_robin_is_exact_in_a_simulation() -> None:
    result = LoadBalancer().simulate(rule("round_robin", request_threshold=3), requests=12)
    assert counts(result) == {"p:a": 6, "p:b": 6}


def test_a_simulation_leaves_the_balancers_own_state_alone() -> None:
    balancer = LoadBalancer()
    balancer.simulate(rule("token_based"), requests=50)
    assert balancer.stats.get(A.service_id).window_tokens_consumed == 0
    assert balancer.state.cursor("r").current is None


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"requests": -1}, ValueError, "requests"),
        ({"requests": True}, ValueError, "requests"),
        ({"requests": 5, "interval": 0}, ValueError, "interval"),
        ({"requests": 5, "interval": float("inf")}, ValueError, "interval"),
        ({"requests": 5, "outcome": lambda s, n: "ok"}, TypeError, "SimulatedCall"),
    ],
)
def test_bad_simulation_arguments_are_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        LoadBalancer().simulate(rule("random"), **kwargs)


def test_zero_requests_count_nothing() -> None:
    assert counts(LoadBalancer().simulate(rule("random"), requests=0)) == {"p:a": 0, "p:b": 0}
