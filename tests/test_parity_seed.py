"""tingly-box parity (issue 15, part B): the seed's current service and rules by scenario."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmroute import (
    NoServiceAvailableError,
    Provider,
    RoutingConfig,
    Rule,
    Service,
    ServiceSelector,
)
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


# -- 6. rules by scenario --------------------------------------------------------------------

SCENARIOS = RoutingConfig.model_validate(
    {
        "providers": [{"name": "p"}],
        "scenarios": [
            {"scenario": "claude_code", "flags": {"unified": True}},
            {"scenario": "opencode", "flags": {"separate": True}},
            {"scenario": "both", "flags": {"unified": True, "separate": True}},
            {"scenario": "empty", "flags": {"separate": True}},
        ],
        "rules": [
            {"uuid": "cc-old", "scenario": "claude_code", "active": False, "services": []},
            {"uuid": "cc", "scenario": "claude_code", "services": [A.model_dump()]},
            {
                "uuid": "oc-gpt",
                "scenario": "opencode",
                "request_model": "gpt-4o",
                "services": [B.model_dump()],
            },
            {
                "uuid": "oc-claude",
                "scenario": "opencode",
                "request_model": "claude-sonnet",
                "services": [C.model_dump()],
            },
            {
                "uuid": "oc-off",
                "scenario": "opencode",
                "request_model": "gpt-5",
                "active": False,
                "services": [A.model_dump()],
            },
            {
                "uuid": "both-1",
                "scenario": "both",
                "request_model": "m1",
                "services": [B.model_dump()],
            },
            {
                "uuid": "both-2",
                "scenario": "both",
                "request_model": "m2",
                "services": [C.model_dump()],
            },
            {"uuid": "plain", "services": [C.model_dump()]},
        ],
    }
)


def chat(model: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("scenario", "model", "expected"),
    [
        ("claude_code", "claude-opus-4-1", "cc"),  # unified: one rule for every model
        ("claude_code", "", "cc"),
        ("opencode", "gpt-4o", "oc-gpt"),  # separate: the rule of the request's model
        ("opencode", "claude-sonnet", "oc-claude"),
        ("opencode", "gpt-5", None),  # its rule is inactive
        ("opencode", "GPT-4O", None),  # request_model matches exactly
        ("opencode", "", None),
        ("both", "m2", "both-1"),  # unified and separate: unified wins
        ("openai", "anything", "plain"),  # no entry: unified (tingly's default), rule default
        ("empty", "x", None),
        ("nowhere", "x", None),
    ],
)
def test_rule_for_reads_the_scenario_flags_as_tingly_box_does(
    scenario: str, model: str, expected: str | None
) -> None:
    found = SCENARIOS.rule_for(scenario, model)
    assert (found.uuid if found is not None else None) == expected


def scenario_selector() -> ServiceSelector:
    return ServiceSelector.from_config(SCENARIOS, clock=FakeClock(1000.0))


def test_a_unified_scenario_serves_every_model_from_its_one_active_rule() -> None:
    chooser = scenario_selector()
    for model in ("claude-opus-4-1", "claude-haiku-4-5", ""):
        result = chooser.select(None, chat(model), scenario="claude_code")
        assert result.rule.uuid == "cc" and result.service == A
    assert "1. rule: scenario 'claude_code' (unified): rule 'cc' serves every model" in (
        result.explain()
    )


def test_a_separate_scenario_serves_each_model_from_its_own_rule() -> None:
    chooser = scenario_selector()
    gpt = chooser.select(None, chat("gpt-4o"), scenario="opencode")
    claude = chooser.select(None, chat("claude-sonnet"), scenario="opencode")
    assert (gpt.rule.uuid, gpt.service) == ("oc-gpt", B)
    assert (claude.rule.uuid, claude.service) == ("oc-claude", C)
    assert "scenario 'opencode' (separate): rule 'oc-gpt' serves model 'gpt-4o'" in gpt.explain()


def test_a_miss_in_a_separate_scenario_names_the_scenario_and_the_model() -> None:
    with pytest.raises(NoServiceAvailableError) as caught:
        scenario_selector().select(None, chat("gpt-5"), scenario="opencode")
    message = str(caught.value)
    assert "scenario 'opencode'" in message and "model 'gpt-5'" in message
    assert "'gpt-4o', 'claude-sonnet'" in message  # the models it has


def test_a_miss_in_a_unified_scenario_names_the_scenario_and_the_model() -> None:
    with pytest.raises(NoServiceAvailableError, match=r"scenario 'nowhere' and model 'gpt-4o'"):
        scenario_selector().select(None, chat("gpt-4o"), scenario="nowhere")


def test_the_async_and_execute_forms_find_the_rule_by_scenario() -> None:
    chooser = scenario_selector()
    body = chat("claude-sonnet")

    def call(service: Service, provider: Any) -> str:
        return service.model

    async def acall(service: Service, provider: Any) -> str:
        return service.model

    def stream(service: Service, provider: Any) -> Any:
        yield {"choices": [{"delta": {"content": service.model}}]}

    async def astream(service: Service, provider: Any) -> Any:
        yield {"choices": [{"delta": {"content": service.model}}]}

    async def run_async() -> list[str]:
        selected = await chooser.aselect(None, body, scenario="opencode")
        routed = await chooser.aexecute(None, body, acall, scenario="opencode")
        streamed = await chooser.aexecute_stream(None, body, astream, scenario="opencode")
        chunks = [chunk async for chunk in streamed]
        return [
            selected.service.model,
            routed.response,
            chunks[0]["choices"][0]["delta"]["content"],
        ]

    streamed = chooser.execute_stream(None, body, stream, scenario="opencode")
    assert [
        chooser.execute(None, body, call, scenario="opencode").response,
        next(iter(streamed))["choices"][0]["delta"]["content"],
        *asyncio.run(run_async()),
    ] == ["c"] * 5
    assert (
        chooser.select_for_embeddings(None, {"model": "gpt-4o"}, scenario="opencode").service == B
    )


def test_an_execute_form_with_a_scenario_miss_calls_nothing() -> None:
    called: list[Service] = []
    with pytest.raises(NoServiceAvailableError, match="scenario 'opencode'"):
        scenario_selector().execute(
            None, chat("o3"), lambda s, p: called.append(s), scenario="opencode"
        )
    assert called == []


@pytest.mark.parametrize(
    ("rule", "scenario", "message"),
    [
        (None, None, "pass scenario= to find one"),
        ("cc", "claude_code", "not both"),
        (None, "", "non-empty string"),
        (None, 3, "non-empty string"),
    ],
)
def test_a_rule_and_a_scenario_ask_one_question(rule: Any, scenario: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        scenario_selector().select(rule, chat("x"), scenario=scenario)


def test_a_selector_without_a_config_has_no_scenarios() -> None:
    with pytest.raises(NoServiceAvailableError, match="has no configuration"):
        selector().select(None, chat("x"), scenario="claude_code")


def test_rules_keep_their_scenario_through_a_tingly_box_document_round_trip() -> None:
    again = RoutingConfig.model_validate(SCENARIOS.model_dump())
    assert [r.scenario for r in again.rules][:3] == ["claude_code", "claude_code", "opencode"]
    assert again.rule_for("opencode", "gpt-4o") == SCENARIOS.rule_for("opencode", "gpt-4o")
