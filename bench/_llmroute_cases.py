"""The llmroute side of the benchmark: select, smart routing, execute, selector.execute,
affinity memory and concurrent selection."""

from __future__ import annotations

import gc
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from time import perf_counter, perf_counter_ns
from typing import Any

import _scenarios as sc
from _harness import Case, Figure, Sizes, time_calls

from llmroute import (
    HealthMonitor,
    Provider,
    RetryPolicy,
    Rule,
    SelectionResult,
    Service,
    ServiceID,
    ServiceSelector,
    aexecute,
    execute,
)
from llmroute.affinity import AffinityEntry, InMemoryAffinityStore
from llmroute.testing import FakeAPIError, FakeClock, RecordingStore

__all__ = [
    "SELECT_PLAN",
    "SIZES",
    "TACTICS",
    "VARIANT_TEXT",
    "affinity_memory",
    "execute_cases",
    "execute_overheads",
    "select_cases",
    "selector_execute_cases",
    "selector_overheads",
    "smart_cases",
    "store_calls",
    "thread_scaling",
]

#: The rule sizes (services per rule) every per-size case runs at.
SIZES = (2, 10, 100)
#: The tactics of the select matrix.
TACTICS = ("random", "round_robin", "adaptive")

Record = Callable[[str, str, Figure], None]


def _cycle_headers(count: int, prefix: str) -> Iterator[dict[str, str]]:
    """Distinct session headers, one per call (so every call is a new session)."""
    return iter(sc.session_headers(count, prefix))


#: The select matrix: (tactic, variant) pairs, each measured at every size of :data:`SIZES`.
SELECT_PLAN: tuple[tuple[str, str], ...] = (
    ("random", "bare"),
    ("random", "health"),
    ("random", "health+affinity"),
    ("random", "health+affinity:returning"),
    ("round_robin", "bare"),
    ("round_robin", "health+affinity"),
    ("adaptive", "bare"),
    ("adaptive", "health+affinity"),
    ("latency_based", "health+affinity"),
    ("lowest_cost", "bare"),
    ("price_weighted", "bare"),
)


def _select_fn(
    n: int, tactic: str, variant: str, sizes: Sizes, *, recording: bool = False
) -> tuple[Callable[[], SelectionResult], ServiceSelector]:
    """The timed call of one select case, and its selector (``recording``: on a
    :class:`RecordingStore`, to count the store calls; see :func:`store_calls`).

    Variants: ``bare`` (no health monitor, no affinity), ``health`` (a monitor, all healthy),
    ``health+affinity`` (both; every call a new session, so no pin is found and the tactic
    runs; ``select()`` writes nothing, so nothing is pinned either),
    ``health+affinity:returning`` (one returning session: an outcome recorded once at setup
    pinned it, its live pin answers every call), ``health:1-ejected`` (a 401 recorded at
    setup ejected one service of the rule, so health filters every call). The tactics that
    keep a current service (:data:`KEEPS_CURRENT`) get one outcome recorded at setup, from a
    session of its own: only an outcome makes a service current (``select()`` no longer
    does), and an app has one after its first request; without it every call would take the
    tactic's cold path, a scan of every service's figures. The setup checks that a call is
    what its variant says (:func:`_check_variant`).
    """
    health = variant != "bare"
    affinity = variant.startswith("health+affinity")
    sel = sc.selector(n, health=health, recording=recording)
    target = sc.rule(n, tactic, affinity=affinity)
    if tactic in ("adaptive", "latency_based"):
        sc.seed_stats(sel, target)
    request = sc.chat_request(2)
    select = sel.select
    if tactic in KEEPS_CURRENT:  # the outcome of an earlier request makes its service current
        sel.record(select(target, request, headers=sc.session_headers(1, "earlier")[0]))
    if variant == "health+affinity":
        count = 10 if recording else sizes.warmup + sizes.iterations + 10
        headers = _cycle_headers(count, f"{tactic}{n}")

        def fn() -> SelectionResult:
            return select(target, request, headers=next(headers))

    elif variant == "health+affinity:returning":
        one = sc.session_headers(1, "returning")[0]
        sel.record(select(target, request, headers=one))  # only an outcome pins a session

        def fn() -> SelectionResult:
            return select(target, request, headers=one)

    else:
        if variant == "health:1-ejected":
            sel.record(select(target, request), service=target.services[0], error=401)

        def fn() -> SelectionResult:
            return select(target, request)

    _check_variant(variant, target, fn())
    return fn, sel


