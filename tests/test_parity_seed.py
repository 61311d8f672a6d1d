"""tingly-box parity (issue 15, part B): the seed's current service and rules by scenario."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmroute import Provider, Rule, Service, ServiceSelector
from llmroute.testing import FakeClock

A = Service(provider="p", model="a")
B = Service(provider="p", model="b")
C = Service(provider="p", model="c")

KEEPERS = [
    ("token_based", {"token_threshold": 10000}),
    ("hybrid", {"token_threshold": 10000, "request_threshold": 100}),
    ("latency_based", {"latency_threshold_ms": 500}),
]


def seeded(tactic: str, index: int, services: tuple[Service, ...] = (A, B), **params: Any) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [s.model_dump() for s in services],
            "current_service_index": index,
            "lb_tactic": {"type": tactic, "params": params},
        }
    )


def selector() -> ServiceSelector:
    return ServiceSelector([Provider(name="p")], clock=FakeClock(1000.0))


# -- 5. the seed's current service -----------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "services", "expected"),
    [
        (0, (A, B), A),
        (1, (A, B), B),
        (2, (A, B), A),  # past the end: the first active one
        (1, (A, B.model_copy(update={"active": False}), C), C),  # counted among active ones
        (0, (A.model_copy(update={"active": False}), B), B),
    ],
)
def test_current_service_is_the_active_service_at_the_index_else_the_first(
    index: int, services: tuple[Service, ...], expected: Service
) -> None:
    assert seeded("random", index, services).current_service() == expected


def test_a_rule_without_active_services_has_no_current_service() -> None:
    rule = Rule(uuid="r", services=(A.model_copy(update={"active": False}),), active=False)
    assert rule.current_service() is None


@pytest.mark.parametrize(("tactic", "params"), KEEPERS)
def test_current_service_index_1_keeps_the_second_service_under_its_threshold(
    tactic: str, params: dict[str, Any]
) -> None:
    chooser = selector()
    assert chooser.stats is not None
    chooser.stats.record_usage(A, 10, 0)
    chooser.stats.record_usage(B, 9000, 0)  # B: 9,000 tokens, under 10,000; A far less
    chooser.stats.record_latency(A, 100)
    chooser.stats.record_latency(B, 400)  # B: 400 ms, under 500; A faster
    result = chooser.select(seeded(tactic, 1, **params), {})
    assert result.service == B
    assert "kept the current service" in result.explain()


@pytest.mark.parametrize(("tactic", "params"), KEEPERS)
def test_the_state_stores_own_current_service_wins_over_the_index(
    tactic: str, params: dict[str, Any]
) -> None:
    chooser = selector()
    rule = seeded(tactic, 1, **params)
    chooser.record(chooser.select(rule, {}), service=A, input_tokens=1, latency_ms=100)
    assert chooser.select(rule, {}).service == A  # A served last: the store's current one


def test_a_seeded_service_over_its_threshold_gives_way_to_the_least_loaded() -> None:
    chooser = selector()
    assert chooser.stats is not None
    chooser.stats.record_usage(B, 12000, 0)
    assert chooser.select(seeded("token_based", 1, token_threshold=10000), {}).service == A


def test_round_robin_starts_its_rotation_at_the_seeded_service() -> None:
    chooser = selector()
    rule = seeded("round_robin", 1, (A, B, C), request_threshold=2)
    served = []
    for _ in range(6):
        served.append(chooser.execute(rule, {}, lambda s, p: "ok").service.model)
    assert served == ["b", "b", "c", "c", "a", "a"]


def test_a_seeded_service_that_is_unhealthy_gives_way_to_the_first_healthy() -> None:
    chooser = selector()
    assert chooser.health is not None
    for _ in range(3):
        chooser.health.report_error("p:b", 500)
    assert chooser.select(seeded("token_based", 1, token_threshold=10000), {}).service == A


def test_the_load_balancer_reads_the_seeded_current_service_too() -> None:
    from llmroute import LoadBalancer

    balancer = LoadBalancer()
    balancer.stats.record_usage(A, 10, 0)
    assert balancer.select(seeded("token_based", 1, token_threshold=10000)) == B


def test_the_seed_holds_on_an_async_selection() -> None:
    chooser = selector()
    result = asyncio.run(chooser.aselect(seeded("hybrid", 1), {}))
    assert result.service == B
