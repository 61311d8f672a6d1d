"""The state core: one read and one write per select + outcome, select() without side effects,
async reads that yield, probes off the read path, and ejections that hold under concurrency."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import pytest

from llmroute import HealthConfig, HealthMonitor, InMemoryState, Rule, Service, ServiceSelector
from llmroute.config import TACTIC_PARAMS
from llmroute.testing import FakeClock, RecordingStore, capture_logs

TACTICS = sorted(TACTIC_PARAMS)


def make_rule(n: int, tactic: str, affinity: int = 0) -> Rule:
    return Rule(
        uuid="r",
        # under the tier tactic, the services alternate between tiers 0 and 1
        services=tuple(
            Service(provider="p", model=f"m{i}", tier=i % 2 if tactic == "tier" else 0)
            for i in range(n)
        ),
        lb_tactic={"type": tactic},
        session_affinity=affinity,
    )


def chat(user: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "x", "messages": [{"role": "user", "content": "hi"}]}
    if user is not None:
        body["user"] = user
    return body


def setup(
    n: int, tactic: str, session: str, unhealthy: bool
) -> tuple[ServiceSelector, RecordingStore, Rule, dict[str, Any]]:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    store = RecordingStore(InMemoryState(clock=clock, health=health))
    selector = ServiceSelector(state=store, clock=clock, rng=random.Random(1))
    rule = make_rule(n, tactic, affinity=0 if session == "none" else 600)
    body = chat(None if session == "none" else "alice")
    if unhealthy:
        health.report_error("p:m0", 500)
    if session == "returning":
        selector.record(selector.select(rule, body), input_tokens=5, output_tokens=5)
    store.reset()
    return selector, store, rule, body


@pytest.mark.parametrize("unhealthy", [False, True], ids=["healthy", "one-unhealthy"])
@pytest.mark.parametrize("session", ["none", "new", "returning"])
@pytest.mark.parametrize("n", [2, 10, 100])
@pytest.mark.parametrize("tactic", TACTICS)
def test_one_read_and_one_write_per_select_and_outcome(
    tactic: str, n: int, session: str, unhealthy: bool
) -> None:
    selector, store, rule, body = setup(n, tactic, session, unhealthy)
    result = selector.select(rule, body)
    assert (store.reads, store.writes) == (1, 0)
    selector.record(result, input_tokens=10, output_tokens=3, latency_ms=20.0)
    assert (store.reads, store.writes) == (1, 1)

    store.reset()

    async def run() -> None:
        result = await selector.aselect(rule, body)
        await selector.arecord(result, error=500)

    asyncio.run(run())
    assert (store.reads, store.writes) == (1, 1)


@pytest.mark.parametrize("n", [2, 10, 100])
@pytest.mark.parametrize("tactic", TACTICS)
def test_a_served_execute_is_one_read_and_one_write(tactic: str, n: int) -> None:
    selector, store, rule, body = setup(n, tactic, "new", False)
    selector.execute(rule, body, lambda service, provider: {"usage": {"prompt_tokens": 3}})
    assert (store.reads, store.writes) == (1, 1)
    store.reset()

    async def call(service: Service, provider: Any) -> str:
        return "ok"

    asyncio.run(selector.aexecute(rule, body, call))
    assert (store.reads, store.writes) == (1, 1)


@pytest.mark.parametrize("tactic", TACTICS)
def test_select_twice_for_a_new_session_gives_the_same_service_and_writes_nothing(
    tactic: str,
) -> None:
    selector, store, rule, body = setup(10, tactic, "new", False)
    before = store.inner.affinity.counts(), store.inner.tactics.peek_turn("r")
    first = selector.select(rule, body)
    second = selector.select(rule, body)
    assert store.writes == 0
    assert first.service == second.service  # a new session draws from its own hash
    assert (store.inner.affinity.counts(), store.inner.tactics.peek_turn("r")) == before


def test_select_without_an_outcome_pins_nothing_and_the_outcome_pins_the_server() -> None:
    selector, store, rule, body = setup(10, "random", "new", False)
    result = selector.select(rule, body)
    assert len(store.inner.affinity) == 0
    selector.record(result, input_tokens=1)
    again = selector.select(rule, body)
    assert (again.source, again.service) == ("affinity", result.service)


def test_a_thousand_concurrent_aselects_over_a_yielding_store_complete_without_slow_callbacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RecordingStore(yield_on_read=True)
    selector = ServiceSelector(state=store, rng=random.Random(2))
    rule = make_rule(10, "round_robin", affinity=600)

    async def run() -> list[Any]:
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.05
        tasks: list[asyncio.Future[Any]] = []
        for i in range(1000):  # created in batches: debug mode makes creating a task slow
            tasks.append(asyncio.ensure_future(selector.aselect(rule, chat(f"user-{i}"))))
            if i % 20 == 19:
                await asyncio.sleep(0)
        return [await task for task in tasks]

    with caplog.at_level("WARNING", logger="asyncio"):
        results = asyncio.run(run(), debug=True)
    assert len(results) == 1000 and store.reads == 1000
    # Slow steps of the selections themselves (the harness task that creates them is not ours).
    slow = [r.getMessage() for r in caplog.records if "Executing" in r.getMessage()]
    assert not [text for text in slow if "ServiceSelector.aselect" in text]


class _SlowProbe:
    """A probe that holds until released (a fake 2 s probe: it blocks on an event)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, service_id: str) -> bool:
        with self.lock:
            self.calls += 1
        self.entered.set()
        self.release.wait(timeout=10)
        return True


