"""RedisState on a real Redis: the state protocol, shared health, probe leases, pins, turns,
config generations and failing open. Skipped when no Redis is reachable, unless
LLMROUTE_REQUIRE_REDIS=1 (CI), which makes that a failure."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import pytest
import redis
import redis_support as rs

from llmroute import HealthConfig, RoutingConfig, ServiceSelector
from llmroute.config import ServiceID
from llmroute.redis import RedisState
from llmroute.state import Outcome, StateQuery
from llmroute.testing import FakeAPIError, FakeClock, RecordingStore, capture_logs

rs.require_redis()

M0, M1 = ServiceID("p", "m0"), ServiceID("p", "m1")


def make(stores: list[RedisState], namespace: str, **options: Any) -> RedisState:
    state = rs.store(namespace, **options)
    stores.append(state)
    return state


def query(**fields: Any) -> StateQuery:
    return StateQuery(rule="r", services=(M0, M1), **fields)


def failure(selector: ServiceSelector, state: RedisState, count: int = 1) -> None:
    rule = rs.make_rule(2)
    result = selector.select(rule)
    for _ in range(count):
        selector.record(result, service=rule.services[0], error=FakeAPIError(500))
    assert state.flush(2)


class CountingConnection(redis.Connection):
    """Counts the packets sent: one per round trip (a pipeline is sent as one)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


# -- the protocol ---------------------------------------------------------------------------


@pytest.mark.parametrize("tactic", ["random", "round_robin", "capacity_based", "token_based"])
def test_one_read_one_write_and_one_round_trip_each_per_select_and_outcome(
    stores: list[RedisState], namespace: str, tactic: str
) -> None:
    state = make(stores, namespace, sync_interval=0, connection_class=CountingConnection)
    recording = RecordingStore(state)
    selector = ServiceSelector(state=recording, rng=random.Random(1))
    rule = rs.make_rule(3, tactic, affinity=600)
    body = {"model": "x", "messages": [{"role": "user", "content": "hi"}], "user": "alice"}
    selector.record(selector.select(rule, body), input_tokens=1, output_tokens=1)
    assert state.flush(2)
    recording.reset()
    CountingConnection.sent = 0
    result = selector.select(rule, body)
    assert (recording.reads, recording.writes, CountingConnection.sent) == (1, 0, 1)
    selector.record(result, input_tokens=10, output_tokens=3, latency_ms=20.0)
    assert state.flush(2)
    assert (recording.reads, recording.writes, CountingConnection.sent) == (1, 1, 2)


def test_a_fresh_view_answers_without_a_round_trip(
    stores: list[RedisState], namespace: str
) -> None:
    state = make(stores, namespace, sync_interval=5)
    selector = ServiceSelector(state=state)
    rule = rs.make_rule(3, affinity=600)
    selector.select(rule, session_id="alice")
    before = state.round_trips
    for _ in range(50):
        selector.select(rule, session_id="alice")
    assert state.round_trips == before


def test_async_reads_and_writes_share_the_state(stores: list[RedisState], namespace: str) -> None:
    writer = make(stores, namespace, sync_interval=0)
    reader = make(stores, namespace, sync_interval=0)

    async def run() -> None:
        selector = ServiceSelector(state=writer)
        rule = rs.make_rule(2)
        result = await selector.aselect(rule)
        for _ in range(3):
            await selector.arecord(result, service=rule.services[0], error=FakeAPIError(500))
        assert writer.flush(2)
        snapshot = await reader.aread(query())
        assert not snapshot.healthy(M0) and snapshot.healthy(M1)
        await reader.aclose()
        await writer.aclose()

    asyncio.run(run())
    asyncio.run(run())  # a second event loop gets its own connections


# -- shared health --------------------------------------------------------------------------


def test_an_ejection_reaches_another_store_within_its_sync_interval(
    stores: list[RedisState], namespace: str
) -> None:
    ejecting = make(stores, namespace)
    watching = make(stores, namespace, sync_interval=0.2)
    assert watching.read(query()).healthy(M0)
    failure(ServiceSelector(state=ejecting), ejecting, 3)
    assert not ejecting.read(query()).healthy(M0)  # its own outcome, at once
    started = time.monotonic()
    while watching.read(query()).healthy(M0):
        assert time.monotonic() - started < 0.2 + 0.1
        time.sleep(0.005)


def test_consecutive_errors_count_across_the_fleet(
    stores: list[RedisState], namespace: str
) -> None:
    fleet = [make(stores, namespace, sync_interval=0) for _ in range(3)]
    for state in fleet:
        assert state.read(query()).healthy(M0)
        failure(ServiceSelector(state=state), state)
    assert all(not state.read(query()).healthy(M0) for state in fleet)


