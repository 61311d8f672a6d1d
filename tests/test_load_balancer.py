"""The LoadBalancer: candidates, health and panic mode, caching, errors and explanations."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from tactic_helpers import A, B, C, Env, FastHealth, Health, Sessions, make_rule, svc

from llmroute import LLMRouteError, LoadBalancer, NoServiceAvailableError, Rule
from llmroute.affinity import AffinityEntry, InMemoryAffinityStore
from llmroute.stats import InMemoryStatsStore
from llmroute.tactics import HealthView, LBDecision, SessionCounts
from llmroute.testing import FakeClock

# --- candidates ---------------------------------------------------------------------------


def test_candidates_default_to_the_rules_active_services() -> None:
    env = Env()
    rule = make_rule((A, svc("b", active=False), C), "round_robin", request_threshold=1)
    assert env.names(rule, 4) == ["a", "c", "a", "c"]


def test_an_inactive_candidate_never_wins() -> None:
    env = Env()
    rule = make_rule((A, B), "random")
    inactive = svc("x", active=False)
    assert set(env.names(rule, 200, (inactive, B))) == {"b"}


def test_explicit_candidates_may_come_from_outside_the_rule() -> None:
    env = Env()
    rule = make_rule((A,), "round_robin", request_threshold=1)
    assert env.names(rule, 3, (B, C)) == ["b", "c", "b"]


def test_duplicate_candidates_count_once() -> None:
    env = Env()
    rule = make_rule((A, B), "round_robin", request_threshold=1)
    assert env.names(rule, 4, [A, A, B]) == ["a", "b", "a", "b"]


def test_candidates_given_as_a_list_are_read_afresh_each_call() -> None:
    env = Env()
    rule = make_rule((A, B, C), "random")
    candidates = [A]
    assert env.lb.select(rule, candidates) == A
    candidates[0] = C
    assert env.lb.select(rule, candidates) == C


def test_one_candidate_wins_without_consulting_the_tactic() -> None:
    env = Env()
    rule = make_rule((A, B), "token_based", token_threshold=1000)
    env.set_current(rule, A)  # token_based would keep A
    decision = env.lb.decide(rule, (B,))
    assert decision.service == B
    assert decision.reason == "the only candidate left"


def test_ties_break_to_the_first_candidate_in_config_order() -> None:
    env = Env()
    assert env.lb.select(make_rule((C, B, A), "token_based")) == C


# --- no service -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "candidates", "why"),
    [
        (make_rule((), uuid="empty"), None, "it has no services"),
        (make_rule((svc("a", active=False),), uuid="empty"), None, "none of its 1 services"),
        (make_rule((A,), uuid="empty"), (), "no candidates were given"),
        (make_rule((A,), uuid="empty"), (svc("x", active=False),), "none of the 1 candidates"),
    ],
)
def test_no_active_candidate_raises_naming_the_rule(
    rule: Rule, candidates: tuple[object, ...] | None, why: str
) -> None:
    with pytest.raises(NoServiceAvailableError, match=f"rule 'empty'.*{why}") as info:
        Env().lb.select(rule, candidates)  # type: ignore[arg-type]
    assert info.value.rule == "empty"
    assert isinstance(info.value, LLMRouteError)


def test_a_rule_that_is_not_a_rule_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="rule must be a Rule, got dict"):
        Env().lb.select({"uuid": "x"})  # type: ignore[arg-type]


def test_a_candidate_that_is_not_a_service_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be Service objects, got str"):
        Env().lb.select(make_rule(), ["p:a"])  # type: ignore[list-item]


# --- health and panic mode --------------------------------------------------------------------


def test_unhealthy_candidates_are_dropped() -> None:
    env = Env(health=Health(B))
    rule = make_rule((A, B, C), "round_robin", request_threshold=1)
    assert env.names(rule, 4) == ["a", "c", "a", "c"]


def test_dropped_candidates_are_listed_in_the_decision() -> None:
    env = Env(health=Health(B))
    decision = env.lb.decide(make_rule((A, B, C)))
    assert decision.excluded == (B.service_id,)
    assert decision.candidates == (A.service_id, C.service_id)
    assert not decision.degraded


def test_all_unhealthy_keeps_all_and_the_decision_says_panic() -> None:
    env = Env(health=Health(A, B, C))
    decision = env.lb.decide(make_rule((A, B, C)))
    assert decision.degraded
    assert decision.candidates == (A.service_id, B.service_id, C.service_id)
    assert "panic mode" in decision.explain()


def test_panic_mode_still_balances_over_every_candidate() -> None:
    env = Env(health=Health(A, B))
    rule = make_rule((A, B), "round_robin", request_threshold=1)
    assert env.names(rule, 4) == ["a", "b", "a", "b"]


def test_one_healthy_candidate_wins_alone() -> None:
    env = Env(health=Health(A, C))
    decision = env.lb.decide(make_rule((A, B, C), "round_robin"))
    assert (decision.service, decision.reason) == (B, "the only healthy candidate")


def test_any_unhealthy_false_skips_the_per_service_checks() -> None:
    health = FastHealth()
    env = Env(health=health)
    env.names(make_rule((A, B, C)), 10)
    assert health.calls == 0


def test_any_unhealthy_true_checks_every_candidate() -> None:
    health = FastHealth(B)
    env = Env(health=health)
    assert set(env.names(make_rule((A, B, C)), 10)) <= {"a", "c"}
    assert health.calls == 30


def test_any_unhealthy_false_skips_the_checks_for_a_tactic_reading_stats_too() -> None:
    health = FastHealth()
    env = Env(health=health)
    env.names(make_rule((A, B, C), "adaptive"), 10)
    assert health.calls == 0


@pytest.mark.parametrize("tactic", ["adaptive", "token_based", "random"])
def test_health_is_read_once_per_candidate_per_decision(tactic: str) -> None:
    health = Health(B)
    env = Env(health=health)
    assert set(env.names(make_rule((A, B, C), tactic), 10)) <= {"a", "c"}
    assert health.calls == 30


def test_adaptive_in_panic_mode_still_picks_the_best_score() -> None:
    env = Env(health=Health(A, B))
    rule = make_rule((A, B), "adaptive")
    env.stats.record_latency(A, 1500)
    env.stats.record_latency(B, 100)
    decision = env.lb.decide(rule)
    assert (decision.service, decision.degraded) == (B, True)
    # Both lose the health weight: 0.25 * (1 - 100 / 2000) + 0.15 + 0.15 * 0.5.
    assert "0.4625" in decision.reason


def test_an_affinity_store_feeds_capacity_based_its_live_sessions() -> None:
    a, b = svc("a", model_capacity=2), svc("b", model_capacity=2)
    clock = FakeClock()
    sessions = InMemoryAffinityStore(clock=clock)
    env = Env(sessions=sessions)
    now = clock()
    for key in ("s1", "s2"):
        sessions.set("rule-1", key, AffinityEntry(a.service_id, "", now, now + 60))
    rule = make_rule((a, b), "capacity_based")
    assert set(env.names(rule, 50)) == {"b"}  # a is full
    sessions.delete("rule-1", "s1")
    assert "a" in set(env.names(rule, 50))


def test_the_test_doubles_satisfy_the_view_protocols() -> None:
    assert isinstance(Health(), HealthView)
    assert isinstance(Sessions(), SessionCounts)


# --- caching and state ----------------------------------------------------------------------


def test_the_tactic_is_built_once_per_rule() -> None:
    env = Env()
    rule = make_rule(tactic="hybrid")
    first = env.lb.tactic_for(rule)
    env.names(rule, 5)
    assert env.lb.tactic_for(rule) is first


def test_a_reloaded_rule_with_the_same_tactic_keeps_the_tactic() -> None:
    env = Env()
    rule = make_rule(tactic="hybrid")
    first = env.lb.tactic_for(rule)
    assert env.lb.tactic_for(make_rule(tactic="hybrid")) is first


def test_a_reloaded_rule_with_a_new_tactic_gets_it() -> None:
    env = Env()
    env.lb.select(make_rule(tactic="hybrid"))
    reloaded = make_rule(tactic="round_robin")
    assert env.lb.decide(reloaded).tactic == "round_robin"


def test_a_reloaded_rule_keeps_its_round_robin_turn() -> None:
    env = Env()
    assert env.names(make_rule((A, B, C), "round_robin", request_threshold=1), 2) == ["a", "b"]
    reloaded = make_rule((A, B, C), "round_robin", request_threshold=1)
    assert env.lb.select(reloaded) == C


def test_rules_keep_separate_state() -> None:
    env = Env()
    first = make_rule((A, B), "round_robin", uuid="one", request_threshold=1)
    second = make_rule((A, B), "round_robin", uuid="two", request_threshold=1)
    assert [env.lb.select(r).model for r in (first, first, second)] == ["a", "b", "a"]


def test_the_current_service_is_kept_out_of_the_config() -> None:
    env = Env()
    rule = make_rule((A, B), "round_robin")
    env.lb.select(rule)
    assert rule == make_rule((A, B), "round_robin")
    assert env.state.current(rule.uuid) == A.service_id


def test_changing_health_reuses_the_cached_candidate_sets() -> None:
    health = Health(B)
    env = Env(health=health)
    rule = make_rule((A, B, C), "round_robin", request_threshold=1)
    assert env.names(rule, 2) == ["a", "c"]
    health.unhealthy.clear()
    assert env.names(rule, 3) == ["c", "a", "b"]  # turns 2, 3, 4 over all three


# --- defaults and randomness --------------------------------------------------------------------


def test_a_balancer_with_no_arguments_works() -> None:
    lb = LoadBalancer()
    assert lb.select(make_rule((A, B))) in (A, B)
    assert isinstance(lb.stats, InMemoryStatsStore)
    assert lb.health is None and lb.sessions is None


def test_a_seeded_rng_makes_the_sequence_reproducible() -> None:
    rule = make_rule((A, B, C))
    first = LoadBalancer(rng=random.Random(42))
    second = LoadBalancer(rng=random.Random(42))
    assert [first.select(rule) for _ in range(50)] == [second.select(rule) for _ in range(50)]


def test_the_default_rng_is_private() -> None:
    lb = LoadBalancer()
    random.seed(1)
    counts = Counter(lb.select(make_rule((A, B))).model for _ in range(200))
    assert random.random() == random.Random(1).random()
    assert set(counts) == {"a", "b"}


# --- the decision ---------------------------------------------------------------------------------


def test_decide_returns_what_select_would() -> None:
    rule = make_rule((A, B, C), "round_robin", request_threshold=1)
    via_select, via_decide = Env(), Env()
    assert [via_select.lb.select(rule) for _ in range(4)] == [
        via_decide.lb.decide(rule).service for _ in range(4)
    ]


def test_the_decision_names_rule_tactic_and_reason() -> None:
    decision = Env().lb.decide(make_rule((A, B), "round_robin", request_threshold=2))
    assert decision == LBDecision(
        rule="rule-1",
        service=A,
        tactic="round_robin",
        candidates=(A.service_id, B.service_id),
        excluded=(),
        degraded=False,
        reason="round robin: request 1 of 2 in a row",
    )
    assert decision.service_id == A.service_id


def test_explain_renders_every_part_of_the_decision() -> None:
    env = Env(health=Health(B))
    text = env.lb.decide(make_rule((A, B, C), "round_robin", request_threshold=2)).explain()
    assert text.splitlines() == [
        "load balancer, rule 'rule-1', tactic round_robin:",
        "  dropped unhealthy: p:b",
        "  candidates: p:a, p:c",
        "  chose p:a: round robin: request 1 of 2 in a row",
    ]


def test_least_busy_reads_the_calls_the_balancer_was_told_of() -> None:
    import random as _random

    from llmroute import LoadBalancer, Rule, Service

    a, b = Service(provider="p", model="a"), Service(provider="p", model="b")
    target = Rule(uuid="busy", services=(a, b), lb_tactic={"type": "least_busy"})
    balancer = LoadBalancer(rng=_random.Random(1))
    balancer.started(a)
    assert {balancer.select(target).model for _ in range(20)} == {"b"}
    balancer.finished(a)
    balancer.started(b)
    assert {balancer.select(target).model for _ in range(20)} == {"a"}
