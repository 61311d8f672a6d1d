"""tingly-box parity (issue 15): the behaviours a port must keep, as tingly's own cases."""

from __future__ import annotations

from typing import Any

import pytest

from llmroute import Provider, Rule, Service, ServiceSelector
from llmroute.testing import FakeClock

A = Service(provider="p", model="a")
B = Service(provider="p", model="b")


def _rule(tactic: str, **params: Any) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [A.model_dump(), B.model_dump()],
            "lb_tactic": {"type": tactic, "params": params},
        }
    )


# -- 1. no current service yet means the first one ----------------------------------------


@pytest.mark.parametrize(
    ("tactic", "params"),
    [
        ("token_based", {"token_threshold": 10000}),
        ("hybrid", {"token_threshold": 10000, "request_threshold": 100}),
    ],
)
def test_before_any_pick_the_first_service_under_its_threshold_is_kept(
    tactic: str, params: dict[str, Any]
) -> None:
    selector = ServiceSelector([Provider(name="p")], clock=FakeClock(1000.0))
    assert selector.stats is not None
    selector.stats.record_usage(A, 9000, 0)  # A: 9,000 tokens, under 10,000; B: none
    result = selector.select(_rule(tactic, **params), {})
    assert result.service == A
    assert "kept the current service" in result.explain()


def test_latency_based_keeps_the_first_service_under_its_threshold_before_any_pick() -> None:
    selector = ServiceSelector([Provider(name="p")], clock=FakeClock(1000.0))
    assert selector.stats is not None
    selector.stats.record_latency(A, 400)
    selector.stats.record_latency(B, 100)
    rule = _rule("latency_based", latency_threshold_ms=500)
    assert selector.select(rule, {}).service == A  # 400 ms < 500 ms: A, the first, stays


def test_the_first_service_over_its_threshold_gives_way_to_the_least_loaded() -> None:
    selector = ServiceSelector([Provider(name="p")], clock=FakeClock(1000.0))
    assert selector.stats is not None
    selector.stats.record_usage(A, 12000, 0)
    selector.stats.record_usage(B, 50, 0)
    assert selector.select(_rule("token_based", token_threshold=10000), {}).service == B
