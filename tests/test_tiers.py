"""Tiers (issue 15): ``Service.tier`` and the ``tier`` tactic (alias ``priority``): the lowest
tier with a healthy service serves, weighted random inside it; a pin to a higher tier fails
back once the lower tier's choice has been healthy for the promotion hold."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from llmroute import (
    ConfigError,
    HealthConfig,
    HealthMonitor,
    LoadBalancer,
    Rule,
    Service,
    ServiceSelector,
)
from llmroute.config import MAX_TIER, is_valid_tactic
from llmroute.testing import FakeAPIError, FakeClock

P1 = Service(provider="p", model="primary-1", weight=3)
P2 = Service(provider="p", model="primary-2", weight=1)
S1 = Service(provider="s", model="secondary", tier=1)
T2 = Service(provider="t", model="tertiary", tier=2)


def chat(user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    if user is not None:
        body["user"] = user
    return body


def tiered(*services: Service, affinity: int = 0, tactic: str = "tier") -> Rule:
    return Rule(uuid="r", services=services, lb_tactic={"type": tactic}, session_affinity=affinity)


def setup(hold: float = 60.0) -> tuple[ServiceSelector, HealthMonitor, FakeClock]:
    clock = FakeClock()
    config = HealthConfig(consecutive_error_threshold=1, promotion_hold_seconds=hold)
    health = HealthMonitor(config, clock=clock)
    return ServiceSelector(health=health, clock=clock, rng=random.Random(5)), health, clock


def eject(health: HealthMonitor, *services: Service) -> None:
    for service in services:
        health.report_error(service.service_id, 500)  # out for 60 s


# -- the configuration --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tier", "priority", "PRIORITY", " Tier "])
def test_tier_and_its_alias_priority_load_as_the_tier_tactic(name: str) -> None:
    rule = Rule.model_validate(
        {"uuid": "r", "services": [{"provider": "p", "model": "m"}], "lb_tactic": {"type": name}}
    )
    assert rule.lb_tactic.type == "tier"
    assert rule.model_dump()["lb_tactic"] == {"type": "tier", "params": {}}


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("tier", True),
        ("priority", True),
        ("Round_Robin", True),
        (" random ", True),
        ("least_busy", True),
        ("fastest", False),
        ("", False),
        (3, False),
        (None, False),
    ],
)
def test_is_valid_tactic_is_the_seeds_helper(name: Any, valid: bool) -> None:
    assert is_valid_tactic(name) is valid


def test_an_unknown_tactic_lists_the_alias_among_the_valid_names() -> None:
    with pytest.raises(ConfigError, match=r"priority.*tier"):
        Rule.model_validate({"uuid": "r", "lb_tactic": {"type": "fastest"}})


def test_tier_params_are_empty_and_unknown_ones_fail() -> None:
    with pytest.raises(ConfigError, match=r"lb_tactic\.params\.levels"):
        Rule.model_validate({"uuid": "r", "lb_tactic": {"type": "tier", "params": {"levels": 2}}})


@pytest.mark.parametrize("value", [-1, MAX_TIER + 1, True, 1.5, "high"])
def test_a_tier_out_of_its_bounds_is_a_config_error_naming_its_path(value: Any) -> None:
    document = {"uuid": "r", "services": [{"provider": "p", "model": "m", "tier": value}]}
    with pytest.raises(ConfigError, match=r"services\.0\.tier|services\[0\]\.tier"):
        Rule.model_validate(document)


def test_a_tier_defaults_to_0_and_round_trips() -> None:
    service = Service(provider="p", model="m")
    assert service.tier == 0
    again = Service.model_validate(S1.model_dump())
    assert again == S1 and again.tier == 1


# -- choosing -----------------------------------------------------------------------------


def test_the_lowest_tier_serves_while_it_has_a_healthy_service() -> None:
    selector, _, _ = setup()
    rule = tiered(S1, P1, T2)  # config order does not matter, the tier does
    picks = {selector.select(rule, chat()).service for _ in range(200)}
    assert picks == {P1}


def test_tier_0_down_means_tier_1_serves_and_tier_2_waits() -> None:
    selector, health, _ = setup()
    rule = tiered(P1, P2, S1, T2)
    eject(health, P1, P2)
    result = selector.select(rule, chat())
    assert result.service == S1
    assert "tier 1, the lowest with a candidate" in result.explain()
    eject(health, S1)
    assert selector.select(rule, chat()).service == T2


def test_every_tier_down_is_panic_mode_on_the_lowest_tier() -> None:
    selector, health, _ = setup()
    rule = tiered(S1, P1)
    eject(health, P1, S1)
    result = selector.select(rule, chat())
    assert result.degraded and result.service == P1


def test_choice_inside_a_tier_is_weighted_random() -> None:
    selector, _, _ = setup()
    rule = tiered(P1, P2, S1)
    counts = Counter(selector.select(rule, chat()).service.model for _ in range(4000))
    assert set(counts) == {"primary-1", "primary-2"}
    assert counts["primary-1"] / 4000 == pytest.approx(0.75, abs=0.03)  # weights 3 : 1


def test_all_weights_0_in_a_tier_is_uniform_inside_it() -> None:
    selector, _, _ = setup()
    a, b = (Service(provider="p", model=m, weight=0) for m in "ab")
    counts = Counter(selector.select(tiered(a, b, S1), chat()).service.model for _ in range(2000))
    assert set(counts) == {"a", "b"} and counts["a"] / 2000 == pytest.approx(0.5, abs=0.04)


def test_fallbacks_go_tier_by_tier_then_the_unhealthy() -> None:
    selector, health, _ = setup()
    rule = tiered(T2, S1, P2, P1)
    eject(health, P2)
    result = selector.select(rule, chat())
    assert result.service == P1
    assert result.fallbacks == (S1, T2, P2)


def test_execute_fails_over_inside_the_tier_before_the_next_tier() -> None:
    selector, _, _ = setup()
    rule = tiered(S1, P1, P2)
    called: list[str] = []

    def call(service: Service, provider: Any) -> str:
        called.append(service.model)
        if service.tier == 0:
            raise FakeAPIError(503)
        return "ok"

    routed = selector.execute(rule, chat(), call)
    assert routed.service == S1
    assert called[-1] == "secondary" and sorted(called[:2]) == ["primary-1", "primary-2"]


def test_the_standalone_load_balancer_runs_the_tier_tactic_over_its_health_view() -> None:
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=FakeClock())
    balancer = LoadBalancer(health=health, rng=random.Random(1))
    rule = tiered(P1, S1)
    assert balancer.select(rule) == P1
    eject(health, P1)
    decision = balancer.decide(rule)
    assert decision.service == S1 and decision.excluded == (P1.service_id,)


# -- sessions come back to the primary tier -------------------------------------------------


def test_new_and_pinned_sessions_go_back_to_tier_0_after_the_promotion_hold() -> None:
    selector, health, clock = setup(hold=60.0)
    rule = tiered(P1, S1, affinity=3600)
    eject(health, P1)
    outage = selector.select(rule, chat("alice"))
    assert outage.service == S1
    selector.record(outage, input_tokens=1)  # tier 1 served: alice is pinned there
    assert selector.select(rule, chat("alice")).source == "affinity"
    clock.advance(60 + 30)  # tier 0 back since 30 s
    assert selector.select(rule, chat("bob")).service == P1  # a new session: tier 0 at once
    held = selector.select(rule, chat("alice"))
    assert held.service == S1 and held.source == "affinity"  # the pin holds for the hold
    clock.advance(30)  # tier 0 healthy for the whole hold
    back = selector.select(rule, chat("alice"))
    assert back.service == P1
    assert "pin on s:secondary moved back to p:primary-1 (healthy for 60s)" in back.explain()
    selector.record(back, input_tokens=1)
    again = selector.select(rule, chat("alice"))
    assert again.service == P1 and again.source == "affinity"
    assert selector.select(rule, chat("carol")).service == P1


def pinned_user(selector: ServiceSelector, rule: Rule, service: Service) -> str:
    """A user whose own draw lands on ``service``, pinned there by serving it."""
    user = next(
        u
        for u in (f"u{i}" for i in range(500))
        if selector.select(rule, chat(u)).service == service
    )
    selector.record(selector.select(rule, chat(user)), input_tokens=1)
    return user


def reweighted(rule: Rule, model: str, weight: int) -> Rule:
    services = tuple(
        s.model_copy(update={"weight": weight}) if s.model == model else s for s in rule.services
    )
    return rule.model_copy(update={"services": services})


def test_a_pin_inside_the_lowest_tier_is_kept() -> None:
    selector, _, clock = setup(hold=0.0)
    rule = tiered(P1, P2, affinity=3600)
    user = pinned_user(selector, rule, P2)
    heavier = reweighted(rule, "primary-1", 1_000_000)  # the tactic now draws P1 for anyone
    clock.advance(1000)
    kept = selector.select(heavier, chat(user))
    assert kept.service == P2 and kept.source == "affinity"


def test_tiers_mean_nothing_to_other_tactics() -> None:
    selector, _, clock = setup(hold=0.0)
    rule = tiered(P1, S1, affinity=3600, tactic="random")
    user = pinned_user(selector, rule, S1)
    heavier = reweighted(rule, "primary-1", 1_000_000)
    clock.advance(1000)
    assert selector.select(heavier, chat(user)).service == S1  # random keeps the pin
    as_tiers = heavier.model_copy(
        update={"lb_tactic": heavier.lb_tactic.model_validate({"type": "tier"})}
    )
    assert selector.select(as_tiers, chat(user)).service.model == "primary-1"  # tier: let go
