"""Hypothesis properties every tactic keeps, over random rules, candidates and stats."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from tactic_helpers import Sessions, candidate_set, make_rule, svc

from llmroute import LoadBalancer, Service
from llmroute.config import TACTIC_PARAMS
from llmroute.state import StateSnapshot, TacticCursor, ewma_view, stats_view
from llmroute.stats import InMemoryStatsStore
from llmroute.tactics import create_tactic
from llmroute.testing import FakeClock

TACTICS = sorted(TACTIC_PARAMS)

services_st = st.lists(
    st.builds(
        lambda i, weight, active, capacity: svc(
            f"m{i}", weight=weight, active=active, model_capacity=capacity
        ),
        st.integers(0, 5),
        st.integers(0, 4),
        st.booleans(),
        st.none() | st.integers(1, 5),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda s: s.model,
)


def _loaded_stats(services: list[Service], seed: int) -> InMemoryStatsStore:
    """A stats store with some random usage, latency and speed."""
    clock = FakeClock()
    stats = InMemoryStatsStore(clock=clock)
    rng = random.Random(seed)
    for service in services:
        for _ in range(rng.randrange(4)):
            stats.record_usage(service, rng.randrange(3000), rng.randrange(500))
            stats.record_latency(service, rng.uniform(10, 3000))
            stats.record_speed(service, rng.uniform(5, 150))
            clock.advance(rng.uniform(0, 5))
    return stats


def _balancer(services: list[Service], seed: int) -> LoadBalancer:
    sessions = Sessions({s: seed % 4 for s in services})
    return LoadBalancer(_loaded_stats(services, seed), sessions=sessions, rng=random.Random(seed))


@settings(max_examples=60)
@given(
    tactic=st.sampled_from(TACTICS),
    services=services_st,
    picks=st.lists(st.integers(0, 5), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_a_tactic_only_returns_an_active_candidate(
    tactic: str, services: list[Service], picks: list[int], seed: int
) -> None:
    rule = make_rule(services, tactic)
    candidates = [services[i % len(services)] for i in picks]
    allowed = [s for s in candidates if s.active]
    if not allowed:
        return  # covered by the NoServiceAvailableError tests
    lb = _balancer(services, seed)
    for _ in range(10):
        chosen = lb.select(rule, candidates)
        assert chosen in allowed
        assert chosen.active


@settings(max_examples=60)
@given(
    tactic=st.sampled_from(TACTICS),
    services=services_st,
    seed=st.integers(0, 2**16),
    turn=st.integers(0, 1000),
    current=st.integers(0, 6),
    busy=st.lists(st.integers(0, 3), min_size=6, max_size=6),
)
def test_a_pure_pick_returns_one_of_its_candidates(
    tactic: str,
    services: list[Service],
    seed: int,
    turn: int,
    current: int,
    busy: list[int],
) -> None:
    active = [s for s in services if s.active]
    if len(active) < 2:
        return  # a tactic is only asked to choose among two or more
    built = create_tactic(tactic)
    stats = _loaded_stats(services, seed)
    ids = [s.service_id for s in services]
    snapshot = StateSnapshot(
        now=0.0,
        stats=stats_view(stats),
        ewma=ewma_view(stats, built.ewma_decay or 10.0),
        sessions={sid: n + seed % 3 for sid, n in zip(ids, busy, strict=False)},
        in_flight={sid: n for sid, n in zip(ids, busy, strict=False)},
        cursor=TacticCursor(ids[current] if current < len(ids) else None, 1),
        turn=turn,
    )
    candidates = candidate_set(built, active)
    rng = random.Random(seed)
    for _ in range(10):
        chosen, template, args = built.pick(snapshot, candidates, rng)
        assert chosen in active
        assert "{" not in template.format(*args)


@settings(max_examples=40)
@given(tactic=st.sampled_from(TACTICS), services=services_st, seed=st.integers(0, 2**16))
def test_a_seeded_rng_reproduces_the_sequence(
    tactic: str, services: list[Service], seed: int
) -> None:
    rule = make_rule(services, tactic)
    if not rule.active_services():
        return
    first, second = _balancer(services, seed), _balancer(services, seed)
    assert [first.select(rule) for _ in range(30)] == [second.select(rule) for _ in range(30)]


@given(count=st.integers(1, 6), threshold=st.integers(1, 5), cycles=st.integers(1, 4))
def test_round_robin_gives_each_service_exactly_threshold_per_cycle(
    count: int, threshold: int, cycles: int
) -> None:
    services = [svc(f"m{i}") for i in range(count)]
    rule = make_rule(services, "round_robin", request_threshold=threshold)
    lb = LoadBalancer(rng=random.Random(0))
    picks = [lb.select(rule).model for _ in range(count * threshold * cycles)]
    for cycle in range(cycles):
        window = picks[cycle * count * threshold : (cycle + 1) * count * threshold]
        assert Counter(window) == {s.model: threshold for s in services}


@settings(max_examples=15)
@given(weights=st.lists(st.integers(1, 5), min_size=2, max_size=4), seed=st.integers(0, 999))
def test_weighted_random_converges_to_the_weights(weights: list[int], seed: int) -> None:
    services = [svc(f"m{i}", weight=w) for i, w in enumerate(weights)]
    rule = make_rule(services, "random")
    lb = LoadBalancer(rng=random.Random(seed))
    draws = 20_000
    counts = Counter(lb.select(rule).model for _ in range(draws))
    total = sum(weights)
    for service, weight in zip(services, weights, strict=True):
        assert abs(counts[service.model] / draws - weight / total) < 0.02
