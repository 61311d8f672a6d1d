"""ServiceSelector: the pipeline, session affinity, degraded results, traces and recording."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

import pytest

from llmroute import (
    HealthConfig,
    HealthMonitor,
    LoadBalancer,
    NoServiceAvailableError,
    Provider,
    RoutingConfig,
    Rule,
    SelectionResult,
    ServiceSelector,
    SessionID,
)
from llmroute.affinity import InMemoryAffinityStore
from llmroute.testing import FakeClock

PROVIDERS = [Provider(name="openai"), Provider(name="anthropic"), Provider(name="local")]


def rule(
    services: list[tuple[str, str]] | None = None,
    *,
    tactic: str = "random",
    blocks: list[dict[str, Any]] | None = None,
    affinity: int = 0,
    scope: str = "global",
    **params: Any,
) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "rule-1",
            "services": [
                {"provider": p, "model": m}
                for p, m in (services or [("openai", "gpt-4o"), ("anthropic", "claude")])
            ],
            "lb_tactic": {"type": tactic, "params": params},
            "smart_enabled": bool(blocks),
            "smart_routing": blocks or [],
            "session_affinity": affinity,
            "affinity_scope": scope,
        }
    )


def block(description: str, position: str, operation: str, value: str, *models: str) -> Any:
    return {
        "description": description,
        "ops": [{"position": position, "operation": operation, "value": value}],
        "services": [{"provider": "openai", "model": m} for m in models],
    }


def chat(text: str = "hi", model: str = "gpt-4o", user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if user is not None:
        body["metadata"] = {"user_id": user}
    return body


class Env:
    def __init__(self, providers: list[Provider] | None = None, seed: int = 7, **kw: Any) -> None:
        self.clock = FakeClock()
        self.health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=self.clock)
        health = kw.pop("health", self.health)
        self.selector = ServiceSelector(
            PROVIDERS if providers is None else providers,
            health=health,
            clock=self.clock,
            rng=random.Random(seed),
            **kw,
        )

    def serve(self, target: Rule, body: Any = None, **kw: Any) -> SelectionResult:
        """Select, then record a success of the chosen service (which pins the session)."""
        result = self.selector.select(target, body, **kw)
        self.selector.record(result, input_tokens=1, output_tokens=1)
        return result


# --- the pipeline --------------------------------------------------------------------------


def test_without_affinity_or_smart_routing_the_load_balancer_chooses() -> None:
    result = Env().selector.select(rule(), chat())
    assert result.source == "load_balancer"
    assert result.matched_smart_rule_index == -1
    assert result.evaluated_stages == ("health", "smart_routing", "affinity", "load_balancer")


def test_a_matching_smart_block_chooses_and_records_its_index() -> None:
    r = rule(blocks=[block("gpt models", "model", "contains", "gpt", "gpt-4o-mini")])
    result = Env().selector.select(r, chat(model="gpt-4o"))
    assert (result.source, result.matched_smart_rule_index) == ("smart_routing", 0)
    assert result.service.model == "gpt-4o-mini"


def test_the_first_matching_block_of_several_wins() -> None:
    blocks = [
        block("claude models", "model", "contains", "claude", "claude-proxy"),
        block("gpt models", "model", "contains", "gpt", "gpt-4o-mini"),
    ]
    result = Env().selector.select(rule(blocks=blocks), chat(model="gpt-4o"))
    assert (result.source, result.matched_smart_rule_index) == ("smart_routing", 1)


def test_no_matching_block_balances_over_the_rules_own_services_only() -> None:
    r = rule(blocks=[block("images", "latest_user", "type", "image", "gpt-4o-vision")])
    env = Env()
    chosen = {env.selector.select(r, chat()).service.model for _ in range(50)}
    assert chosen == {"gpt-4o", "claude"}


def test_a_disabled_providers_service_is_skipped_for_the_next_candidate() -> None:
    providers = [Provider(name="openai", enabled=False), Provider(name="anthropic")]
    result = Env(providers).selector.select(rule(tactic="round_robin"), chat())
    assert result.service.provider == "anthropic"
    assert result.provider is providers[1]


def test_a_service_whose_provider_is_not_configured_is_skipped() -> None:
    r = rule([("ghost", "m"), ("local", "llama")])
    result = Env().selector.select(r, chat())
    assert result.service.provider == "local"


def test_providers_resolve_by_uuid_or_name() -> None:
    provider = Provider(uuid="u-1", name="named")
    r = rule([("u-1", "a"), ("named", "b")])
    env = Env([provider])
    assert {env.selector.select(r).provider.name for _ in range(20)} == {"named"}  # type: ignore[union-attr]


def test_without_providers_every_service_is_usable_and_has_no_provider() -> None:
    selector = ServiceSelector(rng=random.Random(1))
    result = selector.select(rule([("anything", "m")]))
    assert result.provider is None


def test_rules_can_be_named_when_built_from_a_config() -> None:
    config = RoutingConfig.model_validate(
        {
            "providers": [{"name": "openai"}],
            "rules": [
                {
                    "uuid": "r",
                    "request_model": "assistant",
                    "services": [{"provider": "openai", "model": "m"}],
                }
            ],
        }
    )
    selector = ServiceSelector.from_config(config)
    assert selector.select("assistant").service.model == "m"
    assert selector.select("r").service.model == "m"
    with pytest.raises(NoServiceAvailableError, match="no rule 'nope'"):
        selector.select("nope")


def test_embeddings_skip_smart_routing() -> None:
    r = rule(blocks=[block("gpt", "model", "contains", "gpt", "gpt-4o-mini")])
    result = Env().selector.select_for_embeddings(r, {"model": "gpt-4o", "input": "x"})
    assert result.source == "load_balancer"
    assert "skipped for embeddings" in result.explain()


# --- health --------------------------------------------------------------------------------


def test_an_unhealthy_service_is_not_chosen() -> None:
    env = Env()
    env.health.report_error("openai:gpt-4o", 500)
    chosen = {env.selector.select(rule(), chat()).service.model for _ in range(30)}
    assert chosen == {"claude"}


def test_all_candidates_unhealthy_gives_a_degraded_result_not_an_error() -> None:
    env = Env()
    env.health.report_error("openai:gpt-4o", 500)
    env.health.report_error("anthropic:claude", 500)
    result = env.selector.select(rule(), chat())
    assert result.degraded
    assert "panic mode" in result.explain()


def test_smart_block_intersects_with_healthy_services() -> None:
    env = Env()
    env.health.report_error("openai:vision-a", 500)
    r = rule(blocks=[block("images", "model", "contains", "gpt", "vision-a", "vision-b")])
    result = env.selector.select(r, chat())
    assert (result.service.model, result.degraded) == ("vision-b", False)


def test_explain_names_the_unhealthy_services_a_smart_block_dropped() -> None:
    env = Env()
    env.health.report_error("openai:vision-a", 500)
    r = rule(blocks=[block("images", "model", "contains", "gpt", "vision-a", "vision-b")])
    lines = env.selector.select(r, chat()).explain().splitlines()
    assert "  2. smart_routing: block 0 ('images') matched -> openai:vision-b" in lines
    assert "  3. smart_routing: dropped the block's unhealthy openai:vision-a" in lines


def test_smart_block_with_only_unhealthy_services_keeps_them_degraded() -> None:
    env = Env()
    env.health.report_error("openai:vision-a", 500)
    r = rule(blocks=[block("images", "model", "contains", "gpt", "vision-a")])
    result = env.selector.select(r, chat())
    assert (result.service.model, result.degraded, result.source) == (
        "vision-a",
        True,
        "smart_routing",
    )


def test_fallbacks_put_healthy_services_first_in_config_order() -> None:
    env = Env()
    r = rule(
        [("openai", "a"), ("openai", "b"), ("openai", "c"), ("openai", "d")], tactic="round_robin"
    )
    env.health.report_error("openai:b", 500)
    result = env.selector.select(r, chat())
    assert result.service.model == "a"
    assert [s.model for s in result.fallbacks] == ["c", "d", "b"]


def test_fallbacks_of_a_matched_block_stay_inside_the_block() -> None:
    r = rule(blocks=[block("gpt", "model", "contains", "gpt", "x", "y")], tactic="round_robin")
    result = Env().selector.select(r, chat())
    assert [s.model for s in (result.service, *result.fallbacks)] == ["x", "y"]


# --- affinity ------------------------------------------------------------------------------


def test_the_second_request_of_a_session_sticks_to_the_same_service() -> None:
    env = Env()
    r = rule(affinity=3600)
    first = env.serve(r, chat(user="alice"))
    for _ in range(10):
        again = env.serve(r, chat(user="alice"))
        assert (again.source, again.service) == ("affinity", first.service)


def test_the_lock_expires_after_its_ttl() -> None:
    env = Env()
    r = rule(affinity=3600)
    env.serve(r, chat(user="alice"))
    env.clock.advance(3599)
    assert env.serve(r, chat(user="alice")).source == "affinity"
    env.clock.advance(1)
    assert env.serve(r, chat(user="alice")).source == "load_balancer"


def test_different_sessions_are_balanced_independently() -> None:
    env = Env()
    r = rule(affinity=3600, tactic="round_robin", request_threshold=1)
    a = env.serve(r, chat(user="alice"))
    b = env.serve(r, chat(user="bob"))
    assert a.service != b.service
    assert env.serve(r, chat(user="bob")).service == b.service


def test_an_unhealthy_locked_service_is_not_returned() -> None:
    env = Env()
    r = rule(affinity=3600)
    first = env.serve(r, chat(user="alice"))
    env.health.report_error(first.service.service_id, 500)
    again = env.serve(r, chat(user="alice"))
    assert again.service != first.service
    assert again.source == "load_balancer"
    assert "unhealthy" in again.explain()


def test_a_selection_by_affinity_does_not_extend_the_lock() -> None:
    env = Env()
    r = rule(affinity=100)
    env.serve(r, chat(user="alice"))
    env.clock.advance(60)
    assert env.serve(r, chat(user="alice")).source == "affinity"
    env.clock.advance(40)
    assert env.serve(r, chat(user="alice")).source == "load_balancer"


def test_session_can_come_from_a_header_or_an_explicit_id() -> None:
    env = Env()
    r = rule(affinity=3600)
    first = env.serve(r, chat(), headers={"x-session-id": "s-1"})
    assert env.serve(r, chat(), headers={"X-Session-ID": "s-1"}).source == "affinity"
    explicit = env.serve(r, chat(), session_id="s-9")
    assert explicit.session_id == SessionID("header", "s-9")
    assert first.session_id is not None and first.session_id.source == "header"


def test_an_unmodified_client_gets_stickiness_from_its_conversation() -> None:
    env = Env()
    r = rule(affinity=3600)
    convo = {"model": "gpt-4o", "messages": [{"role": "user", "content": "plan my trip"}]}
    first = env.serve(r, convo)
    longer = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "plan my trip"},
            {"role": "assistant", "content": "Where to?"},
            {"role": "user", "content": "Lisbon"},
        ],
    }
    again = env.serve(r, longer)
    assert (again.source, again.service) == ("affinity", first.service)


def test_smart_rule_scope_keeps_a_lock_per_matched_block() -> None:
    env = Env()
    blocks = [block("gpt", "model", "contains", "gpt", "x", "y")]
    r = rule(affinity=3600, scope="smart_rule", blocks=blocks)
    in_block = env.serve(r, chat(user="alice", model="gpt-4o"))
    outside = env.serve(r, chat(user="alice", model="claude-3"))
    assert outside.source == "load_balancer"
    assert env.serve(r, chat(user="alice", model="gpt-4o")).service == in_block.service


def test_without_affinity_no_session_is_resolved() -> None:
    result = Env().selector.select(rule(), chat(user="alice"))
    assert result.session_id is None


# --- errors --------------------------------------------------------------------------------


def test_a_rule_without_services_raises_naming_the_rule() -> None:
    with pytest.raises(NoServiceAvailableError, match="'rule-1' has no usable service: it has no"):
        Env().selector.select(Rule(uuid="rule-1"))


def test_a_rule_whose_providers_are_all_gone_says_which_were_skipped() -> None:
    env = Env([Provider(name="openai", enabled=False)])
    with pytest.raises(NoServiceAvailableError) as info:
        env.selector.select(rule())
    message = str(info.value)
    assert "openai:gpt-4o (provider 'openai' is disabled)" in message
    assert "anthropic:claude (provider 'anthropic' is not configured)" in message
    assert info.value.rule == "rule-1"


def test_an_inactive_rule_serves_nothing() -> None:
    inactive = rule().model_copy(update={"active": False})
    with pytest.raises(NoServiceAvailableError, match="not active"):
        Env().selector.select(inactive)


def test_a_matched_block_without_usable_services_is_passed_over() -> None:
    env = Env([Provider(name="anthropic")])  # the block's provider, openai, is not configured
    r = rule([("anthropic", "claude")], blocks=[block("gpt", "model", "contains", "gpt", "x")])
    result = env.selector.select(r, chat())
    assert (result.service_id, result.matched_smart_rule_index) == ("anthropic:claude", -1)
    assert "block 0 'gpt': no usable service" in result.explain()


def test_a_rule_of_block_services_only_errors_when_no_block_matches() -> None:
    r = Rule.model_validate(
        {
            "uuid": "rule-1",
            "smart_enabled": True,
            "smart_routing": [block("gpt", "model", "contains", "gpt", "x")],
        }
    )
    env = Env()
    assert env.selector.select(r, chat()).service.model == "x"
    with pytest.raises(NoServiceAvailableError, match="no smart-routing block matched"):
        env.selector.select(r, chat(model="claude"))


def test_a_wrong_rule_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="rule must be a Rule"):
        Env().selector.select(42)  # type: ignore[arg-type]


# --- explain -------------------------------------------------------------------------------


def test_explain_walks_through_every_stage() -> None:
    env = Env()
    env.health.report_error("openai:gpt-4o", 500)
    r = rule(
        [("openai", "gpt-4o"), ("anthropic", "claude"), ("local", "llama")],
        tactic="round_robin",
        affinity=600,
        blocks=[block("images", "latest_user", "type", "image", "gpt-4o-vision")],
    )
    result = env.selector.select(r, chat(user="alice"))
    assert result.explain().splitlines() == [
        "rule 'rule-1' -> anthropic:claude (by load_balancer)",
        "  session: user_id 'alice'",
        "  1. health: dropped unhealthy openai:gpt-4o; 2 left",
        "  2. smart_routing: no block of 1 matched",
        "     block 0 'images': no match",
        "       latest_user type 'image': no (saw 'text')",
        "  3. affinity: no live pin for this session",
        "  4. load_balancer: round_robin over 2 -> anthropic:claude: round robin: "
        "request 1 of 10 in a row",
        "  fallbacks: local:llama, openai:gpt-4o",
    ]


def test_explain_of_an_affinity_hit() -> None:
    env = Env()
    r = rule(affinity=600, tactic="round_robin")
    env.serve(r, chat(user="alice"))
    env.clock.advance(100)
    lines = env.selector.select(r, chat(user="alice")).explain().splitlines()
    assert lines[0] == "rule 'rule-1' -> openai:gpt-4o (by affinity)"
    assert lines[-2] == "  3. affinity: session pinned to openai:gpt-4o for 500s more"


# --- recording outcomes --------------------------------------------------------------------


def test_record_feeds_usage_latency_ttft_speed_and_cache_into_stats() -> None:
    env = Env()
    result = env.selector.select(rule(), chat())
    env.selector.record(
        result,
        input_tokens=1000,
        output_tokens=200,
        cached_tokens=800,
        latency_ms=1200,
        ttft_ms=200,
    )
    snap = env.selector.stats.snapshot(result.service)
    assert (snap.request_count, snap.window_input_tokens, snap.window_output_tokens) == (
        1,
        1000,
        200,
    )
    assert (snap.avg_latency_ms, snap.avg_ttft_ms, snap.avg_token_speed) == (1200, 200, 200.0)
    assert snap.window_cache_hits == 1


def test_record_of_an_error_reaches_health() -> None:
    env = Env()
    result = env.selector.select(rule(), chat())
    failure = env.selector.record(result, error=503)
    assert failure is not None and failure.counts_against_health
    assert not env.health.is_healthy(result.service.service_id)


def test_record_of_a_request_error_leaves_health_alone() -> None:
    env = Env()
    result = env.selector.select(rule(), chat())
    failure = env.selector.record(result, error=400)
    assert failure is not None and not failure.counts_against_health
    assert env.health.is_healthy(result.service.service_id)


def test_a_service_failure_releases_the_sessions_lock() -> None:
    env = Env(health=False)
    r = rule(affinity=3600)
    first = env.serve(r, chat(user="alice"))
    env.selector.record(first, error=500)
    assert env.selector.select(r, chat(user="alice")).source == "load_balancer"


def test_a_request_failure_keeps_the_sessions_lock() -> None:
    env = Env()
    r = rule(affinity=3600)
    first = env.serve(r, chat(user="alice"))
    env.selector.record(first, error=400)
    assert env.selector.select(r, chat(user="alice")).source == "affinity"


def test_a_fallback_that_served_takes_over_the_lock() -> None:
    env = Env()
    r = rule(affinity=3600)
    first = env.selector.select(r, chat(user="alice"))
    fallback = first.fallbacks[0]
    env.selector.record(first, error=500)
    env.selector.record(first, service=fallback, input_tokens=10, output_tokens=5)
    again = env.selector.select(r, chat(user="alice"))
    assert (again.source, again.service) == ("affinity", fallback)


def test_a_success_resets_the_services_error_count() -> None:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=2), clock=clock)
    selector = ServiceSelector(PROVIDERS, health=health, clock=clock)
    result = selector.select(rule([("openai", "m")]))
    selector.record(result, error=500)
    selector.record(result, input_tokens=1)
    selector.record(result, error=500)
    assert health.is_healthy("openai:m")


# --- threads -------------------------------------------------------------------------------


def test_threads_selecting_with_affinity_and_round_robin_stay_consistent() -> None:
    clock = FakeClock()
    store = InMemoryAffinityStore(clock=clock)
    selector = ServiceSelector(PROVIDERS, affinity=store, clock=clock, rng=random.Random(3))
    services = [("openai", f"m{i}") for i in range(4)]
    r = rule(services, tactic="round_robin", affinity=3600, request_threshold=1)
    errors: list[BaseException] = []
    chosen: dict[str, set[str]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for i in range(10_000):
                user = f"user-{worker}-{i % 50}"
                result = selector.select(r, chat(user=user))
                selector.record(result, input_tokens=1)
                with lock:
                    chosen.setdefault(user, set()).add(result.service.model)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(len(models) == 1 for models in chosen.values())
    per_service = Counter(next(iter(models)) for models in chosen.values())
    assert sum(store.count_by_service(f"openai:m{i}") for i in range(4)) == 400
    assert {f"m{i}": store.count_by_service(f"openai:m{i}") for i in range(4)} == dict(per_service)


def test_result_repr_is_short() -> None:
    result = Env().selector.select(rule(), chat())
    assert isinstance(result, SelectionResult)
    assert repr(result).startswith("SelectionResult(service=")


def test_a_blank_explicit_session_id_falls_back_to_the_request() -> None:
    env = Env()
    result = env.selector.select(rule(affinity=60), chat(user="alice"), session_id="  ")
    assert result.session_id == SessionID("user_id", "alice")


def test_update_config_swaps_rules_and_providers_but_keeps_runtime_state() -> None:
    def config(enabled: bool, threshold: int) -> RoutingConfig:
        return RoutingConfig.model_validate(
            {
                "providers": [{"name": "openai", "enabled": enabled}, {"name": "local"}],
                "rules": [
                    {
                        "uuid": "r",
                        "services": [
                            {"provider": "openai", "model": "a"},
                            {"provider": "local", "model": "b"},
                        ],
                        "session_affinity": 600,
                    }
                ],
                "health": {"consecutive_error_threshold": threshold},
            }
        )

    clock = FakeClock()
    selector = ServiceSelector.from_config(config(True, 3), clock=clock, rng=random.Random(2))
    first = selector.select("r", chat(user="alice"))
    selector.record(first, input_tokens=1)
    selector.update_config(config(True, 1))
    again = selector.select("r", chat(user="alice"))
    assert (again.source, again.service) == ("affinity", first.service)
    assert isinstance(selector.health, HealthMonitor)
    assert selector.health.config.consecutive_error_threshold == 1
    selector.update_config(config(False, 1))
    assert {selector.select("r", chat(user=f"u{i}")).service.model for i in range(10)} == {"b"}


# --- hot-path shortcuts behave like the plain code ------------------------------------------


def test_the_load_balancer_trace_line_reads_like_the_balancers_own_decision() -> None:
    env = Env(seed=3)
    target = rule([("openai", "a"), ("anthropic", "b"), ("local", "c")])
    result = env.selector.select(target, chat())
    decision = LoadBalancer(rng=random.Random(3)).decide(target, target.active_services())
    line = result.explain().splitlines()[-2]
    assert line.endswith(
        f"load_balancer: random over 3 -> {decision.service_id}: {decision.reason}"
    )


def test_a_lock_on_a_service_is_found_with_or_without_narrowed_candidates() -> None:
    env = Env()
    target = rule([("openai", "a"), ("anthropic", "b"), ("local", "c")], affinity=60)
    first = env.serve(target, chat(user="u1"))
    assert env.selector.select(target, chat(user="u1")).source == "affinity"
    other = next(s for s in target.services if s.service_id != first.service_id)
    env.selector.record(env.selector.select(target, chat()), service=other, error=500)
    again = env.selector.select(target, chat(user="u1"))  # health narrowed the candidates
    assert (again.source, again.service_id) == ("affinity", first.service_id)


def test_the_plan_holds_the_usable_services_in_config_order() -> None:
    env = Env()
    target = rule([("openai", "a"), ("anthropic", "b")])
    assert env.selector.select(target, chat()).plan.base == target.active_services()
    partial = rule([("openai", "a"), ("gone", "b")])
    assert [s.model for s in env.selector.select(partial, chat()).plan.base] == ["a"]
