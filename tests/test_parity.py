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
