"""The tactics that keep something per candidate set so that a pick does not read every
candidate's figures: they answer as a scan of every candidate does (token_based, hybrid,
least_busy), with the same odds (capacity_based), or as of a scan at most
ADAPTIVE_REFRESH_SECONDS old (latency_based, speed_based, adaptive)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping

import pytest
from tactic_helpers import A, B, C, Env, Sessions, candidate_set, make_rule, svc

from llmroute import Service
from llmroute.state import StateSnapshot
from llmroute.stats import ServiceStats
from llmroute.tactics import ADAPTIVE_REFRESH_SECONDS, create_tactic

# --- token_based and hybrid: the fewest, exactly ----------------------------------------------


def _tokens(stats: ServiceStats) -> int:
    return stats.window_tokens_consumed


def _hybrid(stats: ServiceStats) -> int:
    return 10 * stats.window_request_count + stats.window_tokens_consumed


def _scan(figures: Mapping[Service, ServiceStats], figure: Callable[[ServiceStats], int]) -> str:
    """What a read of every candidate chooses: the lowest figure, ties to the first."""
    values = [figure(stats) for stats in figures.values()]
    return list(figures)[values.index(min(values))].model


@pytest.mark.parametrize(
    ("tactic", "figure", "params"),
    [
        ("token_based", _tokens, {"token_threshold": 1}),
        ("hybrid", _hybrid, {"token_threshold": 1, "request_threshold": 1}),
    ],
)
@pytest.mark.parametrize("seed", range(5))
def test_the_fewest_is_the_scans_answer_through_writes_and_window_rolls(
    tactic: str, figure: Callable[[ServiceStats], int], params: dict[str, int], seed: int
) -> None:
    # Short, unequal windows, so that they roll often and at different times; ties are
    # common (small counts), so the first-of-ties rule is checked as well.
    services = [svc(f"s{i}", time_window=2 + i % 3) for i in range(12)]
    env = Env()
    rule = make_rule(services, tactic, **params)
    rng = random.Random(seed)
    for service in services:  # every service over the thresholds: each pick falls back
        env.stats.record_usage(service, 1 + rng.randint(0, 3), 0)
    for step in range(400):
        for _ in range(rng.randint(0, 3)):
            service = rng.choice(services)
            env.stats.record_usage(service, rng.randint(0, 4), rng.randint(0, 2))
        env.clock.advance(rng.choice((0.0, 0.0, 0.05, 0.3, 1.1)))
        figures = {s: env.stats.snapshot(s) for s in services}
        current = env.state.current(rule.uuid)
        decision = env.lb.decide(rule)
        at = f"step {step}, current {current}"
        if "kept the current service" in decision.reason:  # a rolled window: under again
            assert decision.service.service_id == current, at
            assert figure(figures[decision.service]) < 1, at
        else:
            assert decision.service.model == _scan(figures, figure), at


def test_token_based_reads_a_few_candidates_not_all_once_ordered() -> None:
    tactic = create_tactic({"type": "token_based", "params": {"token_threshold": 1}})
    services = [svc(f"s{i}") for i in range(50)]
    candidates = candidate_set(tactic, services)
    figures = {s.service_id: ServiceStats(s.service_id, window_tokens_consumed=5) for s in services}

    class Counting(dict[str, ServiceStats]):
        reads = 0

        def __getitem__(self, key: str) -> ServiceStats:
            Counting.reads += 1
            return super().__getitem__(key)

    tactic.pick(StateSnapshot(now=0.0, stats=Counting(figures)), candidates, random.Random(1))
    Counting.reads = 0
    for _ in range(10):
        tactic.pick(StateSnapshot(now=0.5, stats=Counting(figures)), candidates, random.Random(1))
    assert Counting.reads <= 20  # the current service and the front of the order, per pick


# --- least_busy: the same draws as a scan of every count ------------------------------------


def _least_busy_by_scan(
    in_flight: Mapping[str, int], services: list[Service], ewma: Mapping[str, float], seed: int
) -> str:
    """least_busy as it read every candidate's count: fewest, then two random of the tied."""
    counts = [in_flight.get(s.service_id, 0) for s in services]
    tied = [i for i, n in enumerate(counts) if n == min(counts)]
    if len(tied) == 1:
        return services[tied[0]].model
    rng = random.Random(seed)
    i = int(rng.random() * len(tied))
    j = int(rng.random() * (len(tied) - 1))
    j += j >= i
    a, b = tied[i], tied[j]
    cost_a = ewma.get(services[a].service_id, 0.0)
    cost_b = ewma.get(services[b].service_id, 0.0)
    return services[b if cost_b < cost_a else a].model


