"""tingly-box parity (issue 15): the behaviours a port must keep, as tingly's own cases."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from llmroute import (
    HealthMonitor,
    NoServiceAvailableError,
    Provider,
    Rule,
    Service,
    ServiceSelector,
)
from llmroute.health import HealthFilter
from llmroute.state import InMemoryState
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


# -- 2. latest_user does not look past a tool-result turn ---------------------------------

_SEARCH_CALL = {"type": "tool_use", "id": "t1", "name": "search", "input": {"q": "cats"}}
_SEARCH_RESULT = {"type": "tool_result", "tool_use_id": "t1", "content": "12 cats found"}
ANTHROPIC_TOOL_LOOP = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 1024,
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "search cats"}]},
        {"role": "assistant", "content": [_SEARCH_CALL]},
        {"role": "user", "content": [_SEARCH_RESULT]},
    ],
}
OPENAI_TOOL_LOOP = {
    "model": "gpt-4o",
    "messages": [
        {"role": "user", "content": "search cats"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "cats"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "12 cats found"},
    ],
}
RESPONSES_TOOL_LOOP = {
    "model": "gpt-4o",
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "search cats"}]},
        {"type": "function_call", "call_id": "c1", "name": "search", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "12 cats found"},
    ],
}


def _smart_rule(*ops: tuple[str, str, str]) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [A.model_dump()],
            "smart_enabled": True,
            "smart_routing": [
                {
                    "description": "the block",
                    "ops": [{"position": p, "operation": o, "value": v} for p, o, v in ops],
                    "services": [B.model_dump()],
                }
            ],
        }
    )


@pytest.mark.parametrize(
    "body", [ANTHROPIC_TOOL_LOOP, OPENAI_TOOL_LOOP, RESPONSES_TOOL_LOOP], ids=["an", "oa", "rs"]
)
@pytest.mark.parametrize(
    "op", [("latest_user", "contains", "search"), ("latest_user", "type", "text")]
)
def test_a_conversation_ending_in_tool_results_does_not_match_the_earlier_user_turn(
    body: dict[str, Any], op: tuple[str, str, str]
) -> None:
    selector = ServiceSelector([Provider(name="p")])
    result = selector.select(_smart_rule(op), body)
    assert result.service == A  # the block did not match: the rule's own service
    assert result.matched_smart_rule_index == -1


def test_a_text_user_turn_after_a_tool_exchange_matches_as_usual() -> None:
    body = {
        **ANTHROPIC_TOOL_LOOP,
        "messages": [
            *ANTHROPIC_TOOL_LOOP["messages"],
            {"role": "assistant", "content": [{"type": "text", "text": "12 cats."}]},
            {"role": "user", "content": "now search dogs"},
        ],
    }
    selector = ServiceSelector([Provider(name="p")])
    assert selector.select(_smart_rule(("latest_user", "contains", "search")), body).service == B


def test_a_turn_of_tool_results_and_text_is_the_latest_user_message() -> None:
    messages = [
        *ANTHROPIC_TOOL_LOOP["messages"][:2],
        {"role": "user", "content": [_SEARCH_RESULT, {"type": "text", "text": "search more"}]},
    ]
    selector = ServiceSelector([Provider(name="p")])
    rule = _smart_rule(("latest_user", "contains", "search more"))
    assert selector.select(rule, {"messages": messages}).service == B


# -- 3. a matched block with no usable service is skipped ---------------------------------


def _blocks_rule(blocks: list[dict[str, Any]], services: list[Service]) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [s.model_dump() for s in services],
            "smart_enabled": True,
            "smart_routing": blocks,
        }
    )


def _block(description: str, value: str, *services: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "ops": [{"position": "model", "operation": "contains", "value": value}],
        "services": list(services),
    }


INACTIVE = {"provider": "p", "model": "vision", "active": False}
DISABLED = {"provider": "off", "model": "vision"}
PROVIDERS = [Provider(name="p"), Provider(name="off", enabled=False)]


@pytest.mark.parametrize("unusable", [INACTIVE, DISABLED], ids=["inactive", "disabled"])
def test_a_block_whose_only_service_is_unusable_falls_to_the_rules_services(
    unusable: dict[str, Any],
) -> None:
    rule = _blocks_rule([_block("gpt", "gpt", unusable)], [A, B])
    result = ServiceSelector(PROVIDERS, rng=random.Random(1)).select(rule, {"model": "gpt-4o"})
    assert result.service in (A, B)
    assert result.matched_smart_rule_index == -1
    assert result.source == "load_balancer"
    assert "block 0 'gpt': no usable service" in result.explain()


def test_evaluation_goes_on_to_the_next_block_after_an_unusable_one() -> None:
    usable = {"provider": "p", "model": "next"}
    rule = _blocks_rule([_block("dead", "gpt", INACTIVE), _block("next", "gpt", usable)], [A])
    result = ServiceSelector(PROVIDERS).select(rule, {"model": "gpt-4o"})
    assert (result.service.model, result.matched_smart_rule_index) == ("next", 1)


def test_a_block_with_all_services_unhealthy_stays_degraded_on_the_block() -> None:
    clock = FakeClock(1000.0)
    selector = ServiceSelector(PROVIDERS, clock=clock)
    rule = _blocks_rule([_block("gpt", "gpt", {"provider": "p", "model": "vision"})], [A])
    assert selector.health is not None
    for _ in range(3):
        selector.health.report_error("p:vision", 500)
    result = selector.select(rule, {"model": "gpt-4o"})
    assert (result.service.model, result.matched_smart_rule_index) == ("vision", 0)
    assert result.degraded


def test_a_rule_whose_only_matching_block_is_unusable_and_no_services_is_an_error() -> None:
    rule = _blocks_rule([_block("dead", "gpt", INACTIVE)], [])
    with pytest.raises(NoServiceAvailableError, match="no smart-routing block matched"):
        ServiceSelector(PROVIDERS).select(rule, {"model": "gpt-4o"})


# -- 4. a health filter without a monitor passes everything through -----------------------


@pytest.mark.parametrize("health_filter", [HealthFilter(), HealthFilter(None)], ids=["", "None"])
def test_a_health_filter_without_a_monitor_passes_everything(health_filter: HealthFilter) -> None:
    items = [A, B, "p:c"]
    assert health_filter.filter(items) == items
    assert health_filter.filter_with_fallback(iter(items)) == items
    assert health_filter.filter([]) == []


def test_a_selector_without_health_routes_to_services_another_monitor_ejected() -> None:
    monitor = HealthMonitor()
    for _ in range(3):
        monitor.report_error(A.service_id, 500)
    assert not monitor.is_healthy(A.service_id)
    rule = _rule("token_based", token_threshold=10)
    state = InMemoryState(health=monitor)  # the store knows A is down ...
    selector = ServiceSelector([Provider(name="p")], state=state, health=False)
    result = selector.select(rule, {})  # ... but without a health filter it passes
    assert result.service == A and not result.degraded  # no monitor: nothing is filtered
    assert "no health monitor" in result.explain()


def test_the_summary_says_blocks_without_a_usable_service_were_passed_over() -> None:
    rule = _blocks_rule([_block("dead", "gpt", INACTIVE)], [A])
    text = ServiceSelector(PROVIDERS).select(rule, {"model": "gpt-4o"}).explain()
    assert "no usable block of 1 matched (1 without a usable service passed over)" in text


def test_aselect_runs_the_same_live_ops_on_its_read() -> None:
    rule = Rule.model_validate(
        {
            "uuid": "r",
            "services": [A.model_dump()],
            "smart_enabled": True,
            "smart_routing": [
                {
                    "description": "night",
                    "ops": [
                        {"position": "time_range", "operation": "within", "value": "22:00-06:00"}
                    ],
                    "services": [B.model_dump()],
                }
            ],
        }
    )
    clock = FakeClock(86400 * 30 + 23 * 3600)  # 23:00 UTC
    selector = ServiceSelector([Provider(name="p")], clock=clock)
    assert asyncio.run(selector.aselect(rule, {})).service == B
    clock.advance(2 * 3600)  # 01:00
    assert asyncio.run(selector.aselect(rule, {})).service == B
    clock.advance(6 * 3600)  # 07:00
    assert asyncio.run(selector.aselect(rule, {})).service == A