def probing_selector(probe: _SlowProbe) -> tuple[ServiceSelector, FakeClock, Rule]:
    clock = FakeClock()
    config = HealthConfig(consecutive_error_threshold=1, probe_enabled=True)
    health = HealthMonitor(config, clock=clock, probe=probe)
    selector = ServiceSelector(health=health, clock=clock, probe=probe, rng=random.Random(3))
    rule = make_rule(2, "round_robin")
    health.report_error("p:m0", 500)
    clock.advance(60)  # the probe is due
    return selector, clock, rule


def test_a_slow_probe_delays_no_selection_and_the_service_is_routed_around() -> None:
    probe = _SlowProbe()
    selector, _, rule = probing_selector(probe)
    started = time.perf_counter()
    models = {selector.select(rule).service.model for _ in range(20)}
    elapsed = time.perf_counter() - started
    assert probe.entered.wait(timeout=10)
    assert models == {"m1"}
    assert elapsed < 1.0  # the probe blocks until released; no selection waited for it
    probe.release.set()
    selector.join_probes(timeout=10)


def test_sixteen_threads_reading_a_service_due_for_a_probe_start_exactly_one() -> None:
    probe = _SlowProbe()
    selector, _, rule = probing_selector(probe)
    barrier = threading.Barrier(16)

    def work() -> None:
        barrier.wait()
        selector.select(rule)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert probe.entered.wait(timeout=10)
    assert probe.calls == 1
    probe.release.set()
    selector.join_probes(timeout=10)


def test_a_stats_store_that_raises_on_success_loses_no_response() -> None:
    class BrokenStats(InMemoryState):
        def write(self, outcome: Any) -> None:
            raise OverflowError("the stats store broke")

    selector = ServiceSelector(state=BrokenStats(), rng=random.Random(4))
    with capture_logs("llmroute") as records:
        result = selector.execute(make_rule(2, "random"), None, lambda s, p: "served")
    assert result.response == "served"
    errors = [r for r in records if r["levelname"] == "ERROR"]
    assert len(errors) == 1


def test_a_success_read_before_an_ejection_does_not_end_it() -> None:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=2), clock=clock)
    selector = ServiceSelector(health=health, clock=clock)
    rule = make_rule(1, "random")
    in_flight = [selector.select(rule) for _ in range(16)]  # all read while m0 was healthy
    selector.record(in_flight[0], error=500)
    selector.record(in_flight[1], error=500)  # the second error in a row ejects
    assert not health.is_healthy("p:m0")
    for result in in_flight[2:]:
        selector.record(result, input_tokens=1)  # successes of calls started before
    assert not health.is_healthy("p:m0")
    last_resort = selector.select(rule)  # read after the ejection: its success ends it
    selector.record(last_resort, input_tokens=1)
    assert health.is_healthy("p:m0")


