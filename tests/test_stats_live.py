"""The live figure of the stats store: the peak-sensitive latency EWMA, by service and by id."""

from __future__ import annotations

import math

import pytest

from llmroute import Service
from llmroute.stats import InMemoryStatsStore
from llmroute.testing import FakeClock

SVC = Service(provider="p", model="m")
OTHER = Service(provider="p", model="other")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryStatsStore:
    return InMemoryStatsStore(clock=clock)


# --- latency EWMA ----------------------------------------------------------------------------


def test_ewma_is_none_without_samples(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 1, 1)
    assert store.latency_ewma(SVC, 10.0) is None
    assert store.latency_ewma(OTHER, 10.0) is None


def test_ewma_of_one_sample_is_that_sample(store: InMemoryStatsStore) -> None:
    store.record_latency(SVC, 120)
    assert store.latency_ewma(SVC, 10.0) == 120


def test_a_higher_sample_raises_the_ewma_at_once(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 100)
    clock.advance(0.5)
    store.record_latency(SVC, 900)
    assert store.latency_ewma(SVC, 10.0) == 900


def test_a_lower_sample_decays_in_with_its_time_weight(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 1000)
    clock.advance(5)
    store.record_latency(SVC, 200)
    weight = math.exp(-5 / 10)
    assert store.latency_ewma(SVC, 10.0) == pytest.approx(1000 * weight + 200 * (1 - weight))


def test_a_lower_sample_at_the_same_instant_does_not_move_it(
    store: InMemoryStatsStore,
) -> None:
    store.record_latency(SVC, 1000)
    store.record_latency(SVC, 200)
    assert store.latency_ewma(SVC, 10.0) == 1000


def test_a_shorter_decay_forgets_the_peak_faster(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 1000)
    clock.advance(4)
    store.record_latency(SVC, 100)
    short, long = store.latency_ewma(SVC, 1.0), store.latency_ewma(SVC, 100.0)
    assert short == pytest.approx(1000 * math.exp(-4) + 100 * (1 - math.exp(-4)))
    assert long == pytest.approx(1000 * math.exp(-0.04) + 100 * (1 - math.exp(-0.04)))


def test_a_cached_ewma_moves_with_each_new_sample(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 1000)
    assert store.latency_ewma(SVC, 10.0) == 1000  # cached from here on
    clock.advance(10)
    store.record_latency(SVC, 0)
    assert store.latency_ewma(SVC, 10.0) == pytest.approx(1000 * math.exp(-1))


def test_asking_late_for_a_decay_gives_the_same_value_as_asking_early(
    clock: FakeClock,
) -> None:
    early, late = InMemoryStatsStore(clock=clock), InMemoryStatsStore(clock=clock)
    for store in (early, late):
        store.record_latency(SVC, 500)
    early.latency_ewma(SVC, 3.0)  # from here on early updates it sample by sample
    for ms, dt in ((800, 1.0), (100, 2.0), (300, 0.5), (50, 4.0)):
        clock.advance(dt)
        for store in (early, late):
            store.record_latency(SVC, ms)
    assert late.latency_ewma(SVC, 3.0) == pytest.approx(early.latency_ewma(SVC, 3.0))


def test_the_ewma_read_is_stable_between_samples(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 400)
    clock.advance(2)
    store.record_latency(SVC, 100)
    first = store.latency_ewma(SVC, 10.0)
    clock.advance(60)
    assert store.latency_ewma(SVC, 10.0) == first


def test_the_ewma_does_not_touch_the_snapshot(store: InMemoryStatsStore) -> None:
    store.record_latency(SVC, 400)
    snap = store.snapshot(SVC)
    store.latency_ewma(SVC, 10.0)
    assert store.snapshot(SVC) is snap


@pytest.mark.parametrize("decay", [0.0, -1.0, float("nan"), float("inf")])
def test_ewma_decay_must_be_a_finite_positive_number(
    store: InMemoryStatsStore, decay: float
) -> None:
    with pytest.raises(ValueError, match="decay_seconds must be a finite number > 0"):
        store.latency_ewma(SVC, decay)


def test_latency_samples_still_feed_the_snapshot(store: InMemoryStatsStore) -> None:
    for ms in (300, 100, 200):
        store.record_latency(SVC, ms)
    snap = store.snapshot(SVC)
    assert (snap.avg_latency_ms, snap.latency_sample_count) == (200, 3)


def test_an_unknown_service_snapshot_is_reused(store: InMemoryStatsStore) -> None:
    assert store.snapshot(OTHER) is store.snapshot(OTHER)


# --- ewma_of: the EWMA by service id -------------------------------------------------------


def test_ewma_of_is_none_for_a_service_without_samples(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 1, 1)
    assert store.ewma_of(SVC.service_id, 10.0) is None
    assert store.ewma_of(OTHER.service_id, 10.0) is None


def test_ewma_of_agrees_with_latency_ewma(store: InMemoryStatsStore, clock: FakeClock) -> None:
    store.record_latency(SVC, 1000)
    clock.advance(5)
    store.record_latency(SVC, 200)
    weight = math.exp(-5 / 10)
    expected = 1000 * weight + 200 * (1 - weight)
    assert store.ewma_of(SVC.service_id, 10.0) == pytest.approx(expected)
    assert store.ewma_of("p:m", 10.0) == store.latency_ewma(SVC, 10.0)


def test_ewma_of_moves_with_each_new_sample(store: InMemoryStatsStore, clock: FakeClock) -> None:
    store.record_latency(SVC, 1000)
    assert store.ewma_of(SVC.service_id, 10.0) == 1000
    clock.advance(10)
    store.record_latency(SVC, 0)
    assert store.ewma_of(SVC.service_id, 10.0) == pytest.approx(1000 * math.exp(-1))
    store.record_latency(SVC, 5000)  # a peak: at once
    assert store.ewma_of(SVC.service_id, 10.0) == 5000


@pytest.mark.parametrize("decay", [0.0, -1.0, float("nan"), float("inf")])
def test_ewma_of_decay_must_be_a_finite_positive_number(
    store: InMemoryStatsStore, decay: float
) -> None:
    store.record_latency(SVC, 100)
    with pytest.raises(ValueError, match="decay_seconds must be a finite number > 0"):
        store.ewma_of(SVC.service_id, decay)
