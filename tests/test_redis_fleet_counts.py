"""The counts a fleet shares through RedisState: calls in flight as per-replica leases that
expire (least_busy sees the fleet's load; a killed replica leaves none behind), the fleet-wide
retry budget, and the option to share latency samples. Real Redis, no mocks."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from collections import deque
from typing import Any

import pytest
import redis
import redis_support as rs

from llmroute import AllProvidersFailedError, RoutingConfig, ServiceSelector
from llmroute.config import ServiceID
from llmroute.execute import RetryBudget
from llmroute.redis import RedisState
from llmroute.state import StateQuery
from llmroute.testing import FakeAPIError

rs.require_redis()

M0, M1 = ServiceID("p", "m0"), ServiceID("p", "m1")


def make(stores: list[RedisState], namespace: str, url: str = rs.URL, **options: Any) -> RedisState:
    state = rs.store(namespace, url, **options)
    stores.append(state)
    return state


def fleet_load(state: RedisState, query: StateQuery) -> dict[str, int]:
    """The fleet's calls in flight per service as ``state`` sees them after one read."""
    state.read(query)
    return dict(state.in_flight_counter().view())


def wait_for(condition: Any, seconds: float = 5.0) -> float:
    """Poll ``condition`` (bounded); returns how long it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.005)
    return time.monotonic() - started


# -- calls in flight -------------------------------------------------------------------------


def test_two_replicas_see_each_others_calls_in_flight(
    stores: list[RedisState], namespace: str
) -> None:
    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    assert a.replica_id != b.replica_id
    busy, idle = ServiceSelector(state=a), ServiceSelector(state=b, rng=random.Random(3))
    rule = rs.make_rule(2, "least_busy")
    query = idle.prepare(rule, None, None, None, None)[2]
    assert query.in_flight
    for _ in range(5):
        busy.started(rule.services[0])
    wait_for(lambda: fleet_load(b, query) == {"p:m0": 5})
    picks = {idle.select(rule).service.service_id for _ in range(40)}
    assert picks == {M1}  # B has nothing in flight itself: only A's lease says m0 is busy
    assert idle.in_flight(rule.services[0]) == 0  # B's own count
    for _ in range(5):
        busy.finished(rule.services[0])
    wait_for(lambda: fleet_load(b, query) == {})


def test_a_replica_that_stops_leaves_no_load_once_its_lease_expires(
    stores: list[RedisState], namespace: str
) -> None:
    a = make(stores, namespace, sync_interval=0, lease_ttl=0.3)
    b = make(stores, namespace, sync_interval=0)
    rule = rs.make_rule(2, "least_busy")
    busy, idle = ServiceSelector(state=a), ServiceSelector(state=b)
    query = idle.prepare(rule, None, None, None, None)[2]
    for _ in range(3):
        busy.started(rule.services[0])
    wait_for(lambda: fleet_load(b, query) == {"p:m0": 3})
    a.close()  # its calls still "in flight", but it refreshes its lease no more
    gone = wait_for(lambda: fleet_load(b, query) == {}, seconds=3)
    assert gone <= 0.3 + 0.2, gone


def test_a_killed_replica_leaves_no_load_behind(namespace: str, stores: list[RedisState]) -> None:
    ttl = 0.5
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Queue()
    child = ctx.Process(target=rs.holding_worker, args=(namespace, 4, ttl, ready))
    child.start()
    try:
        ready.get(timeout=30)
        watcher = make(stores, namespace, sync_interval=0)
        query = StateQuery(rule="r", services=(M0,), in_flight=True)
        wait_for(lambda: fleet_load(watcher, query) == {"p:m0": 4})
        time.sleep(2 * ttl)  # a live replica refreshes its lease: the load stays
        assert fleet_load(watcher, query) == {"p:m0": 4}
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        gone = wait_for(lambda: fleet_load(watcher, query) == {}, seconds=5)
        print(f"a killed replica's load was gone {gone * 1000:.0f} ms later (lease {ttl} s)")
        assert gone <= ttl + 0.3, gone
    finally:
        child.kill()
        child.join(5)


def test_while_redis_is_down_the_fleet_counts_are_this_replicas_own(namespace: str) -> None:
    made: list[RedisState] = []
    with rs.own_redis() as server:
        a = make(made, namespace, server.url, sync_interval=0)
        b = make(made, namespace, server.url, sync_interval=0)
        busy, idle = ServiceSelector(state=a), ServiceSelector(state=b)
        rule = rs.make_rule(2, "least_busy")
        query = idle.prepare(rule, None, None, None, None)[2]
        busy.started(rule.services[0])
        idle.started(rule.services[1])
        wait_for(lambda: fleet_load(b, query) == {"p:m0": 1, "p:m1": 1})
        server.kill()
        assert fleet_load(b, query) == {"p:m1": 1} and not b.connected
    for state in made:
        state.close()


def test_round_trips_stay_one_per_select_and_one_per_outcome_with_leases_and_samples(
    stores: list[RedisState], namespace: str
) -> None:
    class Counting(redis.Connection):
        sent = 0

        def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            Counting.sent += 1
            super().send_packed_command(command, check_health)

    state = make(stores, namespace, sync_interval=0, share_samples=True, connection_class=Counting)
    selector = ServiceSelector(state=state)
    rule = rs.make_rule(3, "least_busy")
    selector.record(selector.select(rule), latency_ms=5.0)
    selector.execute(rule, None, rs.ok)
    assert state.flush(2)
    # the lease publishes of its own are done: nothing more is due until the next change
    wait_for(lambda: state._replica.next_due(time.monotonic()) is None, 2)
    Counting.sent = 0
    for _ in range(10):
        result = selector.select(rule)
        selector.record(result, latency_ms=5.0, input_tokens=1, output_tokens=1)
    assert state.flush(2)
    assert Counting.sent == 20, Counting.sent


# -- the fleet's retry budget ------------------------------------------------------------------


def test_a_selector_on_redis_state_takes_the_fleet_budget(
    stores: list[RedisState], namespace: str
) -> None:
    state = make(stores, namespace)
    fleet = ServiceSelector(state=state).retry_budget
    assert type(fleet).__name__ == "FleetRetryBudget"
    assert (fleet.ratio, fleet.min_retries) == (0.2, 3)
    own = RetryBudget(0.1, 5)
    assert ServiceSelector(state=state, retry_budget=own).retry_budget is own
    assert ServiceSelector(state=state, retry_budget=False).retry_budget is None
    tuned = state.retry_budget(own)
    assert (tuned.ratio, tuned.min_retries) == (0.1, 5)


#: An all-failing fleet that never ejects its services: every call tries all three.
OUTAGE = RoutingConfig(
    providers=[{"name": "p", "no_key_required": True}],
    rules=[rs.make_rule(3)],
    health={"consecutive_error_threshold": 1000},
)


def _outage(selectors: list[ServiceSelector], threads_each: int, calls_each: int) -> Any:
    """Run an all-failing fleet: every attempt fails after 20 ms (each thread's first call
    is served after 100 ms: the replicas' leases meet meanwhile). Returns, at each retry's
    start, (retries in flight over the allowance by, retries in flight, calls in flight), and
    the calls' errors.

    The allowance is ``max(3, 20% of the calls in flight)``, the calls counted as the most
    in flight when any retry now in flight started, or in the 50 ms before: a retry taken
    under more calls stays in flight as they end, and a replica learns of another's calls
    when that one publishes its lease (within 10 ms with sync_interval 0) and this one next
    refreshes."""
    lock = threading.Lock()
    counts = {"calls": 0}
    recent: deque[tuple[float, int]] = deque()  # (when, calls in flight) of the last 50 ms
    active: dict[int, int] = {}  # the retries in flight: the calls counted at their start
    moments: list[tuple[float, int, int]] = []
    local = threading.local()
    rule = OUTAGE.rules[0]
    errors: list[BaseException] = []

    def seen_calls(now: float) -> int:
        while recent and recent[0][0] < now - 0.05:
            recent.popleft()
        return max([counts["calls"], *(c for _, c in recent)])

    def failing(service: Any, provider: object) -> dict[str, Any]:
        if local.warming:
            time.sleep(0.1)
            return rs.ok(service, provider)
        retry = local.attempts > 0
        local.attempts += 1
        token = object()
        if retry:
            with lock:
                active[id(token)] = seen_calls(time.monotonic())
                calls = max(active.values())
                moments.append((len(active) - max(3, 0.2 * calls), len(active), calls))
        try:
            time.sleep(0.02)
            raise FakeAPIError(500)
        finally:
            if retry:
                with lock:
                    del active[id(token)]

    def worker(selector: ServiceSelector) -> None:
        local.warming = True
        selector.execute(rule, None, failing)
        local.warming = False
        for _ in range(calls_each):
            local.attempts = 0
            with lock:
                counts["calls"] += 1
                recent.append((time.monotonic(), counts["calls"]))
            try:
                selector.execute(rule, None, failing)
            except BaseException as error:
                errors.append(error)
            finally:
                with lock:
                    recent.append((time.monotonic(), counts["calls"]))
                    counts["calls"] -= 1

    threads = [
        threading.Thread(target=worker, args=(selector,))
        for selector in selectors
        for _ in range(threads_each)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return moments, errors


def _second(moment: tuple[float, int, int]) -> int:
    return moment[1]


def test_the_fleet_budget_keeps_100_concurrent_calls_to_20_percent_retries(
    stores: list[RedisState], namespace: str
) -> None:
    # 100 threads in four stores of one process: a reply can wait for the GIL past 50 ms, and
    # a read that times out would (rightly) fall back to each replica's own budget
    replicas = [make(stores, namespace, sync_interval=0, socket_timeout=1.0) for _ in range(4)]
    selectors = [ServiceSelector.from_config(OUTAGE, state=state) for state in replicas]
    moments, errors = _outage(selectors, 25, 3)
    assert all(state.connected for state in replicas)
    assert len(errors) == 4 * 25 * 3
    assert all(isinstance(e, AllProvidersFailedError) for e in errors), errors[:3]
    # where 20% of the calls is more than the floor of 3 (and one), the shares of the ratio
    # rule: each replica's is exact. The last calls, as the threads finish, are the floor's
    # (see the floor test), with the replicas' views of who is busy lagging as they do.
    ratio = [m for m in moments if m[2] >= 20]
    floor = [m for m in moments if m[2] < 20]
    print(
        f"fleet budget: {len(moments)} retries; the worst {max(ratio)} of 20% of the calls;"
        f" the most in flight with fewer than 20 calls: {max(floor, default=None, key=_second)}"
    )
    # within 20% of the calls in flight, but for less than one retry per replica: each
    # replica's share is 20% of its own calls when it takes a retry, and as the calls end at
    # different times in different replicas those shares can add up to more than 20% of the
    # fleet's (the README's bound; measured: 0.4 to 1 over with the machine loaded; exact
    # needs a round trip per retry)
    assert ratio and max(ratio)[0] < len(replicas), max(ratio)


def test_the_fleet_budget_shares_the_floor_of_3_retries(
    stores: list[RedisState], namespace: str
) -> None:
    replicas = [make(stores, namespace, sync_interval=0, socket_timeout=1.0) for _ in range(4)]
    selectors = [ServiceSelector.from_config(OUTAGE, state=state) for state in replicas]
    moments, errors = _outage(selectors, 3, 15)
    over, retries, calls = max(moments)
    print(f"fleet budget: {len(moments)} retries, the most in flight {retries} with {calls} calls")
    assert all(isinstance(e, AllProvidersFailedError) for e in errors) and len(errors) == 180
    # 12 calls in flight: the floor (3) rules. Its parts are dealt among the busy replicas
    # (here one is left out: 4 replicas, 3 slots), and any may take a retry while the fleet
    # shows none in flight: when all fail at once, the one left out puts it one over the
    # floor, and views of who is busy lag as calls start and end (the README's bound: at
    # worst one per replica under the floor, here 3 + 3; measured 4 to 5 on a loaded
    # machine). Budgets of their own would allow 12 here.
    assert retries <= 3 + len(replicas) - 1, (over, retries, calls)


def test_budgets_of_their_own_would_let_the_fleet_retry_past_the_allowance(
    stores: list[RedisState], namespace: str
) -> None:
    replicas = [make(stores, namespace, sync_interval=0, socket_timeout=1.0) for _ in range(4)]
    selectors = [
        ServiceSelector.from_config(OUTAGE, state=state, retry_budget=RetryBudget())
        for state in replicas
    ]
    moments, errors = _outage(selectors, 3, 10)
    assert all(isinstance(e, AllProvidersFailedError) for e in errors)
    assert max(moments)[1] > 3 + 1, max(moments)  # what the fleet budget is there to stop


def test_while_redis_is_down_the_fleet_budget_is_this_replicas_own(namespace: str) -> None:
    made: list[RedisState] = []
    with rs.own_redis() as server:
        a = make(made, namespace, server.url, sync_interval=0)
        b = make(made, namespace, server.url, sync_interval=0)
        budget_a, budget_b = a.retry_budget(), b.retry_budget()
        budget_a.enter()
        budget_b.enter()
        assert all(budget_a.try_retry() for _ in range(3))  # the fleet's 3
        query = StateQuery(rule="r", services=(M0,), in_flight=True)
        wait_for(lambda: (b.read(query), budget_b.fleet_counts())[1] == (2, 3))
        assert not budget_b.try_retry()
        server.kill()
        b.read(query)
        assert not b.connected
        assert [budget_b.try_retry() for _ in range(4)] == [True, True, True, False]
    for state in made:
        state.close()


# -- sharing latency samples -----------------------------------------------------------------


@pytest.mark.parametrize("share", [True, False])
def test_shared_samples_reach_another_replicas_latency_tactic(
    stores: list[RedisState], namespace: str, share: bool
) -> None:
    a = make(stores, namespace, sync_interval=0, share_samples=share)
    b = make(stores, namespace, sync_interval=0, share_samples=share)
    rule = rs.make_rule(2, "latency_based", latency_threshold_ms=100)
    recorder, reader = ServiceSelector(state=a), ServiceSelector(state=b)
    result = recorder.select(rule)
    for _ in range(5):
        recorder.record(result, service=rule.services[0], latency_ms=900.0, ttft_ms=300.0)
        recorder.record(result, service=rule.services[1], latency_ms=20.0, output_tokens=40)
    assert a.flush(2)
    chosen = reader.select(rule)
    seen = b.read(reader.prepare(rule, None, None, None, None)[2]).stats_of(M0)
    if share:
        assert chosen.service.service_id == M1  # the fast one, by A's samples
        assert (seen.latency_sample_count, seen.avg_latency_ms, seen.avg_ttft_ms) == (
            5,
            900.0,
            300.0,
        )
        fast = b.read(reader.prepare(rule, None, None, None, None)[2]).stats_of(M1)
        assert fast.avg_token_speed == pytest.approx(40 * 1000 / 20.0)
    else:
        assert chosen.service.service_id == M0  # no samples of its own: the first
        assert seen.latency_sample_count == 0
    assert a.stats.get(M0).latency_sample_count == 5  # A's own figures, either way


def test_shared_samples_feed_the_latency_ewma_and_stay_bounded(
    stores: list[RedisState], namespace: str
) -> None:
    a = make(stores, namespace, sync_interval=0, share_samples=True, max_samples=4)
    b = make(stores, namespace, sync_interval=0, share_samples=True, max_samples=4)
    rule = rs.make_rule(2, "least_latency")
    recorder, reader = ServiceSelector(state=a), ServiceSelector(state=b, rng=random.Random(1))
    result = recorder.select(rule)
    for latency in (50.0, 60.0, 70.0, 80.0, 90.0, 100.0):
        recorder.record(result, service=rule.services[0], latency_ms=latency)
    recorder.record(result, service=rule.services[1], latency_ms=5.0)
    assert a.flush(2)
    query = reader.prepare(rule, None, None, None, None)[2]
    snapshot = b.read(query)
    assert set(snapshot.ewma) == {"p:m0", "p:m1"} and snapshot.ewma["p:m1"] == 5.0
    assert snapshot.ewma["p:m0"] >= 70.0  # peak-sensitive over the newest four
    client = redis.Redis.from_url(rs.URL)
    assert client.llen(f"llmroute:{namespace}:0:lat:p:m0") == 4
    client.close()
    picks = {reader.select(rule).service.service_id for _ in range(20)}
    assert picks == {M1}


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"lease_ttl": 0}, "lease_ttl"),
        ({"lease_ttl": float("nan")}, "lease_ttl"),
        ({"max_samples": 0}, "max_samples"),
        ({"write_timeout": 0.01}, "write_timeout"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        RedisState.from_url(rs.URL, **options)


def test_the_lease_outlives_a_few_sync_intervals_by_default() -> None:
    slow = RedisState.from_url(rs.URL, sync_interval=5)
    fast = RedisState.from_url(rs.URL)
    assert (slow.in_flight_counter().ttl, fast.in_flight_counter().ttl) == (20.0, 2.0)
    slow.close()
    fast.close()