def test_an_ejection_holds_under_concurrency_against_a_service_failing_30_percent() -> None:
    clock = FakeClock()  # never advanced: no recovery time passes during the test
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=2), clock=clock)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(5))
    services = (Service(provider="flaky", model="m0"), Service(provider="flaky", model="m1"))
    rule = Rule(uuid="flaky", services=services, lb_tactic={"type": "round_robin"})
    rng = random.Random(6)
    rng_lock = threading.Lock()
    failures: list[BaseException] = []

    def call(service: Service, provider: Any) -> str:
        with rng_lock:
            fails = service.model == "m0" and rng.random() < 0.3
        if fails:
            raise ConnectionError("flaky")
        return "ok"

    def work() -> None:
        try:
            for _ in range(50):
                selector.execute(rule, None, call)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    with capture_logs("llmroute.health") as records:
        threads = [threading.Thread(target=work) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    events = [  # this test's service only: probe threads of other tests may still log
        r["event"]
        for r in records
        if r.get("event") in ("ejected", "recovered") and r.get("service_id") == "flaky:m0"
    ]
    assert "ejected" in events
    assert events[events.index("ejected") :] == ["ejected"]  # once ejected, it stays ejected


def test_an_async_probe_runs_as_a_task_under_aselect_and_readmits_the_service() -> None:
    clock = FakeClock()
    calls: list[str] = []

    async def probe(service_id: str) -> bool:
        calls.append(service_id)
        return True

    config = HealthConfig(consecutive_error_threshold=1, probe_enabled=True)
    health = HealthMonitor(config, clock=clock, probe=probe)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(7))
    rule = make_rule(2, "round_robin")
    health.report_error("p:m0", 500)
    clock.advance(60)

    async def run() -> set[str]:
        first = await selector.aselect(rule)  # takes the lease, starts the task
        for _ in range(10):
            await asyncio.sleep(0)  # let the probe task run
        return {first.service.model}

    assert asyncio.run(run()) == {"m1"}
    assert calls == ["p:m0"]
    assert health.is_healthy("p:m0")


def test_an_async_probe_under_a_sync_select_runs_on_a_thread() -> None:
    clock = FakeClock()
    done = threading.Event()

    async def probe(service_id: str) -> bool:
        done.set()
        return False

    config = HealthConfig(consecutive_error_threshold=1, probe_enabled=True)
    health = HealthMonitor(config, clock=clock, probe=probe)
    selector = ServiceSelector(health=health, clock=clock)
    health.report_error("p:m0", 500)
    clock.advance(60)
    selector.select(make_rule(2, "random"))
    assert done.wait(timeout=10)


class _AsyncOnlyStore:
    """A store with only the async protocol, around the in-memory one."""

    def __init__(self, clock: Any = None) -> None:
        self.inner = InMemoryState(clock=clock)
        self.reads = 0
        self.writes = 0

    async def aread(self, query: Any) -> Any:
        self.reads += 1
        await asyncio.sleep(0)
        return self.inner.read(query)

    async def awrite(self, outcome: Any) -> None:
        self.writes += 1
        await asyncio.sleep(0)
        self.inner.write(outcome)


def test_an_async_only_store_serves_the_async_forms_and_refuses_the_sync_ones() -> None:
    store = _AsyncOnlyStore()
    selector = ServiceSelector(state=store)
    rule = make_rule(3, "round_robin", affinity=60)

    async def call(service: Service, provider: Any) -> str:
        return service.model

    async def run() -> str:
        result = await selector.aexecute(rule, chat("bob"), call)
        again = await selector.aselect(rule, chat("bob"))
        assert again.source == "affinity"
        return result.response

    served = asyncio.run(run())
    assert (store.reads, store.writes) == (2, 1)
    assert served == "m0"
    with pytest.raises(TypeError, match="aselect"):
        selector.select(rule, chat("bob"))


# --- failing stores, async-only stores, odd probes -------------------------------------------