#: The tactics of the select matrix that keep the rule's current service while it is good.
KEEPS_CURRENT = ("latency_based",)


def _check_variant(variant: str, target: Rule, result: SelectionResult) -> None:
    """Fail the run when a select case does not measure what its label says."""
    where = f"select case {target.uuid} {variant}"
    if variant == "health+affinity:returning":
        assert result.source == "affinity", f"{where}: the session's pin did not answer"
        return
    assert result.source == "load_balancer", f"{where}: chosen by {result.source}"
    if target.lb_tactic.type in KEEPS_CURRENT:
        kept = any(
            stage == "load_balancer" and "kept the current service" in template
            for stage, template, _ in result.trace
        )
        assert kept, f"{where}: the tactic did not keep the current service"
    if variant == "health+affinity":
        assert result.pin_key is not None, f"{where}: no session resolved"
        assert result.pinned is None, f"{where}: the new session had a pin"
    else:
        assert result.pin_key is None, f"{where}: affinity is on"
    ejected = {target.services[0].service_id} if variant == "health:1-ejected" else set()
    assert set(result.unhealthy) == ejected, f"{where}: unhealthy {set(result.unhealthy)}"


def store_calls(sel: ServiceSelector, request: Callable[[], object]) -> dict[str, int]:
    """The state-store reads and writes of one request on ``sel`` (built with
    ``recording=True``): ``request()``, then, when it returned a selection, ``sel.record()``
    of its success."""
    store = sel.state
    assert isinstance(store, RecordingStore), "count on a selector built with recording=True"
    store.reset()
    result = request()
    if isinstance(result, SelectionResult):
        sel.record(result)
    return {"reads": store.reads, "writes": store.writes}


def select_cases(sizes: Sizes) -> list[Case]:
    """``select()`` over rules of 2, 10 and 100 services, per tactic and variant, each with
    its store calls per request (one select and one record, counted on a twin selector)."""
    plan = [(n, tactic, variant) for n in SIZES for tactic, variant in SELECT_PLAN]
    plan.append((10, "random", "health:1-ejected"))
    cases = []
    for n, tactic, variant in plan:
        fn, _ = _select_fn(n, tactic, variant, sizes)
        counted, counting = _select_fn(n, tactic, variant, sizes, recording=True)
        calls = store_calls(counting, counted)
        label = f"select() {tactic}, {n} services, {VARIANT_TEXT[variant]}"
        cases.append(Case(f"select/{tactic}/{n}/{variant}", label, sizes, fn=fn, store_calls=calls))
    return cases


#: How the table names each variant of the select matrix.
VARIANT_TEXT = {
    "bare": "no health, no affinity",
    "health": "health",
    "health+affinity": "health + affinity (new session)",
    "health+affinity:returning": "health + affinity (returning session)",
    "health:1-ejected": "health, 1 ejected",
}


def smart_cases(sizes: Sizes) -> list[Case]:
    """``select()`` on a rule with 20 smart-routing blocks x 2 ops, 2- and 50-message requests."""
    target = sc.smart_rule(20)
    sel = sc.selector(4, health=True)
    counting = sc.selector(4, health=True, recording=True)
    cases = []
    for messages in (2, 50):
        request = sc.chat_request(messages)
        result = sel.select(target, request)
        assert result.matched_smart_rule_index == -1, "no block should match the bench request"
        cases.append(
            Case(
                f"smart/20x2/{messages}msg",
                f"select() smart routing 20 blocks x 2 ops, {messages} messages",
                sizes,
                fn=lambda request=request: sel.select(target, request),
                store_calls=store_calls(
                    counting, lambda request=request: counting.select(target, request)
                ),
            )
        )
    return cases


def _noop(provider: object) -> str:
    """The provider call of the execute cases: does nothing."""
    return "ok"


async def _anoop(provider: object) -> str:
    """The async provider call: does nothing."""
    return "ok"