def test_a_success_elsewhere_ends_the_ejection_for_all(
    stores: list[RedisState], namespace: str
) -> None:
    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    failure(ServiceSelector(state=a), a, 3)
    snapshot = b.read(query())
    assert not snapshot.healthy(M0)
    rule = rs.make_rule(2)
    b.write(Outcome(rule="r", service=rule.services[0], kind="success", read_seq=snapshot.seq))
    assert b.flush(2)
    assert a.read(query()).healthy(M0)


def test_one_probe_lease_among_many_readers(stores: list[RedisState], namespace: str) -> None:
    health = HealthConfig(probe_enabled=True, recovery_timeout_seconds=1)
    clock = FakeClock(time.time())
    fleet = [make(stores, namespace, sync_interval=0, clock=clock) for _ in range(8)]
    rule = rs.make_rule(2)
    fail = FakeAPIError(500)
    for _ in range(3):
        fleet[0].write(Outcome("r", rule.services[0], "failure", health, failure=_failure(fail)))
    assert fleet[0].flush(2)
    clock.advance(2.0)  # the recovery time has passed: a probe is due
    won: list[Any] = []
    barrier = threading.Barrier(len(fleet))

    def read(state: RedisState) -> None:
        barrier.wait()
        for _ in range(10):
            won.extend(state.read(query(lease_probes=True, health=health)).probes)

    threads = [threading.Thread(target=read, args=(state,)) for state in fleet]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(won) == 1 and won[0][0] == M0


def _failure(error: BaseException) -> Any:
    from llmroute import classify_error

    return classify_error(error)


# -- pins and turns -------------------------------------------------------------------------


def test_a_new_session_is_pinned_by_the_first_writer(
    stores: list[RedisState], namespace: str
) -> None:
    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    rule = rs.make_rule(2, affinity=600)
    q = query(pin_keys=("alice",))
    assert a.read(q).pins == {} and b.read(q).pins == {}
    from llmroute.affinity import PinChange

    for state, service in ((a, rule.services[0]), (b, rule.services[1])):
        pin = PinChange("set", "alice", service.service_id, 600.0)
        state.write(Outcome("r", service, "success", pin=pin))
        assert state.flush(2)
    assert a.read(q).pins["alice"].service == M0
    assert b.read(q).pins["alice"].service == M0


def test_sessions_stick_to_one_service_across_two_stores(
    stores: list[RedisState], namespace: str
) -> None:
    selectors = [ServiceSelector(state=make(stores, namespace)) for _ in range(2)]
    rule = rs.make_rule(4, affinity=600)
    served: dict[str, set[str]] = {}
    for index in range(200):
        session = f"s{index % 20}"
        result = selectors[index % 2].execute(rule, None, rs.ok, session_id=session)
        served.setdefault(session, set()).add(result.service.service_id)
    assert all(len(services) == 1 for services in served.values())


