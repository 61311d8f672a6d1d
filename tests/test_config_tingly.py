"""tingly-box documents load unchanged and round-trip: integer tactic types, adaptive's
scoring_mode, time_window 0, legacy smart_affinity, current_service_index, scenarios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmroute import ConfigError, RoutingConfig, Rule, load_config
from llmroute.config import (
    LEGACY_AFFINITY_SECONDS,
    REVEAL_SECRETS,
    TINGLY_TACTIC_TYPES,
    ScenarioConfig,
    ScenarioFlags,
)

DATA = Path(__file__).parent / "data"
DOCUMENTS = ["tingly_adaptive", "tingly_legacy", "tingly_scenarios", "tingly_typed"]


def load(name: str) -> RoutingConfig:
    return load_config(DATA / f"{name}.json")


def raw(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    return doc


def rule(**fields: Any) -> Rule:
    return Rule.model_validate(
        {"uuid": "r", "services": [{"provider": "p", "model": "m"}], **fields}
    )


@pytest.mark.parametrize("name", DOCUMENTS)
def test_each_document_loads_and_round_trips_exactly(name: str) -> None:
    config = load(name)
    dumped = config.model_dump_json(context=REVEAL_SECRETS)
    again = RoutingConfig.model_validate_json(dumped)
    assert again == config
    assert again.model_dump_json(context=REVEAL_SECRETS) == dumped  # a fixed point
    assert RoutingConfig.model_validate(config.model_dump(context=REVEAL_SECRETS)) == config


@pytest.mark.parametrize("name", DOCUMENTS)
def test_every_key_of_each_document_survives_the_dump(name: str) -> None:
    def keys(value: Any, path: str = "") -> set[str]:
        if isinstance(value, dict):
            return {f"{path}.{k}" for k in value} | {
                p for k, v in value.items() for p in keys(v, f"{path}.{k}")
            }
        if isinstance(value, list):
            return {p for i, v in enumerate(value) for p in keys(v, f"{path}[{i}]")}
        return set()

    written = keys(raw(name))
    dumped = keys(load(name).model_dump(mode="json", context=REVEAL_SECRETS))
    # flags.session_affinity is the one key that moves (to session_affinity)
    assert {k for k in written - dumped if not k.endswith("flags.session_affinity")} == set()


@pytest.mark.parametrize("number, name", list(enumerate(TINGLY_TACTIC_TYPES)))
def test_integer_tactic_types_follow_tinglys_enum_order(number: int, name: str) -> None:
    tactic = rule(lb_tactic={"type": number}).lb_tactic
    assert tactic.type == name
    assert tactic.model_dump()["type"] == name  # written back as the name, which tingly reads


def test_the_issues_example_type_3_is_random() -> None:
    assert rule(lb_tactic={"type": 3}).lb_tactic.type == "random"


@pytest.mark.parametrize("number", [-1, 8, 99])
def test_an_unknown_integer_tactic_type_lists_the_numbers(number: int) -> None:
    with pytest.raises(ConfigError) as info:
        rule(lb_tactic={"type": number})
    assert f"lb_tactic.type: unknown tactic type {number}" in str(info.value)
    assert "3 random" in str(info.value)


def test_adaptive_scoring_mode_is_kept_and_left_out_of_dumps_when_unset() -> None:
    config = load("tingly_adaptive")
    params = config.rules[0].lb_tactic.params.model_dump()
    assert params["scoring_mode"] == "weighted"
    assert "scoring_mode" not in rule(lb_tactic={"type": "adaptive"}).lb_tactic.params.model_dump()


def test_time_window_0_means_the_default_300() -> None:
    services = load("tingly_adaptive").rules[0].services
    assert [s.time_window for s in services] == [300, 300]


def test_current_service_index_loads_and_is_kept() -> None:
    config = load("tingly_legacy")
    assert [r.current_service_index for r in config.rules] == [1, 0]
    assert config.rules[0].model_dump()["current_service_index"] == 1


def test_legacy_smart_affinity_on_the_rule_or_in_its_flags_is_a_two_hour_lock() -> None:
    on_rule, in_flags = load("tingly_legacy").rules
    assert LEGACY_AFFINITY_SECONDS == 7200
    assert on_rule.session_affinity == 7200 and on_rule.smart_affinity is True
    assert in_flags.session_affinity == 7200 and in_flags.flags["smart_affinity"] is True


@pytest.mark.parametrize("value", [1, "true", "yes", "on"])
def test_smart_affinity_read_as_true_by_its_field_is_the_two_hour_lock_too(value: object) -> None:
    loaded = rule(smart_affinity=value)
    assert loaded.smart_affinity is True and loaded.session_affinity == 7200


def test_an_explicit_session_affinity_wins_over_legacy_smart_affinity() -> None:
    assert rule(smart_affinity=True, session_affinity=300).session_affinity == 300
    assert rule(smart_affinity=False).session_affinity == 0


def test_smart_affinity_with_session_affinity_0_is_a_contradiction() -> None:
    with pytest.raises(ConfigError, match="smart_affinity is true but session_affinity is 0"):
        rule(smart_affinity=True, session_affinity=0)


def test_a_non_boolean_smart_affinity_flag_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"flags\.smart_affinity: must be true or false"):
        rule(flags={"smart_affinity": "2h"})


def test_scenarios_keep_unknown_flags_and_every_extension() -> None:
    config = load("tingly_scenarios")
    entry = config.scenario("claude_code")
    assert entry.flags.separate is True
    assert entry.flags.flag("use_thinking") is True
    assert entry.extensions == {
        "beta_header": True,
        "max_context": 200000,
        "note": "kept as written",
    }
    dumped = entry.model_dump(mode="json")
    assert dumped["flags"]["use_thinking"] is True
    assert dumped["extensions"]["note"] == "kept as written"


def test_default_flags_are_the_flags_when_one_is_set_else_unified_alone() -> None:
    config = load("tingly_scenarios")
    assert config.scenario("claude_code").default_flags() == config.scenario("claude_code").flags
    assert config.scenario("opencode").default_flags() == ScenarioFlags(unified=True)
    assert config.scenario("anthropic").default_flags().smart is True


def test_a_scenario_without_an_entry_gets_a_default_one() -> None:
    entry = load("tingly_scenarios").scenario("openai")
    assert entry == ScenarioConfig(scenario="openai")
    assert entry.default_flags() == ScenarioFlags(unified=True)


@pytest.mark.parametrize(
    "scenario, flag, expected",
    [
        ("claude_code", "separate", True),
        ("claude_code", "unified", False),
        ("claude_code", "use_thinking", True),  # an unknown flag
        ("claude_code", "beta_header", True),  # an extension boolean
        ("claude_code", "max_context", False),  # an extension that is not a boolean
        ("claude_code", "nothing", False),
        ("opencode", "unified", True),  # the default flags
        ("anthropic", "stream_usage", False),
        ("openai", "unified", True),  # no entry: the default one
    ],
)
def test_scenario_flag_reads_flags_then_extensions(
    scenario: str, flag: str, expected: bool
) -> None:
    assert load("tingly_scenarios").scenario_flag(scenario, flag) is expected


def test_duplicate_scenarios_are_an_error_with_the_path() -> None:
    with pytest.raises(ConfigError, match=r"scenarios\[1\]\.scenario: duplicate scenario 'x'"):
        RoutingConfig.model_validate({"scenarios": [{"scenario": "x"}, {"scenario": "x"}]})


def test_null_scenarios_flags_and_extensions_read_as_empty() -> None:
    config = RoutingConfig.model_validate(
        {"scenarios": [{"scenario": "x", "flags": None, "extensions": None}]}
    )
    assert config.scenario("x").flags == ScenarioFlags()
    assert RoutingConfig.model_validate({"scenarios": None}).scenarios == ()


def test_an_inactive_rule_may_have_no_usable_service() -> None:
    config = load("tingly_typed")
    assert config.get_rule("r-parked") is not None