def execute_cases(sizes: Sizes) -> list[Case]:
    """``execute()`` / ``aexecute()`` over two providers with a health monitor as cooldown
    tracker, and the direct calls they wrap (see :func:`execute_overheads`)."""
    pair = sc.providers(2)
    first, second = pair
    # One health monitor per case, so no case depends on what another did to a monitor: the
    # succeeding cases' providers have no health record (the common, all-healthy state);
    # the failing ones' monitor records every error but never ejects (so each call fails
    # exactly once).
    health = HealthMonitor()
    ahealth = HealthMonitor()
    rhealth = HealthMonitor()
    policy = RetryPolicy()
    failing_health = sc.tolerant_health()
    afailing_health = sc.tolerant_health()
    error = FakeAPIError(503)

    def fail_first(provider: Provider) -> str:
        if provider is first:
            raise error
        return "ok"

    async def afail_first(provider: Provider) -> str:
        return fail_first(provider)

    # The direct baselines use try/except: contextlib.suppress would slow the baseline and
    # so flatter execute()'s overhead.
    def direct_fail_once() -> None:
        try:  # noqa: SIM105
            fail_first(first)
        except FakeAPIError:
            pass
        fail_first(second)

    async def adirect_fail_once() -> None:
        try:  # noqa: SIM105
            await afail_first(first)
        except FakeAPIError:
            pass
        await afail_first(second)

    return [
        Case("execute/direct", "no-op provider fn called directly", sizes, fn=lambda: _noop(first)),
        Case(
            "execute/sync/first_ok",
            "execute() 2 providers, first succeeds",
            sizes,
            fn=lambda: execute(pair, _noop, cooldown=health),
        ),
        Case(
            "execute/sync/first_ok_retry",
            "execute() 2 providers, first succeeds, retry=RetryPolicy()",
            sizes,
            fn=lambda: execute(pair, _noop, cooldown=rhealth, retry=policy),
        ),
        Case(
            "execute/direct_fail_once",
            "direct: fn raises (caught), then fn succeeds",
            sizes,
            fn=direct_fail_once,
        ),
        Case(
            "execute/sync/first_fails_once",
            "execute() 2 providers, first fails once",
            sizes,
            fn=lambda: execute(pair, fail_first, cooldown=failing_health),
        ),
        Case(
            "aexecute/direct",
            "await no-op provider fn directly",
            sizes,
            afn=lambda: _anoop(first),
        ),
        Case(
            "aexecute/async/first_ok",
            "aexecute() 2 providers, first succeeds",
            sizes,
            afn=lambda: aexecute(pair, _anoop, cooldown=ahealth),
        ),
        Case(
            "aexecute/direct_fail_once",
            "direct: await fn raises (caught), then succeeds",
            sizes,
            afn=adirect_fail_once,
        ),
        Case(
            "aexecute/async/first_fails_once",
            "aexecute() 2 providers, first fails once",
            sizes,
            afn=lambda: aexecute(pair, afail_first, cooldown=afailing_health),
        ),
    ]


def _overhead(figures: dict[str, Figure], wrapped: str, direct: str) -> float:
    """The median of ``wrapped`` minus the median of ``direct``, in microseconds."""
    return (figures[wrapped].median_ns - figures[direct].median_ns) / 1000


def execute_overheads(figures: dict[str, Figure]) -> dict[str, float]:
    """The overheads (us) of the execute cases: each wrapped call's median minus the median
    of the direct call(s) it wraps."""
    return {
        "execute_sync_first_ok": _overhead(figures, "execute/sync/first_ok", "execute/direct"),
        "execute_sync_first_ok_retry": _overhead(
            figures, "execute/sync/first_ok_retry", "execute/direct"
        ),
        "execute_sync_first_fails_once": _overhead(
            figures, "execute/sync/first_fails_once", "execute/direct_fail_once"
        ),
        "execute_async_first_ok": _overhead(figures, "aexecute/async/first_ok", "aexecute/direct"),
        "execute_async_first_fails_once": _overhead(
            figures, "aexecute/async/first_fails_once", "aexecute/direct_fail_once"
        ),
    }


