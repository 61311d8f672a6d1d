"""Service statistics: windows, samples, percentiles, cache rate, snapshots, threads."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmroute import Service, ServiceStats, Usage
from llmroute.stats import InMemoryStatsStore, percentile
from llmroute.testing import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryStatsStore:
    return InMemoryStatsStore(clock=clock)


SVC = Service(provider="p", model="m", time_window=60)


def test_unknown_service_snapshot_is_all_zero(store: InMemoryStatsStore) -> None:
    snap = store.snapshot(SVC)
    assert snap == ServiceStats(service_id=SVC.service_id)
    assert snap.window_start is None and snap.last_used is None


def test_usage_accumulates_in_lifetime_and_window(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 80, 20)
    store.record_usage(SVC, 150, 50)
    snap = store.snapshot(SVC)
    assert snap.request_count == 2
    assert snap.window_request_count == 2
    assert snap.window_tokens_consumed == 300
    assert snap.window_input_tokens == 230
    assert snap.window_output_tokens == 70
    assert snap.window_cost_tokens == 300


def test_window_reads_zero_once_it_has_passed(store: InMemoryStatsStore, clock: FakeClock) -> None:
    store.record_usage(SVC, 80, 20)
    store.record_usage(SVC, 150, 50)
    clock.advance(60)
    snap = store.snapshot(SVC)
    assert snap.request_count == 2
    assert (snap.window_request_count, snap.window_tokens_consumed) == (0, 0)
    assert snap.window_start is None


def test_window_is_still_open_just_before_it_ends(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_usage(SVC, 10, 0)
    clock.advance(59.999)
    assert store.snapshot(SVC).window_tokens_consumed == 10


def test_next_usage_after_the_window_starts_a_new_one(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    start = clock()
    store.record_usage(SVC, 80, 20)
    clock.advance(90)
    store.record_usage(SVC, 5, 5)
    snap = store.snapshot(SVC)
    assert snap.window_start == start + 90
    assert (snap.request_count, snap.window_request_count, snap.window_tokens_consumed) == (
        2,
        1,
        10,
    )
    assert snap.last_used == start + 90


def test_window_length_follows_the_service_passed(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    long_window = SVC.model_copy(update={"time_window": 600})
    store.record_usage(long_window, 10, 0)
    clock.advance(120)
    assert store.snapshot(long_window).window_tokens_consumed == 10
    assert store.snapshot(SVC).window_tokens_consumed == 0


def test_cache_hit_rate(store: InMemoryStatsStore) -> None:
    for hit in (True, False, True, True, False):
        store.record_cache(SVC, hit)
    snap = store.snapshot(SVC)
    assert (snap.window_cache_hits, snap.window_cache_misses) == (3, 2)
    assert snap.cache_hit_rate == pytest.approx(0.6)


def test_cache_counters_belong_to_the_window(store: InMemoryStatsStore, clock: FakeClock) -> None:
    store.record_cache(SVC, True)
    clock.advance(60)
    store.record_cache(SVC, False)
    snap = store.snapshot(SVC)
    assert (snap.window_cache_hits, snap.window_cache_misses, snap.cache_hit_rate) == (0, 1, 0.0)


def test_latency_average_and_percentiles(store: InMemoryStatsStore) -> None:
    for ms in (300, 100, 250, 150, 200):
        store.record_latency(SVC, ms)
    snap = store.snapshot(SVC)
    assert snap.avg_latency_ms == 200
    assert snap.p50_latency_ms == 200
    assert snap.p95_latency_ms == pytest.approx(290)
    assert snap.p99_latency_ms == pytest.approx(298)
    assert snap.latency_sample_count == 5


def test_ttft_average_and_percentiles(store: InMemoryStatsStore) -> None:
    for ms in (100, 150, 200, 250, 300):
        store.record_ttft(SVC, ms)
    snap = store.snapshot(SVC)
    assert (snap.avg_ttft_ms, snap.p50_ttft_ms) == (200, 200)
    assert snap.p95_ttft_ms == pytest.approx(290)
    assert snap.ttft_sample_count == 5


def test_speed_average(store: InMemoryStatsStore) -> None:
    for tps in (30.0, 60.0, 90.0):
        store.record_speed(SVC, tps)
    snap = store.snapshot(SVC)
    assert (snap.avg_token_speed, snap.speed_sample_count) == (60.0, 3)


def test_samples_keep_only_the_last_max_samples(clock: FakeClock) -> None:
    store = InMemoryStatsStore(clock=clock, max_samples=3)
    for ms in (1000, 1000, 10, 20, 30):
        store.record_latency(SVC, ms)
    snap = store.snapshot(SVC)
    assert (snap.latency_sample_count, snap.avg_latency_ms) == (3, 20)


def test_samples_do_not_expire_with_the_usage_window(
    store: InMemoryStatsStore, clock: FakeClock
) -> None:
    store.record_latency(SVC, 120)
    clock.advance(3600)
    assert store.snapshot(SVC).avg_latency_ms == 120


def test_snapshot_is_refreshed_after_each_write(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 1, 1)
    first = store.snapshot(SVC)
    assert store.snapshot(SVC) is first
    store.record_latency(SVC, 50)
    second = store.snapshot(SVC)
    assert second is not first
    assert second.avg_latency_ms == 50


def test_services_are_kept_apart(store: InMemoryStatsStore) -> None:
    other = Service(provider="p", model="other")
    store.record_usage(SVC, 10, 10)
    assert store.snapshot(other).request_count == 0


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("record_usage", (-1, 0)),
        ("record_usage", (0, -1)),
        ("record_latency", (-5,)),
        ("record_latency", (float("nan"),)),
        ("record_ttft", (-1,)),
        ("record_speed", (-0.5,)),
    ],
)
def test_negative_or_nan_input_is_rejected(
    store: InMemoryStatsStore, call: str, args: tuple[float, ...]
) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        getattr(store, call)(SVC, *args)


def test_max_samples_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_samples"):
        InMemoryStatsStore(max_samples=0)


def test_snapshot_is_immutable(store: InMemoryStatsStore) -> None:
    snap = store.snapshot(SVC)
    with pytest.raises(AttributeError):
        snap.request_count = 3  # type: ignore[misc]


def test_concurrent_writers_lose_no_count(clock: FakeClock) -> None:
    store = InMemoryStatsStore(clock=clock)
    services = [Service(provider="p", model=f"m{i}", time_window=3600) for i in range(3)]
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for i in range(2000):
            service = services[i % 3]
            store.record_usage(service, 1, 2)
            store.record_latency(service, i % 50)
            store.snapshot(service)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(store.snapshot(s).request_count for s in services)
    tokens = sum(store.snapshot(s).window_tokens_consumed for s in services)
    assert (total, tokens) == (16000, 48000)


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50))
def test_percentiles_lie_between_min_and_max_and_are_ordered(values: list[float]) -> None:
    ordered = sorted(values)
    p50, p95, p99 = (percentile(ordered, p) for p in (0.5, 0.95, 0.99))
    assert ordered[0] <= p50 <= p95 <= p99 <= ordered[-1]


def test_percentile_of_nothing_is_zero() -> None:
    assert percentile([], 0.5) == 0.0


def test_aggregates_computed_on_read_cover_every_write_since_the_last_read(
    store: InMemoryStatsStore,
) -> None:
    store.record_latency(SVC, 100)
    assert store.snapshot(SVC).avg_latency_ms == 100
    for ms in (200, 300, 400):  # written without a read in between
        store.record_latency(SVC, ms)
        store.record_ttft(SVC, ms / 10)
        store.record_speed(SVC, ms / 100)
    snap = store.snapshot(SVC)
    assert (snap.avg_latency_ms, snap.p50_latency_ms, snap.p99_latency_ms) == pytest.approx(
        (250, 250, 397)
    )
    assert (snap.avg_ttft_ms, snap.p50_ttft_ms) == pytest.approx((30, 30))
    assert snap.avg_token_speed == pytest.approx(3)


# --- get: the figures by service id ----------------------------------------------------------


def test_get_of_an_unknown_service_is_all_zero(store: InMemoryStatsStore) -> None:
    assert store.get(SVC.service_id) == ServiceStats(service_id=SVC.service_id)


def test_get_reads_the_same_figures_as_snapshot(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 80, 20)
    store.record_latency(SVC, 150)
    store.record_cache(SVC, True)
    assert store.get(SVC.service_id) == store.snapshot(SVC)
    assert store.get(SVC.service_id).window_tokens_consumed == 100


def test_get_takes_the_plain_service_id_string(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 5, 5)
    assert store.get("p:m").request_count == 1  # type: ignore[arg-type]


def test_get_closes_a_window_that_has_run_out(store: InMemoryStatsStore, clock: FakeClock) -> None:
    store.record_usage(SVC, 80, 20)
    assert store.get(SVC.service_id).window_tokens_consumed == 100
    clock.advance(60)  # the window of the service last written (60 s) has passed
    stats = store.get(SVC.service_id)
    assert (stats.request_count, stats.window_tokens_consumed, stats.window_start) == (1, 0, None)


def test_get_follows_every_write(store: InMemoryStatsStore) -> None:
    store.record_usage(SVC, 1, 1)
    assert store.get(SVC.service_id).request_count == 1
    store.record_usage(SVC, 1, 1)
    assert store.get(SVC.service_id).request_count == 2


# --- record_success: one served request --------------------------------------------------------


def test_record_success_counts_tokens_latency_ttft_speed_and_cache(
    store: InMemoryStatsStore,
) -> None:
    store.record_success(SVC, Usage(100, 50, 40), 1200.0, 200.0)
    snap = store.snapshot(SVC)
    assert (snap.request_count, snap.window_input_tokens, snap.window_output_tokens) == (1, 100, 50)
    assert (snap.avg_latency_ms, snap.avg_ttft_ms) == (1200.0, 200.0)
    # 50 output tokens over the 1000 ms after the first token: 50 tokens/s.
    assert (snap.avg_token_speed, snap.speed_sample_count) == (50.0, 1)
    assert (snap.window_cache_hits, snap.window_cache_misses) == (1, 0)


def test_record_success_counts_a_cache_miss_when_nothing_was_cached(
    store: InMemoryStatsStore,
) -> None:
    store.record_success(SVC, Usage(100, 10), 500.0, None)
    snap = store.snapshot(SVC)
    assert (snap.window_cache_hits, snap.window_cache_misses) == (0, 1)


def test_record_success_without_ttft_takes_speed_over_the_whole_latency(
    store: InMemoryStatsStore,
) -> None:
    store.record_success(SVC, Usage(10, 30), 2000.0, None)
    snap = store.snapshot(SVC)
    assert (snap.avg_token_speed, snap.ttft_sample_count) == (15.0, 0)


def test_record_success_without_usage_counts_the_request_only(
    store: InMemoryStatsStore,
) -> None:
    store.record_success(SVC, None, 300.0, None)
    snap = store.snapshot(SVC)
    assert (snap.request_count, snap.window_tokens_consumed, snap.latency_sample_count) == (1, 0, 1)
    assert (snap.speed_sample_count, snap.window_cache_hits + snap.window_cache_misses) == (0, 0)


def test_record_success_without_latency_takes_no_latency_or_speed_sample(
    store: InMemoryStatsStore,
) -> None:
    store.record_success(SVC, Usage(10, 30), None, None)
    snap = store.snapshot(SVC)
    assert (snap.request_count, snap.window_output_tokens) == (1, 30)
    assert (snap.latency_sample_count, snap.speed_sample_count) == (0, 0)


@pytest.mark.parametrize(
    ("usage", "latency_ms", "ttft_ms"),
    [
        (Usage(10, 0), 1000.0, 100.0),  # no output tokens
        (Usage(10, 30), 500.0, 500.0),  # no time after the first token
        (Usage(10, 30), 400.0, 500.0),  # a first token reported after the end
    ],
)
def test_record_success_takes_no_speed_sample_it_cannot_compute(
    store: InMemoryStatsStore, usage: Usage, latency_ms: float, ttft_ms: float
) -> None:
    store.record_success(SVC, usage, latency_ms, ttft_ms)
    assert store.snapshot(SVC).speed_sample_count == 0
