"""check_config: what loads but is probably wrong, one warning per finding, with its path."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from llmroute import RoutingConfig, load_config
from llmroute.config import WARNING_CODES, ConfigWarning, check_config
from llmroute.stats import InMemoryStatsStore

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "config.yaml"


def svc(model: str = "gpt-4o", provider: str = "openai", **extra: Any) -> dict[str, Any]:
    return {"provider": provider, "model": model, **extra}


def block(description: str, *ops: tuple[str, str, str], services: Any = None) -> dict[str, Any]:
    return {
        "description": description,
        "ops": [{"position": p, "operation": o, "value": v} for p, o, v in ops],
        "services": services or [svc()],
    }


def document(*rules: dict[str, Any], providers: Any = None, scenarios: Any = None) -> RoutingConfig:
    return RoutingConfig.model_validate(
        {
            "providers": providers or [{"name": "openai", "models": ["gpt-4o", "gpt-4o-mini"]}],
            "rules": list(rules),
            "scenarios": scenarios or [],
        }
    )


def rule(uuid: str = "r", **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "services": [svc()], **fields}


def codes(config: RoutingConfig) -> list[tuple[str, str]]:
    return [(w.code, w.path) for w in check_config(config)]


def test_the_example_config_is_clean() -> None:
    assert check_config(load_config(EXAMPLE)) == []


def test_a_plain_config_is_clean() -> None:
    assert check_config(document(rule())) == []


#: (what the document does, its rules and providers, the (code, path) expected)
CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]]]] = [
    (
        "a model the provider does not list",
        {"rules": [rule(services=[svc("gpt-40")])]},
        [("model-not-listed", "rules[0].services[0].model")],
    ),
    (
        "a block's model the provider does not list",
        {
            "rules": [
                rule(
                    smart_enabled=True,
                    smart_routing=[block("b", ("token", "gt", "9"), services=[svc("o9")])],
                )
            ]
        },
        [("model-not-listed", "rules[0].smart_routing[0].services[0].model")],
    ),
    (
        "a provider no rule uses",
        {"rules": [rule()], "providers": [{"name": "openai"}, {"name": "spare"}]},
        [("unused-provider", "providers[1]")],
    ),
    (
        "a provider only an inactive rule uses",
        {
            "rules": [rule(), rule("off", active=False, services=[svc("m", "spare")])],
            "providers": [{"name": "openai"}, {"name": "spare"}],
        },
        [("unused-provider", "providers[1]")],
    ),
    (
        "every service weighs 0",
        {"rules": [rule(services=[svc(weight=0), svc("gpt-4o-mini", weight=0)])]},
        [("all-weights-zero", "rules[0].services")],
    ),
    (
        "blocks with smart routing off",
        {"rules": [rule(smart_routing=[block("b", ("token", "gt", "9"))])]},
        [("smart-disabled", "rules[0].smart_routing")],
    ),
    (
        "a block after one that matches all it matches",
        {
            "rules": [
                rule(
                    smart_enabled=True,
                    smart_routing=[
                        block("long", ("token", "gt", "1000")),
                        block("longer", ("token", "ge", "5000"), ("model", "equals", "x")),
                    ],
                )
            ]
        },
        [("unreachable-block", "rules[0].smart_routing[1]")],
    ),
    (
        "a block whose token ops contradict",
        {
            "rules": [
                rule(
                    smart_enabled=True,
                    smart_routing=[block("b", ("token", "gt", "100"), ("token", "lt", "50"))],
                )
            ]
        },
        [("unreachable-block", "rules[0].smart_routing[0]")],
    ),
    (
        "capacity_based with no session pinned anywhere",
        {"rules": [rule(lb_tactic={"type": "capacity_based"})]},
        [("tactic-stats", "rules[0].lb_tactic")],
    ),
    (
        "speed_based waiting for more samples than are kept",
        {
            "rules": [
                rule(lb_tactic={"type": "speed_based", "params": {"min_samples_required": 101}})
            ]
        },
        [("tactic-stats", "rules[0].lb_tactic.params.min_samples_required")],
    ),
    (
        "adaptive with every figure weight 0",
        {
            "rules": [
                rule(
                    lb_tactic={
                        "type": "adaptive",
                        "params": {"latency_weight": 0, "token_weight": 0, "speed_weight": 0},
                    }
                )
            ]
        },
        [("tactic-stats", "rules[0].lb_tactic.params")],
    ),
    (
        "a legacy param routing ignores",
        {
            "rules": [
                rule(lb_tactic={"type": "latency_based", "params": {"sample_window_size": 20}})
            ]
        },
        [("ignored-param", "rules[0].lb_tactic.params.sample_window_size")],
    ),
    (
        "a tier under a tactic that does not read tiers",
        {"rules": [rule(services=[svc(), svc("gpt-4o-mini", tier=1)])]},
        [("tier-ignored", "rules[0].services[1].tier")],
    ),
    (
        "a second active rule of a unified scenario",
        {
            "rules": [
                rule("a", scenario="claude_code"),
                rule("off", scenario="claude_code", active=False),
                rule("b", scenario="claude_code"),
            ],
            "scenarios": [{"scenario": "claude_code", "flags": {"unified": True}}],
        },
        [("scenario-shadowed", "rules[2].scenario")],
    ),
    (
        "two active rules of a separate scenario for one model",
        {
            "rules": [
                rule("a", scenario="opencode", request_model="gpt-4o"),
                rule("b", scenario="opencode", request_model="gpt-4o-mini"),
                rule("c", scenario="opencode", request_model="gpt-4o"),
            ],
            "scenarios": [{"scenario": "opencode", "flags": {"separate": True}}],
        },
        [("scenario-shadowed", "rules[2].scenario")],
    ),
]


@pytest.mark.parametrize(("case", "doc", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_finding_is_one_warning_with_its_path(
    case: str, doc: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    config = document(*doc["rules"], providers=doc.get("providers"), scenarios=doc.get("scenarios"))
    assert codes(config) == expected
    for warning in check_config(config):
        assert warning.code in WARNING_CODES
        assert str(warning) == f"{warning.path}: {warning.message} [{warning.code}]"


def test_tiers_under_the_tier_tactic_and_rules_of_unconfigured_scenarios_are_clean() -> None:
    tiered = rule("t", services=[svc(), svc("gpt-4o-mini", tier=1)], lb_tactic={"type": "tier"})
    assert codes(document(tiered, rule("a"), rule("b"))) == []  # no scenarios: entry, no lookup


def test_every_code_is_covered_by_a_case() -> None:
    assert {code for _, _, found in CASES for code, _ in found} == set(WARNING_CODES)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ([("model", "contains", "gpt")], [("model", "contains", "xgpt-4")]),
        ([("model", "glob", "gpt-*")], [("model", "equals", "gpt-4o")]),
        ([("thinking", "enabled", "true")], [("thinking", "disabled", "false")]),
        ([("token", "le", "100")], [("token", "lt", "50")]),
        (
            [("latest_user", "type", "image")],
            [("latest_user", "type", "image"), ("token", "gt", "1")],
        ),
        ([("context_user", "contains", "abc")], [("context_user", "contains", "xxabcxx")]),
    ],
)
def test_a_block_shadowed_by_an_earlier_one_is_unreachable(
    earlier: list[tuple[str, str, str]], later: list[tuple[str, str, str]]
) -> None:
    config = document(
        rule(smart_enabled=True, smart_routing=[block("a", *earlier), block("b", *later)])
    )
    assert codes(config) == [("unreachable-block", "rules[0].smart_routing[1]")]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ([("model", "contains", "gpt-4")], [("model", "contains", "gpt")]),  # wider later
        ([("token", "gt", "1000")], [("token", "gt", "500")]),
        ([("model", "glob", "gpt-*")], [("model", "equals", "o4-mini")]),
        ([("thinking", "enabled", "true")], [("thinking", "enabled", "false")]),
        ([("context_user", "regex", "a+")], [("context_user", "regex", "a+b")]),  # not compared
        ([("token", "gt", "10"), ("model", "equals", "x")], [("token", "gt", "20")]),
    ],
)
def test_a_block_some_request_reaches_is_not_reported(
    earlier: list[tuple[str, str, str]], later: list[tuple[str, str, str]]
) -> None:
    config = document(
        rule(smart_enabled=True, smart_routing=[block("a", *earlier), block("b", *later)])
    )
    assert codes(config) == []


def test_capacity_based_is_fine_when_some_rule_pins_sessions_on_its_services() -> None:
    config = document(
        rule("cap", lb_tactic={"type": "capacity_based"}),
        rule("chat", session_affinity=300),
    )
    assert codes(config) == []


def test_the_sample_bound_can_be_given() -> None:
    config = document(
        rule(lb_tactic={"type": "speed_based", "params": {"min_samples_required": 150}})
    )
    assert check_config(config, max_samples=200) == []
    assert len(check_config(config)) == 1


def test_the_default_sample_bound_is_the_stats_store_default() -> None:
    default = inspect.signature(InMemoryStatsStore).parameters["max_samples"].default
    assert inspect.signature(check_config).parameters["max_samples"].default == default


def test_a_warning_is_immutable_and_compares_by_value() -> None:
    warning = ConfigWarning("unused-provider", "providers[0]", "m")
    assert warning == ConfigWarning("unused-provider", "providers[0]", "m")
    with pytest.raises(AttributeError):
        warning.code = "x"  # type: ignore[misc]
