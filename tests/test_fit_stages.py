"""The fit stage among the other stages: health narrows the fitted services, a pin on a model
the request does not fit is ignored, a block none of whose services fits is passed over, the
probe pin bypasses the drops, and a rule with figures but nothing to check runs no fit stage
yet reports its (drop-free) fit and estimated cost."""

from __future__ import annotations

import random
from typing import Any

from llmroute import HealthConfig, HealthMonitor, Rule, ServiceSelector
from llmroute.testing import FakeClock

SMALL = {"provider": "p", "model": "small", "model_info": {"context_window": 1_000}}
BIG = {"provider": "p", "model": "big", "model_info": {"context_window": 100_000}}
HUGE = {"provider": "q", "model": "huge", "model_info": {"context_window": 200_000}}
LONG = "a" * 40_000  # ~10k tokens: only big and huge take it


def chat(text: str = "hi", user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": text}]}
    if user is not None:
        body["metadata"] = {"user_id": user}
    return body


def make_rule(*services: dict[str, Any], **extra: Any) -> Rule:
    return Rule.model_validate({"uuid": "r", "services": list(services), **extra})


def setup(**kw: Any) -> tuple[ServiceSelector, HealthMonitor]:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(3), **kw)
    return selector, health


def test_health_narrows_the_services_the_request_fits() -> None:
    selector, health = setup()
    target = make_rule(SMALL, BIG, HUGE)
    health.report_error("p:big", 500)
    result = selector.select(target, chat(LONG))
    assert result.service_id == "q:huge" and not result.degraded
    assert [s.service_id for s in result.candidates] == ["q:huge"]
    assert "1. fit: dropped p:small" in result.explain()
    assert "2. health: dropped unhealthy p:big; 1 left" in result.explain()


def test_panic_mode_is_among_the_fitting_services_only() -> None:
    selector, health = setup()
    health.report_error("p:big", 500)
    result = selector.select(make_rule(SMALL, BIG), chat(LONG))
    assert result.service_id == "p:big" and result.degraded  # small would be healthy
    assert "all 1 candidates unhealthy (p:big); kept them all (panic mode)" in result.explain()


def test_a_pin_on_a_model_the_request_does_not_fit_is_ignored() -> None:
    selector, _ = setup()
    target = make_rule(SMALL, BIG, session_affinity=300)
    for n in range(40):  # a session whose short request pins it to small
        user = f"u{n}"
        first = selector.select(target, chat(user=user))
        if first.service_id == "p:small":
            break
    assert first.service_id == "p:small"
    selector.record(first, input_tokens=1, output_tokens=1)
    assert selector.select(target, chat(user=user)).source == "affinity"
    result = selector.select(target, chat(LONG, user=user))
    assert result.service_id == "p:big" and result.source == "load_balancer"
    assert "pin on p:small ignored: it does not fit the request" in result.explain()


def test_a_block_none_of_whose_services_fits_is_passed_over() -> None:
    selector, _ = setup()
    block = {
        "description": "everything",
        "ops": [{"position": "model", "operation": "contains", "value": "m"}],
        "services": [SMALL],
    }
    target = make_rule(BIG, smart_enabled=True, smart_routing=[block])
    assert selector.select(target, chat()).source == "smart_routing"
    result = selector.select(target, chat(LONG))
    assert result.service_id == "p:big" and result.matched_smart_rule_index == -1
    assert "1 without a usable service passed over" in result.explain()


def test_the_probe_pin_serves_even_a_model_the_request_does_not_fit() -> None:
    selector, _ = setup(probe_header="X-Probe")
    result = selector.select(make_rule(SMALL, BIG), chat(LONG), headers={"X-Probe": "p:small"})
    assert result.service_id == "p:small" and result.source == "probe_header"
    assert result.evaluated_stages == ("fit", "health", "probe_header")


def test_figures_with_nothing_to_check_run_no_fit_stage_but_report() -> None:
    priced = {"provider": "p", "model": "m", "model_info": {"input": 1.0, "output": 2.0}}
    other = {"provider": "p", "model": "n", "model_info": {"input": 2.0, "output": 4.0}}
    selector, _ = setup()
    target = make_rule(priced, other)
    plan_fit = selector.select(target, chat()).plan.fit
    assert plan_fit is not None and not plan_fit.works  # decided once: no stage call
    result = selector.select(target, chat("a" * 4000))
    assert result.fitted is None  # the stage did not run
    assert result.evaluated_stages[0] == "fit"
    report = result.fit
    assert report is not None and not report.dropped
    assert "unchecked: p:m (context_window unknown)" in result.explain()
    assert result.estimated_cost is not None and "estimated cost:" in result.explain()


def test_lowest_cost_prices_the_request_it_routes() -> None:
    cheap_in = {"provider": "p", "model": "cheap-in", "model_info": {"input": 1.0, "output": 20.0}}
    cheap_out = {"provider": "p", "model": "cheap-out", "model_info": {"input": 5.0, "output": 1.0}}
    selector, _ = setup()
    target = make_rule(cheap_in, cheap_out, lb_tactic={"type": "lowest_cost"})
    long_in = chat("a" * 400_000)
    long_in["max_tokens"] = 10  # ~100k in, 10 out: the cheap input wins
    assert selector.select(target, long_in).service.model == "cheap-in"
    long_out = chat("hi")
    long_out["max_tokens"] = 50_000
    assert selector.select(target, long_out).service.model == "cheap-out"