def selector_execute_cases(sizes: Sizes) -> list[Case]:
    """``selector.execute`` end to end (select + call + record) with a no-op provider that
    returns a small completion with usage, per rule size; health on, affinity off."""
    response = sc.usage_response()

    def fn(service: Service, provider: Provider | None) -> dict[str, Any]:
        return response

    request = sc.chat_request(2)
    some = Service(provider="p0", model="model-0")
    cases = [
        Case(
            "selector_execute/direct",
            "no-op provider fn(service, provider) directly",
            sizes,
            fn=lambda: fn(some, None),
        )
    ]
    for n in SIZES:
        sel = sc.selector(n, health=True)
        counting = sc.selector(n, health=True, recording=True)
        target = sc.rule(n, "random", affinity=False)
        cases.append(
            Case(
                f"selector_execute/random/{n}",
                f"selector.execute() random, {n} services, health",
                sizes,
                fn=lambda sel=sel, target=target: sel.execute(target, request, fn),
                store_calls=store_calls(
                    counting, lambda sel=counting, target=target: sel.execute(target, request, fn)
                ),
            )
        )
    return cases


def selector_overheads(figures: dict[str, Figure]) -> dict[int, float]:
    """The overhead (us) of ``selector.execute`` over the direct provider call, per size."""
    return {
        n: _overhead(figures, f"selector_execute/random/{n}", "selector_execute/direct")
        for n in SIZES
    }


def affinity_memory(sessions: int, sizes: Sizes, record: Record) -> dict[str, Any]:
    """Bytes per session of an :class:`InMemoryAffinityStore` holding ``sessions`` locks
    (tracemalloc: memory still allocated after filling it, over the session count), and
    ``count_by_service`` / ``get`` timing at that size."""
    clock = FakeClock()
    store = InMemoryAffinityStore(max_entries=sessions, clock=clock)
    services = [ServiceID(f"p{i}", f"model-{i}") for i in range(10)]
    # The callers' session keys exist before the store sees them (and are dropped after):
    # made up front, outside the trace, so only what the store keeps is counted.
    keys = ["hdr:" + sc.session_value(i) for i in range(sessions)]
    start = clock()
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    started = perf_counter()
    set_lock = store.set
    for i, key in enumerate(keys):
        now = start + i * 1e-6  # a lock taken each microsecond: every entry has its own times
        set_lock("bench-rule", key, AffinityEntry(services[i % 10], "", now, now + sc.SESSION_TTL))
    fill_seconds = perf_counter() - started
    after, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    key_length = len(keys[0])
    del keys
    gc.collect()
    assert len(store) == sessions
    per_session = (after - before) / sessions
    target = services[3]
    count = time_calls(lambda: store.count_by_service(target), sizes)
    record(
        "affinity/count_by_service",
        f"count_by_service() at {sessions:,} sessions",
        count,
    )
    probe = "hdr:" + sc.session_value(sessions // 2)
    get = time_calls(lambda: store.get("bench-rule", probe), sizes)
    record("affinity/get", f"get() at {sessions:,} sessions", get)
    return {
        "sessions": sessions,
        "bytes_per_session": round(per_session, 1),
        "total_mib": round((after - before) / 2**20, 1),
        "session_key_chars": key_length,
        "fill_seconds_with_tracemalloc": round(fill_seconds, 2),
        "count_by_service_result": store.count_by_service(target),
    }


def thread_scaling(calls: int) -> dict[str, Any]:
    """Throughput of 4 threads selecting concurrently through one shared selector, relative
    to one thread doing the same per-thread work (10 services, random, health + affinity,
    a new session per call)."""
    sel = sc.selector(10, health=True)
    target = sc.rule(10, "random", affinity=True)
    request = sc.chat_request(2)

    def worker(headers: list[dict[str, str]], barrier: threading.Barrier) -> None:
        select = sel.select
        barrier.wait()
        for h in headers:
            select(target, request, headers=h)

    def run(threads: int, tag: str) -> float:
        batches = [sc.session_headers(calls, f"{tag}{t}x") for t in range(threads)]
        barrier = threading.Barrier(threads + 1)
        pool = [
            threading.Thread(target=worker, args=(batch, barrier), daemon=True) for batch in batches
        ]
        for thread in pool:
            thread.start()
        gc.collect()
        start = perf_counter_ns()
        barrier.wait()
        for thread in pool:
            thread.join()
        return (perf_counter_ns() - start) / 1e9

    run(1, "warm")
    one = run(1, "a")
    four = run(4, "b")
    per_second_one = calls / one
    per_second_four = 4 * calls / four
    return {
        "calls_per_thread": calls,
        "one_thread_per_second": round(per_second_one),
        "four_threads_per_second": round(per_second_four),
        "relative_throughput": round(per_second_four / per_second_one, 2),
    }