def test_an_async_stream_over_an_async_only_store_writes_its_outcome_when_it_ends() -> None:
    store = _AsyncOnlyStore()
    selector = ServiceSelector(state=store)
    rule = make_rule(2, "random", affinity=60)

    async def chunks(service: Service, provider: Any) -> Any:
        for part in ("a", "b"):
            yield {"choices": [{"delta": {"content": part}}]}

    async def run() -> int:
        stream = await selector.aexecute_stream(rule, chat("carol"), chunks)
        return len([chunk async for chunk in stream])

    assert asyncio.run(run()) == 2
    assert (store.reads, store.writes) == (1, 1)
    assert len(store.inner.affinity) == 1  # the session is pinned to the service that streamed


def test_a_failing_async_write_loses_no_response_and_logs_one_error() -> None:
    class BrokenWrites(_AsyncOnlyStore):
        async def awrite(self, outcome: Any) -> None:
            raise OverflowError("the store broke")

    selector = ServiceSelector(state=BrokenWrites())

    async def call(service: Service, provider: Any) -> str:
        return "served"

    with capture_logs("llmroute") as records:
        result = asyncio.run(selector.aexecute(make_rule(2, "random"), None, call))
    assert result.response == "served"
    assert [r["event"] for r in records if r["levelname"] == "ERROR"] == ["state_write_failed"]


def test_a_failing_read_fails_open_and_logs_one_error() -> None:
    class BrokenReads(InMemoryState):
        def read(self, query: Any) -> Any:
            raise ConnectionError("the store is unreachable")

    selector = ServiceSelector(state=BrokenReads(), rng=random.Random(8))
    with capture_logs("llmroute") as records:
        result = selector.select(make_rule(3, "round_robin"), chat())
    assert result.service.model in {"m0", "m1", "m2"}
    assert [r["event"] for r in records if r["levelname"] == "ERROR"] == ["state_read_failed"]


def test_a_sync_probe_answers_an_async_only_store_from_its_thread() -> None:
    answered = threading.Event()

    def probe(service_id: str) -> bool:
        answered.set()
        return True

    clock = FakeClock()
    store = _AsyncOnlyStore(clock)
    for _ in range(3):
        store.inner.health.report_error("p:m0", 500)
    selector = ServiceSelector(state=store, probe=probe, clock=clock)  # a probe turns probing on
    clock.advance(60)
    asyncio.run(selector.aselect(make_rule(2, "random")))
    selector.join_probes(timeout=10)
    assert answered.is_set()
    assert store.inner.health.get_health("p:m0").healthy  # written through asyncio.run


def test_a_probe_object_with_an_async_call_is_awaited() -> None:
    class Probe:
        def __init__(self) -> None:
            self.calls = 0

        async def __call__(self, service_id: str) -> bool:
            self.calls += 1
            return False

    probe = Probe()
    clock = FakeClock()
    config = HealthConfig(consecutive_error_threshold=1, probe_enabled=True)
    health = HealthMonitor(config, clock=clock, probe=probe)
    health.report_error("p:m0", 500)
    clock.advance(60)
    assert not health.is_healthy("p:m0")
    health.join_probes(timeout=10)
    assert probe.calls == 1
    assert not health.is_healthy("p:m0")  # the probe said no: still ejected, re-armed


def test_a_failure_read_before_an_ejection_does_not_re_arm_it() -> None:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(health=health, clock=clock)
    rule = make_rule(1, "random")
    early = [selector.select(rule) for _ in range(3)]  # read while healthy
    selector.record(early[0], error=500)  # ejects for 60 s
    clock.advance(60)  # the recovery time passes
    selector.record(early[1], error=500)  # started before the ejection: moves nothing
    assert health.get_health("p:m0").total_ejections == 1
    assert health.is_healthy("p:m0")


def test_new_sessions_spread_by_weight_with_their_own_draws() -> None:
    rule = Rule(
        uuid="r",
        services=(
            Service(provider="p", model="heavy", weight=3),
            Service(provider="p", model="light", weight=1),
        ),
        lb_tactic={"type": "random"},
        session_affinity=60,
    )
    selector = ServiceSelector()
    picks = [selector.select(rule, chat(f"user-{i}")).service.model for i in range(4000)]
    assert 0.70 < picks.count("heavy") / len(picks) < 0.80
    again = [selector.select(rule, chat(f"user-{i}")).service.model for i in range(4000)]
    assert again == picks  # every session's answer is the same on every select()