@pytest.mark.parametrize("seed", range(300))
def test_least_busy_picks_what_a_scan_of_every_count_picks(seed: int) -> None:
    rng = random.Random(seed)
    services = [svc(f"s{i}") for i in range(rng.randint(2, 30))]
    others = [svc(f"other{i}") for i in range(3)]  # in flight, but not candidates
    busy = rng.sample([*services, *others], rng.randint(1, len(services) + 2))
    in_flight = {s.service_id: rng.randint(0, 3) for s in busy}  # zeros count as idle
    ewma = {s.service_id: float(rng.randint(1, 5)) for s in services if rng.random() < 0.7}
    snapshot = StateSnapshot(now=0.0, in_flight=in_flight, ewma=ewma)
    tactic = create_tactic("least_busy")
    chosen = tactic.pick(snapshot, candidate_set(tactic, services), random.Random(seed))[0]
    assert chosen.model == _least_busy_by_scan(in_flight, services, ewma, seed)


# --- capacity_based: the odds of free capacity, however full ---------------------------------


@pytest.mark.parametrize(
    ("free", "full"),
    [
        ({"a": 8, "b": 2}, 0),  # mostly free: the first draws are kept
        ({"a": 1, "b": 3}, 18),  # 4 slots free of 200: the draws mostly miss, then the scan
    ],
)
def test_capacity_based_draws_in_proportion_to_free_capacity(
    free: dict[str, int], full: int
) -> None:
    capacity = 10
    services = [svc(name, model_capacity=capacity) for name in free]
    services += [svc(f"full{i}", model_capacity=capacity) for i in range(full)]
    used = {s: capacity - free.get(s.model, 0) for s in services}
    env = Env(sessions=Sessions(used))
    counts = Counter(env.names(make_rule(services, "capacity_based"), 4000))
    assert set(counts) == set(free)
    ratio = counts["a"] / counts["b"]
    expected = free["a"] / free["b"]
    assert 0.8 * expected <= ratio <= 1.2 * expected


# --- latency_based and speed_based: a fallback at most a refresh old ---------------------------


def test_latency_based_keeps_its_lowest_for_a_refresh_but_reads_the_current_each_pick() -> None:
    env = Env()
    rule = make_rule((A, B, C), "latency_based", latency_threshold_ms=100)
    env.stats.record_latency(A, 500)
    env.stats.record_latency(B, 200)
    env.stats.record_latency(C, 300)
    assert env.lb.select(rule) == B  # A, the first, is too slow: the lowest
    for _ in range(20):  # B becomes slower than C, but stays above the threshold
        env.stats.record_latency(B, 900)
    env.set_current(rule, A)
    env.clock.advance(ADAPTIVE_REFRESH_SECONDS * 0.999)
    assert env.lb.select(rule) == B  # the lowest as found less than a refresh ago
    env.set_current(rule, A)
    env.clock.advance(ADAPTIVE_REFRESH_SECONDS * 0.001)
    assert env.lb.select(rule) == C
    for _ in range(20):  # C, now current, is fast again: kept at once, no refresh needed
        env.stats.record_latency(C, 10)
    assert "kept the current service" in env.lb.decide(rule).reason


def test_speed_based_keeps_its_fastest_until_a_refresh_has_passed() -> None:
    env = Env()
    rule = make_rule((A, B), "speed_based", min_samples_required=1, speed_threshold_tps=10)
    for _ in range(5):
        env.stats.record_speed(A, 100)
        env.stats.record_speed(B, 50)
    assert env.lb.select(rule) == A
    for _ in range(200):
        env.stats.record_speed(A, 1)
    env.clock.advance(ADAPTIVE_REFRESH_SECONDS * 0.999)
    assert env.lb.select(rule) == A
    env.clock.advance(ADAPTIVE_REFRESH_SECONDS * 0.001)
    assert env.lb.select(rule) == B


def test_a_clock_that_goes_back_refreshes_the_kept_pick() -> None:
    tactic = create_tactic("speed_based")
    candidates = candidate_set(tactic, (A, B))
    fast_a = {A.service_id: ServiceStats(A.service_id, avg_token_speed=90, speed_sample_count=9)}
    fast_b = {B.service_id: ServiceStats(B.service_id, avg_token_speed=90, speed_sample_count=9)}
    rng = random.Random(1)
    assert tactic.pick(StateSnapshot(now=10.0, stats=fast_a), candidates, rng)[0] == A
    assert tactic.pick(StateSnapshot(now=9.0, stats=fast_b), candidates, rng)[0] == B


def test_the_kept_order_stays_exact_under_concurrent_picks_and_writes() -> None:
    services = [svc(f"s{i}") for i in range(40)]
    env = Env()
    rule = make_rule(services, "token_based", token_threshold=1)
    for service in services:
        env.stats.record_usage(service, 5, 0)
    errors: list[BaseException] = []

    def pick_many() -> None:
        try:
            for _ in range(300):
                env.lb.select(rule)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def write_many(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            env.stats.record_usage(rng.choice(services), rng.randint(1, 9), 0)

    threads = [threading.Thread(target=pick_many) for _ in range(4)]
    threads += [threading.Thread(target=write_many, args=(seed,)) for seed in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    figures = {s: env.stats.snapshot(s) for s in services}
    assert env.lb.select(rule).model == _scan(figures, _tokens)
