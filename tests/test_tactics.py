"""Each tactic's semantics, one example of the issue per test (tables where they repeat)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from tactic_helpers import A, B, C, D, Env, Sessions, candidate_set, make_rule, picks, svc

from llmroute import ConfigError, Service, Tactic
from llmroute.config import TACTIC_PARAMS
from llmroute.state import StateSnapshot
from llmroute.stats import ServiceStats
from llmroute.tactics import BalancingTactic, create_tactic
from llmroute.tactics._performance import REFRESH_SECONDS, AdaptiveTactic
from llmroute.tactics._weighted import service_capacity

# --- create_tactic -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TACTIC_PARAMS))
def test_create_tactic_builds_the_named_tactic(name: str) -> None:
    tactic = create_tactic(Tactic.model_validate({"type": name}))
    assert isinstance(tactic, BalancingTactic)
    assert tactic.name == name


def test_create_tactic_accepts_the_document_form() -> None:
    tactic = create_tactic({"type": "round_robin", "params": {"request_threshold": 3}})
    assert tactic.config == Tactic.model_validate(
        {"type": "round_robin", "params": {"request_threshold": 3}}
    )


def test_create_tactic_accepts_a_bare_name_with_default_params() -> None:
    assert create_tactic("least_latency").config.params.model_dump() == {"decay_seconds": 10.0}


def test_create_tactic_rejects_an_unknown_name_with_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown tactic 'fastest'"):
        create_tactic("fastest")


def test_create_tactic_rejects_other_types() -> None:
    with pytest.raises(TypeError, match=r"needs a Tactic.*got int"):
        create_tactic(3)  # type: ignore[arg-type]


def test_comparison_mode_must_be_one_of_its_four_values() -> None:
    with pytest.raises(ConfigError, match="comparison_mode: must be 'avg', 'p50', 'p95' or 'p99'"):
        create_tactic({"type": "latency_based", "params": {"comparison_mode": "p90"}})


# --- the two new tactics' params ---------------------------------------------------------


@pytest.mark.parametrize("name", ["least_latency", "least_busy"])
def test_new_tactic_params_default_decay_is_ten_seconds(name: str) -> None:
    for doc in ({"type": name}, {"type": name, "params": {}}, {"type": name, "params": None}):
        assert Tactic.model_validate(doc).params.model_dump() == {"decay_seconds": 10.0}


@pytest.mark.parametrize("name", ["least_latency", "least_busy"])
@pytest.mark.parametrize("decay", [0, -1.5])
def test_new_tactic_decay_must_be_positive(name: str, decay: float) -> None:
    with pytest.raises(ConfigError, match=r"params\.decay_seconds: must be > 0"):
        Tactic.model_validate({"type": name, "params": {"decay_seconds": decay}})


def test_least_latency_decay_must_be_finite() -> None:
    with pytest.raises(ConfigError, match=r"params\.decay_seconds: must be a finite number"):
        Tactic.model_validate({"type": "least_latency", "params": {"decay_seconds": "inf"}})


def test_new_tactic_params_round_trip_through_json() -> None:
    tactic = Tactic.model_validate({"type": "least_busy", "params": {"decay_seconds": 2.5}})
    assert Tactic.model_validate_json(tactic.model_dump_json()) == tactic


# --- round_robin --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "services", "expected"),
    [
        (2, (A, B, C), "a a b b c c a"),
        (1, (A, B), "a b a b a"),
        (1, (A, B, C), "a b c a b c"),
        (3, (A, B), "a a a b b b a"),
    ],
)
def test_round_robin_gives_threshold_requests_to_each_in_turn(
    threshold: int, services: tuple[Service, ...], expected: str
) -> None:
    env = Env()
    rule = make_rule(services, "round_robin", request_threshold=threshold)
    assert env.names(rule, len(expected.split())) == expected.split()


@pytest.mark.parametrize(
    ("before", "candidates", "expected"),
    [
        (1, (A, C), "c a c"),  # turn 1 over two: position 1
        (2, (A, C, D), "d a c d"),  # turn 2 over three: position 2
        (3, (A, B), "b a b"),  # turn 3 over two: position 1
        (4, (B, D), "b d b"),  # turn 4 over two: position 0
    ],
)
def test_round_robin_goes_on_over_the_services_left(
    before: int, candidates: tuple[Service, ...], expected: str
) -> None:
    env = Env()
    rule = make_rule((A, B, C, D), "round_robin", request_threshold=1)
    assert env.names(rule, before) == ["a", "b", "c", "d"][:before]
    # The turn counts on over whichever candidates there are now: (turn // 1) % len.
    assert env.names(rule, len(expected.split()), candidates) == expected.split()


def test_round_robin_takes_up_the_full_set_again_at_the_turn_reached() -> None:
    env = Env()
    rule = make_rule((A, B, C, D), "round_robin", request_threshold=1)
    assert env.names(rule, 3, (A, B)) == ["a", "b", "a"]
    assert env.names(rule, 3) == ["d", "a", "b"]  # turns 3, 4, 5 over four


def test_round_robin_keeps_the_threshold_across_a_change_of_candidates() -> None:
    env = Env()
    rule = make_rule((A, B, C), "round_robin", request_threshold=2)
    assert env.names(rule, 3) == ["a", "a", "b"]
    # Turns 3..6 over (A, C): (turn // 2) % 2 is 1, 0, 0, 1.
    assert env.names(rule, 4, (A, C)) == ["c", "a", "a", "c"]


def test_round_robin_follows_the_turn_not_the_current_service() -> None:
    env = Env()
    rule = make_rule((A, B, C), "round_robin", request_threshold=2)
    env.set_current(rule, B)
    assert env.names(rule, 3) == ["a", "a", "b"]


def test_round_robin_says_which_request_of_the_threshold_it_is() -> None:
    env = Env()
    rule = make_rule((A, B), "round_robin", request_threshold=3)
    reasons = [env.lb.decide(rule).reason for _ in range(4)]
    assert reasons == [f"round robin: request {n} of 3 in a row" for n in (1, 2, 3, 1)]


def test_round_robin_picks_by_the_snapshot_turn() -> None:
    tactic = create_tactic({"type": "round_robin", "params": {"request_threshold": 2}})
    chosen = [picks(tactic, (A, B, C), StateSnapshot(now=0.0, turn=t))[0] for t in range(8)]
    assert chosen == ["a", "a", "b", "b", "c", "c", "a", "a"]


# --- token_based --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "tokens", "current", "expected"),
    [
        (2000, {A: 5000, B: 1000, C: 2500}, A, B),
        (1000, {A: 1000, B: 1000}, A, A),
        (2000, {A: 1500, B: 0}, A, A),  # under the threshold: keep the current
        (2000, {A: 300, B: 200, C: 100}, None, A),  # no pick yet: the first is current
        (10000, {A: 9000, B: 0}, None, A),  # tingly's case: 9,000 under 10,000 keeps A
        (2000, {A: 5000, B: 1000, C: 2500}, None, B),  # the first is over: fewest
        (2000, {}, None, A),  # all equal: the first
    ],
)
def test_token_based(
    threshold: int, tokens: dict[Service, int], current: Service | None, expected: Service
) -> None:
    env = Env()
    services = tuple(tokens) or (A, B, C)
    rule = make_rule(services, "token_based", token_threshold=threshold)
    for service, count in tokens.items():
        env.stats.record_usage(service, count, 0)
    if current is not None:
        env.set_current(rule, current)
    assert env.lb.select(rule) == expected


def test_token_based_makes_its_pick_the_current_service() -> None:
    env = Env()
    rule = make_rule((A, B), "token_based", token_threshold=100)
    env.stats.record_usage(A, 150, 0)
    assert env.lb.select(rule) == B  # A, the first, is over 100: the fewest tokens
    env.stats.record_usage(B, 80, 0)
    assert env.lb.select(rule) == B  # B is current and still under 100
    assert env.state.current(rule.uuid) == B.service_id


# --- hybrid -------------------------------------------------------------------------------


def _usage(env: Env, service: Service, requests: int, tokens: int) -> None:
    for i in range(requests):
        env.stats.record_usage(service, tokens // requests + (i < tokens % requests), 0)


@pytest.mark.parametrize(
    ("usage", "current", "expected"),
    [
        ({A: (100, 9000), B: (10, 500)}, A, B),  # A over the request threshold
        ({A: (10, 12000), B: (10, 500)}, A, B),  # A over the token threshold
        ({A: (49, 9999), B: (1, 1)}, A, A),  # both under: keep A
        ({A: (3, 30), B: (1, 45)}, None, A),  # no pick yet: the first is current, under
        ({A: (60, 30), B: (1, 45)}, None, B),  # the first is over: 630 vs 55, the lowest
    ],
)
def test_hybrid(
    usage: dict[Service, tuple[int, int]], current: Service | None, expected: Service
) -> None:
    env = Env()
    rule = make_rule(tuple(usage), "hybrid", request_threshold=50, token_threshold=10000)
    for service, (requests, tokens) in usage.items():
        _usage(env, service, requests, tokens)
    if current is not None:
        env.set_current(rule, current)
    assert env.lb.select(rule) == expected


# --- random -------------------------------------------------------------------------------


def test_random_never_picks_a_zero_weight_service() -> None:
    env = Env()
    rule = make_rule((svc("a", weight=0), svc("b", weight=1), svc("c", weight=0)))
    assert set(env.names(rule, 500)) == {"b"}


def test_random_is_uniform_when_every_weight_is_zero() -> None:
    env = Env()
    rule = make_rule((svc("a", weight=0), svc("b", weight=0), svc("c", weight=0)))
    counts = Counter(env.names(rule, 3000))
    assert set(counts) == {"a", "b", "c"}
    assert all(800 < n < 1200 for n in counts.values())


def test_random_weights_three_to_one_over_4000_draws() -> None:
    env = Env()
    rule = make_rule((svc("a", weight=3), svc("b", weight=1)))
    counts = Counter(env.names(rule, 4000))
    assert 2.5 <= counts["a"] / counts["b"] <= 3.5


# --- latency_based ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("threshold", "current", "expected"),
    [(150, A, C), (2000, C, C), (150, None, C), (250, B, B), (250, None, A)],  # A 200 < 250
)
def test_latency_based_avg(threshold: int, current: Service | None, expected: Service) -> None:
    env = Env()
    rule = make_rule((A, B, C), "latency_based", latency_threshold_ms=threshold)
    for service, ms in ((A, 200), (B, 150), (C, 100)):
        env.stats.record_latency(service, ms)
    if current is not None:
        env.set_current(rule, current)
    assert env.lb.select(rule) == expected


def test_latency_based_counts_no_samples_as_twice_the_threshold() -> None:
    env = Env()
    rule = make_rule((A, B), "latency_based", latency_threshold_ms=100)
    env.stats.record_latency(B, 199)  # A has none: 200
    assert env.lb.select(rule) == B


@pytest.mark.parametrize(("mode", "expected"), [("avg", A), ("p99", B)])
def test_latency_based_reads_the_comparison_mode_figure(mode: str, expected: Service) -> None:
    env = Env()
    rule = make_rule((A, B), "latency_based", latency_threshold_ms=10, comparison_mode=mode)
    for ms in (10, 10, 10, 10, 1000):  # avg 208, p99 ~ 960
        env.stats.record_latency(A, ms)
    for ms in (300, 300, 300, 300, 300):  # avg 300, p99 300
        env.stats.record_latency(B, ms)
    assert env.lb.select(rule) == expected


# --- speed_based --------------------------------------------------------------------------


def _speeds(env: Env, service: Service, tps: float, samples: int) -> None:
    for _ in range(samples):
        env.stats.record_speed(service, tps)


@pytest.mark.parametrize(
    ("speeds", "expected"),
    [
        ({A: (30, 5), B: (60, 5), C: (100, 5)}, C),
        ({A: (100, 2), B: (50, 5)}, B),  # cold A scores 25, warm B 50
        ({A: (10, 5), B: (40, 2)}, B),  # none qualifies: cold 25 beats warm 10
        ({A: (30, 5), B: (40, 5)}, B),  # none qualifies: best warm average
    ],
)
def test_speed_based(speeds: dict[Service, tuple[float, int]], expected: Service) -> None:
    env = Env()
    rule = make_rule(tuple(speeds), "speed_based")
    for service, (tps, samples) in speeds.items():
        _speeds(env, service, tps, samples)
    assert env.lb.select(rule) == expected


# --- adaptive -----------------------------------------------------------------------------


def _stats(**fields: Any) -> ServiceStats:
    return ServiceStats(service_id=A.service_id, **fields)


@pytest.mark.parametrize(
    ("stats", "score"),
    [
        (_stats(avg_latency_ms=100, latency_sample_count=1, avg_token_speed=100,
                speed_sample_count=1), 0.6375),
        (_stats(avg_latency_ms=500, latency_sample_count=1, avg_token_speed=30,
                speed_sample_count=1), 0.4825),
        (_stats(), 0.25 * 0.5 + 0.15 + 0.15 * 0.5 + 0.10),  # no data: halves
        (_stats(window_tokens_consumed=20000), 0.25 * 0.5 + 0.0 + 0.15 * 0.5 + 0.10),
        (_stats(avg_latency_ms=5000, latency_sample_count=3), 0.0 + 0.15 + 0.075 + 0.10),
    ],
)  # fmt: skip
def test_adaptive_score_with_default_weights(stats: ServiceStats, score: float) -> None:
    tactic = create_tactic("adaptive")
    assert isinstance(tactic, AdaptiveTactic)
    assert tactic.score(stats, healthy=True) == pytest.approx(score)


def test_adaptive_weight_zero_switches_a_dimension_off() -> None:
    tactic = create_tactic({"type": "adaptive", "params": {"latency_weight": 0}})
    assert isinstance(tactic, AdaptiveTactic)
    fast = _stats(avg_latency_ms=1, latency_sample_count=1)
    slow = _stats(avg_latency_ms=1999, latency_sample_count=1)
    assert tactic.score(fast, True) == tactic.score(slow, True)


def test_adaptive_unhealthy_loses_the_health_weight() -> None:
    tactic = create_tactic("adaptive")
    assert isinstance(tactic, AdaptiveTactic)
    assert tactic.score(_stats(), True) - tactic.score(_stats(), False) == pytest.approx(0.10)


def test_adaptive_picks_the_highest_score() -> None:
    env = Env()
    rule = make_rule((A, B), "adaptive")
    env.stats.record_latency(A, 500)
    env.stats.record_speed(A, 30)
    env.stats.record_latency(B, 100)
    env.stats.record_speed(B, 100)
    decision = env.lb.decide(rule)
    assert decision.service == B
    assert "0.6375" in decision.reason


def test_adaptive_keeps_its_scores_until_a_second_has_passed() -> None:
    env = Env()
    rule = make_rule((A, B), "adaptive")
    env.stats.record_latency(A, 100)
    env.stats.record_latency(B, 1500)
    assert env.lb.select(rule) == A
    for _ in range(20):  # B becomes much faster, A much slower
        env.stats.record_latency(A, 1999)
        env.stats.record_latency(B, 10)
    env.clock.advance(REFRESH_SECONDS * 0.999)
    assert env.lb.select(rule) == A  # scored less than a second ago: kept
    env.clock.advance(REFRESH_SECONDS * 0.001)
    assert env.lb.select(rule) == B


def test_adaptive_scores_each_candidate_set_apart() -> None:
    env = Env()
    rule = make_rule((A, B, C), "adaptive")
    env.stats.record_latency(A, 100)
    env.stats.record_latency(B, 500)
    env.stats.record_latency(C, 900)
    assert env.lb.select(rule) == A
    assert env.lb.select(rule, (B, C)) == B  # a new set is scored at once
    assert env.lb.select(rule) == A


# --- capacity_based -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "capacity"),
    [
        (svc("a", model_capacity=7, weight=3), 7),
        (svc("a", weight=3), 3),
        (svc("a", weight=0), 100),
    ],
)
def test_service_capacity(service: Service, capacity: int) -> None:
    assert service_capacity(service) == capacity


def test_capacity_based_without_live_counts_is_capacity_proportional() -> None:
    env = Env()
    rule = make_rule((svc("a", model_capacity=30), svc("b", model_capacity=10)), "capacity_based")
    counts = Counter(env.names(rule, 4000))
    assert 2.5 <= counts["a"] / counts["b"] <= 3.5


def test_capacity_based_skips_services_at_capacity() -> None:
    a, b = svc("a", model_capacity=5), svc("b", model_capacity=5)
    env = Env(sessions=Sessions({a: 5, b: 2}))
    rule = make_rule((a, b), "capacity_based")
    assert set(env.names(rule, 200)) == {"b"}


def test_capacity_based_follows_free_capacity() -> None:
    a, b = svc("a", model_capacity=10), svc("b", model_capacity=10)
    env = Env(sessions=Sessions({a: 2, b: 8}))  # 8 free vs 2 free
    counts = Counter(env.names(make_rule((a, b), "capacity_based"), 4000))
    assert 3.5 <= counts["a"] / counts["b"] <= 4.5


def test_capacity_based_reads_the_snapshot_sessions() -> None:
    a, b = svc("a", model_capacity=4), svc("b", model_capacity=4)
    snapshot = StateSnapshot(now=0.0, sessions={a.service_id: 4, b.service_id: 1})
    assert set(picks("capacity_based", (a, b), snapshot, 200)) == {"b"}


def test_capacity_based_counts_a_service_absent_from_the_sessions_as_empty() -> None:
    a, b = svc("a", model_capacity=3), svc("b", model_capacity=3)
    snapshot = StateSnapshot(now=0.0, sessions={a.service_id: 3})
    assert set(picks("capacity_based", (a, b), snapshot, 200)) == {"b"}


def test_capacity_based_without_sessions_in_the_snapshot_draws_by_capacity() -> None:
    a, b = svc("a", model_capacity=30), svc("b", model_capacity=10)
    counts = Counter(picks("capacity_based", (a, b), StateSnapshot(now=0.0), 4000))
    assert 2.5 <= counts["a"] / counts["b"] <= 3.5


def test_capacity_based_when_all_are_full_falls_back_to_capacity() -> None:
    a, b = svc("a", model_capacity=30), svc("b", model_capacity=10)
    env = Env(sessions=Sessions({a: 30, b: 12}))
    decision = env.lb.decide(make_rule((a, b), "capacity_based"))
    assert "every service is at capacity" in decision.reason
    counts = Counter(env.names(make_rule((a, b), "capacity_based"), 4000))
    assert 2.5 <= counts["a"] / counts["b"] <= 3.5


# --- least_latency ------------------------------------------------------------------------


def test_least_latency_tries_services_without_samples_first() -> None:
    env = Env()
    rule = make_rule((A, B, C), "least_latency")
    env.stats.record_latency(A, 5)
    env.stats.record_latency(C, 5)
    assert set(env.names(rule, 20)) == {"b"}


def test_least_latency_spreads_over_every_unsampled_service() -> None:
    env = Env()
    rule = make_rule((A, B, C), "least_latency")
    assert set(env.names(rule, 60)) == {"a", "b", "c"}


def test_least_latency_of_two_picks_the_lower_ewma() -> None:
    env = Env()
    rule = make_rule((A, B), "least_latency")
    env.stats.record_latency(A, 300)
    env.stats.record_latency(B, 100)
    assert set(env.names(rule, 50)) == {"b"}


def test_least_latency_avoids_the_slowest_of_three() -> None:
    env = Env()
    rule = make_rule((A, B, C), "least_latency")
    for service, ms in ((A, 100), (B, 200), (C, 900)):
        env.stats.record_latency(service, ms)
    counts = Counter(env.names(rule, 300))
    assert counts["c"] == 0
    assert counts["a"] > counts["b"] > 0


def test_least_latency_reacts_to_a_latency_peak_at_once() -> None:
    env = Env()
    rule = make_rule((A, B), "least_latency")
    env.stats.record_latency(A, 100)
    env.stats.record_latency(B, 200)
    env.clock.advance(1)
    env.stats.record_latency(A, 1000)  # one slow answer: A's EWMA jumps to 1000
    assert env.lb.select(rule) == B


def test_least_latency_uses_its_decay() -> None:
    env = Env()
    rule = make_rule((A, B), "least_latency", decay_seconds=1.0)
    env.stats.record_latency(A, 1000)
    env.stats.record_latency(B, 400)
    env.clock.advance(10)  # ten decays: A's fast sample counts almost fully
    env.stats.record_latency(A, 100)
    assert env.lb.select(rule) == A


# --- least_busy ---------------------------------------------------------------------------


def _busy(**counts: int) -> StateSnapshot:
    """A snapshot with these in-flight counts, by model name (services ``p:<name>``)."""
    return StateSnapshot(now=0.0, in_flight={svc(name).service_id: n for name, n in counts.items()})


def test_least_busy_picks_the_fewest_in_flight() -> None:
    assert set(picks("least_busy", (A, B, C), _busy(a=3, b=1, c=2), 20)) == {"b"}


def test_least_busy_counts_a_service_absent_from_in_flight_as_idle() -> None:
    assert set(picks("least_busy", (A, B, C), _busy(a=1, b=2), 20)) == {"c"}


def test_least_busy_follows_the_counts_of_each_snapshot() -> None:
    assert picks("least_busy", (A, B), _busy(a=1)) == ["b"]
    assert picks("least_busy", (A, B), _busy(a=0, b=1)) == ["a"]


def test_least_busy_says_how_many_are_in_flight() -> None:
    tactic = create_tactic("least_busy")
    candidates = candidate_set(tactic, (A, B))
    _, template, args = tactic.pick(_busy(a=2, b=5), candidates, random.Random(1))
    assert template.format(*args) == "fewest in-flight requests (2)"


def test_least_busy_breaks_ties_by_the_lower_latency_of_two() -> None:
    env = Env()
    rule = make_rule((A, B), "least_busy")
    env.stats.record_latency(A, 300)
    env.stats.record_latency(B, 100)
    assert set(env.names(rule, 30)) == {"b"}


def test_least_busy_tie_break_reaches_every_tied_service() -> None:
    env = Env()
    rule = make_rule((A, B, C), "least_busy")
    assert set(env.names(rule, 100)) == {"a", "b", "c"}


# --- every tactic ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TACTIC_PARAMS))
def test_every_tactic_makes_its_pick_the_rules_current_service(name: str) -> None:
    env = Env()
    rule = make_rule((A, B, C), name)
    chosen = env.lb.select(rule)
    assert env.state.current(rule.uuid) == chosen.service_id


@pytest.mark.parametrize("name", sorted(TACTIC_PARAMS))
def test_every_tactic_explains_its_pick(name: str) -> None:
    env = Env()
    decision = env.lb.decide(make_rule((A, B, C), name))
    assert decision.tactic == name
    assert decision.reason and "{" not in decision.reason