def test_round_robin_turns_are_exact_across_two_stores(
    stores: list[RedisState], namespace: str
) -> None:
    a, b = make(stores, namespace), make(stores, namespace)
    turns: list[int] = []

    def take(state: RedisState) -> None:
        for _ in range(150):
            turns.append(state.read(query(take_turn=True)).turn)

    threads = [threading.Thread(target=take, args=(s,)) for s in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(turns) == list(range(300))


# -- generations ----------------------------------------------------------------------------


def config(threshold: int) -> RoutingConfig:
    return RoutingConfig(
        providers=[{"name": "p", "no_key_required": True}],
        rules=[rs.make_rule(2)],
        health={"consecutive_error_threshold": threshold},
    )


def test_a_reloaded_config_is_not_changed_by_outcomes_of_the_old_one(
    stores: list[RedisState], namespace: str
) -> None:
    old, new = config(3), config(2)
    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    selector = ServiceSelector.from_config(old, state=a)
    ServiceSelector.from_config(old, state=b)
    assert a.generation == b.generation != "0"
    result = selector.select("r")
    selector.update_config(new)  # late outcomes of the old config arrive after the reload
    for _ in range(3):
        selector.record(result, service=result.rule.services[0], error=500)
    assert a.flush(2)
    assert a.generation != b.generation
    assert a.read(query()).healthy(M0)
    assert b.read(query()).healthy(M0)
    current = selector.select("r")
    for _ in range(2):  # the new config's threshold
        selector.record(current, service=current.rule.services[0], error=500)
    assert a.flush(2)
    assert not a.read(query()).healthy(M0)
    assert b.read(query()).healthy(M0)  # the old generation's processes are not touched


# -- failing open ---------------------------------------------------------------------------


def test_a_dead_redis_fails_open_and_recovers(namespace: str) -> None:
    with rs.own_redis() as server:
        state = rs.store(namespace, server.url, sync_interval=0)
        selector = ServiceSelector(state=state)
        rule = rs.make_rule(3, affinity=600)
        failures: list[BaseException] = []
        waits: list[float] = []  # the Redis part of each request: its reads of the store
        killed = threading.Event()
        read = state.read

        def timed(query: StateQuery) -> Any:
            started = time.perf_counter()
            try:
                return read(query)
            finally:
                waits.append(time.perf_counter() - started)

        state.read = timed  # type: ignore[method-assign]

        def work(worker: int) -> None:
            for index in range(250):
                try:
                    selector.execute(rule, None, rs.ok, session_id=f"u{worker}-{index % 10}")
                except BaseException as error:
                    failures.append(error)
                if worker == 0 and index == 80:
                    server.kill()
                    killed.set()

        with capture_logs("llmroute.redis") as logs:
            threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            assert killed.is_set() and not state.connected
            server.start_on_same_port()
            deadline = time.monotonic() + 10
            while not state.connected:
                assert time.monotonic() < deadline
                selector.execute(rule, None, rs.ok)
                time.sleep(0.02)
            assert state.flush(5)
            _shared_state_works_again(state, namespace, server.url)
        state.close()
    ordered = sorted(waits)
    p99 = ordered[round(0.99 * (len(ordered) - 1))]
    print(
        f"{len(ordered)} reads, Redis killed after ~320 requests: p50 "
        f"{ordered[len(ordered) // 2] * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, "
        f"max {ordered[-1] * 1000:.2f} ms"
    )
    assert failures == []
    # a read waits at most about one socket timeout (0.05 s); the margins are for a loaded box
    assert p99 <= 0.05 + 0.03 and ordered[-1] <= 3 * 0.05 + 0.05, ordered[-5:]
    events = [r.get("event") for r in logs]
    assert events.count("redis_unreachable") == 1 and events.count("redis_reconnected") == 1
    warning = next(r for r in logs if r.get("event") == "redis_unreachable")
    assert warning["levelname"] == "WARNING"


def _shared_state_works_again(state: RedisState, namespace: str, url: str) -> None:
    """After the restart: what the store writes reaches another store, and back."""
    other = rs.store(namespace, url, sync_interval=0)
    try:
        assert other.read(query()).healthy(M0)
        failure(ServiceSelector(state=state), state, 3)
        assert not other.read(query()).healthy(M0)
        snapshot = other.read(query())
        rule = rs.make_rule(2)
        other.write(Outcome("r", rule.services[0], "success", read_seq=snapshot.seq))
        assert other.flush(2)
        assert state.read(query()).healthy(M0)
    finally:
        other.close()


def test_the_url_password_never_shows(namespace: str) -> None:
    state = RedisState.from_url("redis://:s3cret@127.0.0.1:1/0", namespace=namespace)
    assert "s3cret" not in repr(state)
    with capture_logs("llmroute.redis") as logs:
        state.read(query())
    assert logs and all("s3cret" not in r["message"] for r in logs)
    assert not state.connected
    state.close()


def test_an_outcome_redis_refuses_is_dropped_and_the_next_ones_go_through(
    stores: list[RedisState], namespace: str
) -> None:
    state = make(stores, namespace, sync_interval=0)
    client = redis.Redis.from_url(rs.URL)
    client.set(f"llmroute:{namespace}:0:use:p:m0", "not a hash")  # WRONGTYPE for the script
    rule = rs.make_rule(2)
    with capture_logs("llmroute.redis") as logs:
        state.write(Outcome("r", rule.services[0], "success"))
        failed = _failure(FakeAPIError(500))
        for _ in range(3):
            state.write(Outcome("r", rule.services[1], "failure", failure=failed))
        assert state.flush(2)
    client.close()
    assert [r["event"] for r in logs] == ["redis_write_refused"]
    assert state.connected and not state.read(query()).healthy(M1)


def test_usage_windows_and_live_session_counts_are_shared(
    stores: list[RedisState], namespace: str
) -> None:
    from llmroute import Usage
    from llmroute.affinity import PinChange

    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    service = rs.make_rule(2).services[0]
    for index, state in enumerate((a, b, a)):
        pin = PinChange("set", f"user{index}", M0, 600.0)
        usage = Usage(input_tokens=100, output_tokens=20, cached_tokens=50 * (index == 0))
        state.write(Outcome("r", service, "success", usage=usage, latency_ms=30.0, pin=pin))
        assert state.flush(2)
    for state in (a, b):
        snapshot = state.read(query(stats=True, sessions=True))
        figures = snapshot.stats_of(M0)
        assert (figures.window_request_count, figures.window_tokens_consumed) == (3, 360)
        assert (figures.window_cache_hits, figures.window_cache_misses) == (1, 2)
        assert snapshot.sessions == {M0: 3}
    assert a.read(query(stats=True)).stats_of(M0).latency_sample_count == 2  # its own samples
    assert b.read(query(stats=True)).stats_of(M0).latency_sample_count == 1


def test_async_reads_fail_open_when_redis_dies(namespace: str) -> None:
    with rs.own_redis() as server:
        state = rs.store(namespace, server.url, sync_interval=0)
        selector = ServiceSelector(state=state)
        rule = rs.make_rule(3)

        async def run() -> float:
            await selector.aselect(rule)
            assert state.connected
            server.kill()
            started = time.perf_counter()
            for _ in range(20):
                await selector.aselect(rule)
            elapsed = time.perf_counter() - started
            await state.aclose()
            return elapsed

        elapsed = asyncio.run(run())
        assert not state.connected and elapsed < 20 * 0.05
        state.close()


def test_a_probe_run_by_one_selector_readmits_the_service_for_all(
    stores: list[RedisState], namespace: str
) -> None:
    health = HealthConfig(probe_enabled=True, recovery_timeout_seconds=1)
    clock = FakeClock(time.time())
    a = make(stores, namespace, sync_interval=0, clock=clock)
    b = make(stores, namespace, sync_interval=0, clock=clock)
    rule = rs.make_rule(2)
    failed = _failure(FakeAPIError(500))
    probed: list[str] = []
    config = RoutingConfig(
        providers=[{"name": "p", "no_key_required": True}], rules=[rule], health=health
    )
    selector = ServiceSelector.from_config(
        config, state=b, probe=lambda sid: not probed.append(sid)
    )
    a.generation = b.generation  # the same config as b's selector
    for _ in range(3):
        b.write(Outcome("r", rule.services[0], "failure", health, failure=failed))
    assert b.flush(2)
    assert not a.read(query(health=health)).healthy(M0)
    clock.advance(2.0)  # the recovery time has passed: the next selection leases a probe
    selector.select("r")
    selector.select("r")
    selector.join_probes(5)
    assert b.flush(2)
    assert probed == ["p:m0"]
    assert a.read(query(health=health)).healthy(M0)


def test_a_fallback_pin_and_a_recent_readmission_are_shared(
    stores: list[RedisState], namespace: str
) -> None:
    from llmroute.affinity import PinChange

    a, b = make(stores, namespace, sync_interval=0), make(stores, namespace, sync_interval=0)
    service = rs.make_rule(2).services[1]
    pin = PinChange("set", "alice", M1, 600.0, fallback=True)
    a.write(Outcome("r", service, "success", pin=pin))
    failed = _failure(FakeAPIError(500))
    for _ in range(3):
        a.write(Outcome("r", service, "failure", failure=failed))
    assert a.flush(2)
    ejected = b.read(query())
    assert not ejected.healthy(M1) and ejected.healthy_since(M1) == float("inf")
    b.write(Outcome("r", service, "success", read_seq=ejected.seq))
    assert b.flush(2)
    snapshot = a.read(query(pin_keys=("alice",)))
    assert snapshot.pins["alice"].fallback is True
    assert snapshot.healthy(M1) and snapshot.recovered[M1] <= time.time()


def test_a_stalled_redis_never_blocks_the_event_loop(namespace: str) -> None:
    with rs.own_redis("--enable-debug-command", "local") as server:
        state = rs.store(namespace, server.url, sync_interval=0)
        stall = redis.Redis.from_url(server.url)
        sleeper = threading.Thread(target=stall.execute_command, args=("DEBUG", "SLEEP", "0.3"))

        async def run() -> tuple[float, int]:
            await state.aread(query())
            ticks = 0

            async def tick() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.002)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            await asyncio.sleep(0.01)
            sleeper.start()
            await asyncio.sleep(0.02)  # the server is asleep now
            before, started = ticks, time.perf_counter()
            await state.aread(query())
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.01)
            ticker.cancel()
            await state.aclose()
            return elapsed, ticks - before

        elapsed, ticks = asyncio.run(run())
        sleeper.join(2)
        assert not state.connected
        # the read waited one socket timeout (0.05 s; the margin is for a loaded box), and the
        # loop ticked meanwhile (every 2 ms: ~25 times idle)
        assert elapsed <= 0.05 + 0.05 and ticks >= 5, (elapsed, ticks)
        stall.close()
        state.close()
