"""RedisState's cost per request, beside the in-memory store (the issue's Redis benchmark).

Run ``python bench/redis_state.py`` with a Redis on 127.0.0.1:6379 (or LLMROUTE_REDIS_URL;
the ``redis`` extra installed). It is apart from ``bench/run.py``, which runs offline behind a
network guard. It prints, for ``select()`` and ``selector.execute()`` on a 10-service random
rule with affinity (returning sessions): the median and p99 in microseconds with the
in-memory store, with ``RedisState`` and a fresh local view (``sync_interval`` 0.5 s), and
with ``sync_interval=0`` (a round trip on every read); the round trips per request (counted
by the store and by the server's ``INFO commandstats``); and the propagation of an ejection
from one process to three others (p50 / p99, ``sync_interval`` 0.5 s). Nothing is asserted.
With no Redis reachable it says so and exits 0.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

URL = os.environ.get("LLMROUTE_REDIS_URL", "redis://127.0.0.1:6379/0")
CALLS = 3000


def _rule() -> Any:
    from llmroute import Rule, Service

    services = tuple(Service(provider="p", model=f"m{i}") for i in range(10))
    return Rule(uuid="r", services=services, lb_tactic={"type": "random"}, session_affinity=600)


def _ok(service: Any, provider: Any) -> dict[str, Any]:
    return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}


def _time(fn: Callable[[], object], calls: int = CALLS) -> tuple[float, float]:
    for _ in range(200):
        fn()
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - started)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def _commands(client: Any) -> int:
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def measure(name: str, state: Any, client: Any) -> dict[str, Any]:
    """select() and execute() figures on one store, and its round trips per request."""
    from llmroute import ServiceSelector

    selector = ServiceSelector(state=state)
    rule = _rule()
    sessions = [f"u{i}" for i in range(50)]
    turn = iter(range(10**9))

    def select() -> object:
        return selector.select(rule, session_id=sessions[next(turn) % 50])

    def execute() -> object:
        return selector.execute(rule, None, _ok, session_id=sessions[next(turn) % 50])

    for session in sessions:  # returning sessions: each is pinned
        selector.execute(rule, None, _ok, session_id=session)
    figures: dict[str, Any] = {"select": _time(select), "execute": _time(execute)}
    flush = getattr(state, "flush", None)
    if flush is not None:
        flush(5)
        before, server_before = state.round_trips, _commands(client)
        for _ in range(200):
            select()
        reads = (state.round_trips - before) / 200
        before = state.round_trips
        for _ in range(200):
            execute()
        flush(5)
        figures["round_trips"] = (reads, (state.round_trips - before) / 200)
        figures["server_commands"] = (_commands(client) - server_before) / 400
    print(
        f"{name:<34} select p50 {figures['select'][0]:7.1f} us  p99 {figures['select'][1]:8.1f}"
        f" | execute p50 {figures['execute'][0]:7.1f} us  p99 {figures['execute'][1]:8.1f}"
        + (
            f" | round trips: select {figures['round_trips'][0]:.2f}, execute "
            f"{figures['round_trips'][1]:.2f}; Redis commands per request "
            f"{figures['server_commands']:.1f}"
            if "round_trips" in figures
            else ""
        )
    )
    return figures


def _watcher(namespace: str, index: int, go: Any, out: Any) -> None:
    from llmroute import Rule, Service, ServiceSelector
    from llmroute.redis import RedisState

    state = RedisState.from_url(URL, namespace=namespace)
    selector = ServiceSelector(state=state)
    rules = [Rule(uuid=f"r{k}", services=(Service(provider="p", model=f"k{k}"),)) for k in range(8)]
    queries = [selector.prepare(rule, None, None, None, None)[2] for rule in rules]
    for query in queries:
        state.read(query)
    seen = []
    for k, rule in enumerate(rules):
        go.wait(20)
        if index == 0:
            time.sleep(0.05 + 0.05 * k)
            result = selector.select(rule)
            for _ in range(3):
                selector.record(result, error=500)
            seen.append(time.time())
            state.flush(2)
            continue
        while state.read(queries[k]).healthy(rule.services[0].service_id):
            time.sleep(0.0005)
        seen.append(time.time())
    out.put((index, seen))


def propagation(namespace: str) -> tuple[float, float]:
    """p50 / p99 seconds from one process's third failure to three others seeing it."""
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Barrier(4), ctx.Queue()
    processes = [ctx.Process(target=_watcher, args=(namespace, i, go, out)) for i in range(4)]
    for process in processes:
        process.start()
    found = dict(out.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(10)
    delays = sorted(found[i][k] - found[0][k] for i in (1, 2, 3) for k in range(8))
    return statistics.median(delays), delays[int(0.99 * (len(delays) - 1))]


def main() -> int:
    """Run the cases and print the figures."""
    import redis

    from llmroute import InMemoryState
    from llmroute.redis import RedisState

    client = redis.Redis.from_url(URL, socket_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError:
        print(f"no Redis reachable at {URL}: nothing measured")
        return 0
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    try:
        memory = measure("InMemoryState", InMemoryState(), client)
        fresh = measure(
            "RedisState, fresh view (0.5 s)", RedisState.from_url(URL, namespace=namespace), client
        )
        measure(
            "RedisState, sync_interval=0",
            RedisState.from_url(URL, namespace=namespace + "-0", sync_interval=0),
            client,
        )
        ratio = fresh["select"][0] / memory["select"][0]
        print(f"fresh-view select() over in-memory select(): {ratio:.2f}x (target <= 1.5x)")
        p50, p99 = propagation(namespace + "-p")
        print(
            f"propagation to 3 other processes, sync_interval 0.5 s: p50 {p50 * 1000:.0f} ms,"
            f" p99 {p99 * 1000:.0f} ms (target p99 <= 550 ms)"
        )
    finally:
        for pattern in (namespace, namespace + "-0", namespace + "-p"):
            keys = list(client.scan_iter(match=f"llmroute:{pattern}:*"))
            if keys:
                client.delete(*keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
