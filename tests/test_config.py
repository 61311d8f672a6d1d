"""Configuration models: loading tingly-box documents, defaults, round trips and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmroute import (
    ConfigError,
    HealthConfig,
    LLMRouteError,
    Provider,
    RoutingConfig,
    Rule,
    Service,
    ServiceID,
    Tactic,
    load_config,
)
from llmroute.config import REVEAL_SECRETS

DATA = Path(__file__).parent / "data"
TINGLY = DATA / "tingly_rule.json"


def tingly_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(TINGLY.read_text())
    return doc


def rule_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "uuid": "r1",
        "services": [{"provider": "p", "model": "m"}],
    }
    doc.update(overrides)
    return doc


# --- loading and round trips -------------------------------------------------------------


def test_tingly_document_loads_unchanged() -> None:
    config = load_config(TINGLY)
    assert [r.uuid for r in config.rules] == ["rule-claude-code", "rule-openai"]
    rule = config.rules[0]
    assert rule.scenario == "claude_code"
    assert rule.lb_tactic.type == "latency_based"
    assert rule.session_affinity == 1800
    assert rule.flags == {"skip_usage": True}
    assert rule.smart_routing[1].ops[0].value == "60000"


def test_round_trip_of_rules_is_exact() -> None:
    config = load_config(TINGLY)
    for rule in config.rules:
        again = Rule.model_validate(rule.model_dump())
        assert again == rule
        assert Rule.model_validate_json(rule.model_dump_json()) == rule


def test_round_trip_of_whole_document_with_revealed_secrets_is_exact() -> None:
    config = load_config(TINGLY)
    dumped = config.model_dump_json(context=REVEAL_SECRETS)
    assert RoutingConfig.model_validate_json(dumped) == config


def test_dump_of_rule_keeps_tingly_keys() -> None:
    rule = load_config(TINGLY).rules[0]
    dumped = rule.model_dump(mode="json")
    assert dumped["lb_tactic"] == {
        "type": "latency_based",
        "params": {
            "latency_threshold_ms": 1500,
            "comparison_mode": "p95",
            "sample_window_size": 100,
            "percentile": 0.95,
        },
    }
    assert dumped["services"][0] == {
        "provider": "7d1e0a9b-claude",
        "model": "claude-sonnet-4-5",
        "weight": 3,
        "active": True,
        "time_window": 300,
        "model_capacity": None,
        "tier": 0,
    }


def test_yaml_loads_the_same_document(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(tingly_doc()))
    assert load_config(path) == load_config(TINGLY)


def test_nulls_from_go_encoders_read_as_empty() -> None:
    rule = Rule.model_validate(rule_doc(services=None, smart_routing=None, lb_tactic=None))
    assert rule.services == ()
    assert rule.smart_routing == ()
    assert rule.lb_tactic == Tactic()


# --- tactic params ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "defaults"),
    [
        ("round_robin", {"request_threshold": 10}),
        ("token_based", {"token_threshold": 10000}),
        ("hybrid", {"request_threshold": 10, "token_threshold": 10000}),
        ("random", {}),
        ("latency_based", {"latency_threshold_ms": 2000, "comparison_mode": "avg"}),
        ("speed_based", {"min_samples_required": 5, "speed_threshold_tps": 50.0}),
        (
            "adaptive",
            {
                "latency_weight": 0.25,
                "token_weight": 0.15,
                "speed_weight": 0.15,
                "health_weight": 0.10,
                "max_latency_ms": 2000,
                "max_token_usage": 10000,
                "min_speed_tps": 50.0,
            },
        ),
        ("capacity_based", {}),
    ],
)
def test_each_tactic_params_default(name: str, defaults: dict[str, Any]) -> None:
    for doc in ({"type": name}, {"type": name, "params": {}}, {"type": name, "params": None}):
        tactic = Tactic.model_validate(doc)
        assert tactic.params.model_dump() == defaults


def test_missing_lb_tactic_means_random() -> None:
    assert Rule.model_validate(rule_doc()).lb_tactic.type == "random"


def test_tactic_name_is_case_insensitive_and_dumps_lower_case() -> None:
    tactic = Tactic.model_validate({"type": "Token_BASED", "params": {"token_threshold": 5}})
    assert tactic.model_dump() == {"type": "token_based", "params": {"token_threshold": 5}}


def test_partial_params_keep_other_defaults() -> None:
    tactic = Tactic.model_validate({"type": "hybrid", "params": {"token_threshold": 7}})
    assert tactic.params.model_dump() == {"request_threshold": 10, "token_threshold": 7}


def test_params_model_of_another_tactic_is_rejected() -> None:
    from llmroute.config import RoundRobinParams

    with pytest.raises(ConfigError, match="RoundRobinParams does not fit tactic 'random'"):
        Tactic(type="random", params=RoundRobinParams())


# --- errors with document paths --------------------------------------------------------


def config_doc(rules: list[dict[str, Any]], providers: list[dict[str, Any]] | None = None) -> Any:
    return {"providers": providers or [{"name": "p", "token": "sk-x"}], "rules": rules}


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            config_doc([rule_doc(lb_tactic={"type": "fastest"})]),
            "rules[0].lb_tactic.type: unknown tactic 'fastest'; valid tactics: adaptive,",
        ),
        (
            config_doc(
                [
                    rule_doc(
                        services=[
                            {"provider": "p", "model": "a"},
                            {"provider": "p", "model": "b", "weight": -1},
                        ]
                    )
                ]
            ),
            "rules[0].services[1].weight: must be >= 0",
        ),
        (
            config_doc([rule_doc(services=[{"provider": "nope", "model": "m"}])]),
            "rules[0].services[0].provider: unknown provider 'nope'",
        ),
        (
            config_doc([rule_doc(), rule_doc(uuid="r2"), rule_doc()]),
            "rules[2].uuid: duplicate rule uuid 'r1' (rules[0])",
        ),
        (
            config_doc([rule_doc(session_affinity="soon")]),
            "rules[0].session_affinity: must be a valid integer",
        ),
        (
            config_doc(
                [
                    rule_doc(
                        lb_tactic={"type": "latency_based", "params": {"comparison_mode": "p90"}}
                    )
                ]
            ),
            "rules[0].lb_tactic.params.comparison_mode: must be 'avg', 'p50', 'p95' or 'p99'",
        ),
        (
            config_doc(
                [rule_doc(lb_tactic={"type": "round_robin", "params": {"request_treshold": 3}})]
            ),
            "rules[0].lb_tactic.params.request_treshold: unknown field",
        ),
        (
            config_doc([rule_doc(services=[{"provider": "p", "model": ""}])]),
            "rules[0].services[0].model: cannot be empty",
        ),
        (
            config_doc([rule_doc(uuid=None)]),
            "rules[0].uuid: must be a valid string",
        ),
        (
            config_doc([rule_doc(services=[{"provider": "p", "model": "m", "time_window": -1}])]),
            "rules[0].services[0].time_window: must be >= 0",
        ),
        (
            {"rules": [rule_doc(colour="blue")]},
            "rules[0].colour: unknown field",
        ),
        (
            {"providers": [{"name": "p"}, {"name": "p"}]},
            "providers[1].name: duplicate provider 'p' (providers[0])",
        ),
        (
            {"health": {"recovery_timeout_seconds": 60, "max_recovery_timeout_seconds": 30}},
            "health: max_recovery_timeout_seconds must be >= recovery_timeout_seconds",
        ),
    ],
)
def test_bad_config_names_the_document_path(doc: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(doc)
    assert expected in str(info.value)


def test_config_error_is_an_llmroute_error_and_a_value_error() -> None:
    with pytest.raises(ConfigError) as info:
        Rule.model_validate(rule_doc(lb_tactic={"type": "nope"}))
    assert isinstance(info.value, LLMRouteError)
    assert isinstance(info.value, ValueError)
    assert info.value.problems[0][0] == "lb_tactic.type"


def test_every_problem_is_reported_not_only_the_first() -> None:
    doc = config_doc(
        [rule_doc(services=[{"provider": "p", "model": "m", "weight": -1, "time_window": -5}])]
    )
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(doc)
    paths = [path for path, _ in info.value.problems]
    assert paths == ["rules[0].services[0].weight", "rules[0].services[0].time_window"]
    assert str(info.value).startswith("2 configuration errors:")


def test_constructors_raise_config_error_too() -> None:
    with pytest.raises(ConfigError, match="weight: must be >= 0"):
        Service(provider="p", model="m", weight=-2)


def test_unknown_provider_is_checked_in_smart_routing_blocks_too() -> None:
    block = {
        "description": "d",
        "ops": [{"position": "model", "operation": "contains", "value": "gpt"}],
        "services": [{"provider": "ghost", "model": "m"}],
    }
    with pytest.raises(ConfigError, match=r"rules\[0\].smart_routing\[0\].services\[0\].provider"):
        RoutingConfig.model_validate(config_doc([rule_doc(smart_routing=[block])]))


def test_services_may_name_providers_by_uuid_or_name() -> None:
    providers = [{"uuid": "u-1", "name": "one"}]
    rules = [
        rule_doc(services=[{"provider": "u-1", "model": "a"}, {"provider": "one", "model": "b"}])
    ]
    config = RoutingConfig.model_validate(config_doc(rules, providers))
    assert config.get_provider("u-1") is config.get_provider("one") is config.providers[0]


def test_without_providers_services_are_not_checked() -> None:
    config = RoutingConfig.model_validate({"rules": [rule_doc()]})
    assert config.rules[0].services[0].provider == "p"


def test_conflicting_session_affinity_and_flag_is_an_error() -> None:
    with pytest.raises(ConfigError, match="disagree"):
        Rule.model_validate(rule_doc(session_affinity=10, flags={"session_affinity": 20}))


def test_load_config_reports_file_and_json_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"rules": [\n  {"uuid": "a",}\n]}')
    with pytest.raises(ConfigError, match=r"broken\.json: invalid JSON at line 2"):
        load_config(path)


def test_load_config_names_the_file_in_validation_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"rules": [rule_doc(lb_tactic={"type": "x"})]}))
    with pytest.raises(ConfigError, match=r"bad\.json: rules\[0\]\.lb_tactic\.type"):
        load_config(path)


def test_load_config_rejects_unknown_file_types(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("")
    with pytest.raises(ConfigError, match=r"use \.json, \.yaml or \.yml"):
        load_config(path)


def test_load_config_explains_missing_pyyaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_yaml)
    path = tmp_path / "c.yaml"
    path.write_text("rules: []")
    with pytest.raises(ConfigError, match=r"pip install 'llmroute\[yaml\]'"):
        load_config(path)


def test_load_config_reports_yaml_syntax_position(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    path = tmp_path / "c.yaml"
    path.write_text("rules:\n  - uuid: [unclosed\n")
    with pytest.raises(ConfigError, match=r"invalid YAML at line \d+ column \d+"):
        load_config(path)


# --- lookups and helpers ---------------------------------------------------------------


def test_get_rule_by_uuid_or_request_model() -> None:
    config = load_config(TINGLY)
    assert config.get_rule("rule-openai") is config.rules[1]
    assert config.get_rule("tingly-claude") is config.rules[0]
    assert config.get_rule("missing") is None


def test_active_services_keep_config_order() -> None:
    rule = load_config(TINGLY).rules[0]
    assert [s.model for s in rule.active_services()] == ["claude-sonnet-4-5", "gpt-4o"]


def test_health_config_defaults() -> None:
    health = HealthConfig()
    assert (health.consecutive_error_threshold, health.recovery_timeout_seconds) == (3, 60.0)
    assert (health.max_recovery_timeout_seconds, health.probe_enabled) == (600.0, False)


def test_models_are_frozen() -> None:
    service = Service(provider="p", model="m")
    with pytest.raises(Exception, match="frozen"):
        service.weight = 5  # type: ignore[misc]


# --- ServiceID ------------------------------------------------------------------------


def test_service_id_is_its_string_form() -> None:
    sid = ServiceID("p", "m")
    assert str(sid) == "p:m"
    assert sid == "p:m"
    assert hash(sid) == hash("p:m")
    assert {sid: 1}["p:m"] == 1
    assert repr(sid) == "ServiceID('p', 'm')"


def test_service_id_parse_splits_on_the_first_colon() -> None:
    sid = ServiceID.parse("ollama:llama3:70b")
    assert (sid.provider, sid.model) == ("ollama", "llama3:70b")
    assert sid == ServiceID("ollama", "llama3:70b")


@pytest.mark.parametrize("text", ["no-colon", ":m", "p:"])
def test_service_id_parse_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        ServiceID.parse(text)


def test_service_exposes_its_id_and_name() -> None:
    service = Service(provider="p", model="m:1")
    assert service.service_id == ServiceID("p", "m:1")
    assert service.name == "p:m:1"


def test_service_provider_with_colon_is_rejected() -> None:
    with pytest.raises(ConfigError, match="provider: must not contain ':'"):
        Service(provider="a:b", model="m")


# --- providers and secrets ------------------------------------------------------------

SECRETS = ("sk-test-openai-0123456789", "oat-access-secret", "ort-refresh-secret")


def test_no_secret_in_repr_str_or_json_dump() -> None:
    for provider in load_config(TINGLY).providers:
        for text in (repr(provider), str(provider), provider.model_dump_json()):
            for secret in SECRETS:
                assert secret not in text


def test_no_secret_in_dumps_of_the_whole_config() -> None:
    config = load_config(TINGLY)
    text = config.model_dump_json() + repr(config) + repr(config.model_dump())
    for secret in SECRETS:
        assert secret not in text


def test_secrets_appear_only_when_revealed() -> None:
    provider = load_config(TINGLY).providers[0]
    assert provider.model_dump(mode="json")["token"] == "**********"
    assert provider.model_dump(mode="json", context=REVEAL_SECRETS)["token"] == SECRETS[0]


def test_secret_input_of_wrong_type_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        Provider(name="p", token=123456789)
    assert "123456789" not in str(info.value)
    assert "token: must be a valid string" in str(info.value)


def test_access_token_follows_auth_type() -> None:
    api_key, oauth = load_config(TINGLY).providers
    assert api_key.access_token() == SECRETS[0]
    assert oauth.access_token() == "oat-access-secret"


def test_oauth_provider_needs_oauth_detail() -> None:
    with pytest.raises(ConfigError, match="oauth_detail: required when auth_type is 'oauth'"):
        Provider(name="p", auth_type="oauth")


def test_oauth_expiry_uses_the_given_time() -> None:
    oauth = load_config(TINGLY).providers[1]
    assert oauth.oauth_detail is not None
    expires = oauth.oauth_detail.expires_at
    assert expires is not None
    at = expires.timestamp()
    assert not oauth.is_expired(at - 1)
    assert oauth.is_expired(at)
    assert oauth.is_expired(at - 30, leeway=60)


def test_api_key_provider_never_expires() -> None:
    assert not load_config(TINGLY).providers[0].is_expired(4e9)


def test_naive_expiry_is_read_as_utc() -> None:
    provider = Provider(
        name="p",
        auth_type="oauth",
        oauth_detail={"access_token": "a", "expires_at": "2026-01-01T00:00:00"},
    )
    assert provider.oauth_detail is not None
    assert provider.oauth_detail.expires_at is not None
    assert provider.oauth_detail.expires_at.timestamp() == 1767225600.0


def test_provider_defaults() -> None:
    provider = Provider(name="p")
    assert (provider.api_style, provider.enabled, provider.timeout) == ("openai", True, 1800)
    assert (provider.auth_type, provider.no_key_required) == ("api_key", False)


def test_passwords_in_proxy_and_api_urls_are_masked_unless_revealed() -> None:
    provider = Provider(
        name="p", proxy_url="http://bob:hunter2@proxy:3128", api_base="https://u:sk-xyz@api/v1"
    )
    for text in (repr(provider), str(provider), provider.model_dump_json()):
        assert "hunter2" not in text and "sk-xyz" not in text
        assert "http://bob:**********@proxy:3128" in text
    revealed = provider.model_dump(context=REVEAL_SECRETS)
    assert revealed["proxy_url"] == "http://bob:hunter2@proxy:3128"
    assert provider.proxy_url == "http://bob:hunter2@proxy:3128"


def test_urls_without_credentials_are_left_alone() -> None:
    provider = Provider(name="p", proxy_url="http://proxy:3128", api_base="https://api/v1")
    assert provider.model_dump()["proxy_url"] == "http://proxy:3128"
    assert "api_base='https://api/v1'" in repr(provider)
