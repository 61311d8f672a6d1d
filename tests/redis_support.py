"""Support for the tests on a real Redis: where it is, namespaces that clean up after
themselves, a redis-server of a test's own (started on a free port, stopped by its pid), and
the worker processes of the multi-process scenarios (importable by spawned children)."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis

from llmroute import HealthConfig, Rule, Service, ServiceSelector
from llmroute.redis import RedisState
from llmroute.state import StateQuery
from llmroute.testing import FakeAPIError

URL = os.environ.get("LLMROUTE_REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable(url: str = URL) -> bool:
    """Whether a Redis answers at ``url``."""
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def require_redis() -> None:
    """Skip the calling test module when no Redis answers at :data:`URL`, unless
    ``LLMROUTE_REQUIRE_REDIS=1`` (CI), which makes that a failure."""
    if reachable():
        return
    if os.environ.get("LLMROUTE_REQUIRE_REDIS") == "1":
        raise RuntimeError(f"LLMROUTE_REQUIRE_REDIS=1 but no Redis answers at {URL}")
    pytest.skip(
        f"no Redis reachable at {URL} (set LLMROUTE_REDIS_URL; CI sets "
        "LLMROUTE_REQUIRE_REDIS=1 to make this a failure)",
        allow_module_level=True,
    )


def new_namespace() -> str:
    """A namespace of a test's own."""
    return f"test-{uuid.uuid4().hex[:12]}"


def delete_namespace(namespace: str, url: str = URL) -> None:
    """Delete every key of ``namespace``."""
    client = redis.Redis.from_url(url, socket_timeout=1.0)
    try:
        keys = list(client.scan_iter(match=f"llmroute:{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass
    finally:
        client.close()


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OwnRedis:
    """A redis-server of the test's own on a free port, without persistence."""

    def __init__(self, *options: str) -> None:
        self.options = options
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait (at most 5 s) until it answers."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        command = [binary, "--port", str(self.port), "--save", "", "--appendonly", "no"]
        command += self.options
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 5
        while not reachable(self.url):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)

    def start_on_same_port(self) -> None:
        """Start the server again, on the port it had."""
        self.start()

    def kill(self) -> None:
        """Stop the server at once (SIGKILL, by its pid)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
            self.process = None


@contextmanager
def own_redis(*options: str) -> Iterator[OwnRedis]:
    """A running redis-server of the test's own (with ``options``), stopped at the end."""
    server = OwnRedis(*options)
    server.start()
    try:
        yield server
    finally:
        server.kill()


# -- the multi-process scenarios --------------------------------------------------------------


def make_rule(n: int, tactic: str = "random", affinity: int = 0, **params: Any) -> Rule:
    """Rule ``r`` over services ``p:m0`` .. ``p:m{n-1}``."""
    return Rule(
        uuid="r",
        services=tuple(Service(provider="p", model=f"m{i}") for i in range(n)),
        lb_tactic={"type": tactic, "params": params},
        session_affinity=affinity,
    )


def store(namespace: str, url: str = URL, **options: Any) -> RedisState:
    """A RedisState on the test's namespace."""
    return RedisState.from_url(url, namespace=namespace, **options)


def ok(service: Service, provider: object) -> dict[str, Any]:
    """A provider call that serves."""
    return {"usage": {"prompt_tokens": 10, "completion_tokens": 5}}


def run_fleet(target: Any, args: list[tuple[Any, ...]], timeout: float = 30) -> list[Any]:
    """Run ``target(go, *args[i])`` in one spawned process per entry; ``go`` is a barrier
    they pass together once set up. Returns their results in order."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    go = ctx.Barrier(len(args))
    processes = [
        ctx.Process(target=_child, args=(results, index, target, go, *entry))
        for index, entry in enumerate(args)
    ]
    for process in processes:
        process.start()
    found: dict[int, Any] = {}
    try:
        for _ in processes:
            index, value = results.get(timeout=timeout)
            found[index] = value
    finally:
        for process in processes:
            process.join(5)
            if process.is_alive():
                process.kill()
    errors = [v for v in found.values() if isinstance(v, str) and v.startswith("error:")]
    assert not errors, errors
    return [found[index] for index in range(len(args))]


def _child(results: Any, index: int, target: Any, go: Any, *args: Any) -> None:
    try:
        value = target(go, index, *args)
    except BaseException as error:  # reported to the parent
        value = f"error: {error!r}"
    results.put((index, value))


def sessions_worker(go: Any, index: int, namespace: str, work: list[int]) -> dict[str, list[str]]:
    """Serve one request of each session in ``work`` on a 4-service rule with affinity;
    returns which services served each session."""
    state = store(namespace)
    selector = ServiceSelector(state=state, rng=random.Random(os.getpid()))
    rule = make_rule(4, affinity=600)
    go.wait(20)
    served: dict[str, list[str]] = {}
    for session in work:
        result = selector.execute(rule, None, ok, session_id=f"s{session}")
        served.setdefault(f"s{session}", []).append(result.service.service_id)
        time.sleep(0.001)
    state.flush(2)
    return served


def propagation_worker(go: Any, index: int, namespace: str, rounds: int) -> list[float]:
    """Each round, worker 0 fails three calls on that round's service and reports when; the
    others read until it is unhealthy and report when they saw it (wall clock)."""
    state = store(namespace, sync_interval=0.5)
    selector = ServiceSelector(state=state)
    rules = [
        Rule(
            uuid=f"r{k}",
            services=(Service(provider="p", model=f"k{k}"), Service(provider="p", model="spare")),
        )
        for k in range(rounds)
    ]
    queries = [selector.prepare(rule, None, None, None, None)[2] for rule in rules]
    for query in queries:  # the views know every round's services
        state.read(query)
    times: list[float] = []
    for k, rule in enumerate(rules):
        go.wait(20)
        if index == 0:  # at a random moment of the readers' sync cycles
            time.sleep(random.random() * 0.5)
            result = selector.select(rule)
            for _ in range(3):
                selector.record(result, service=rule.services[0], error=FakeAPIError(500))
            times.append(time.time())
            state.flush(2)
            continue
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if not state.read(queries[k]).healthy(rule.services[0].service_id):
                break
            time.sleep(0.001)
        times.append(time.time())
    return times


def dead_provider_worker(go: Any, index: int, namespace: str, requests: int) -> int:
    """Send ``requests`` to a round-robin rule whose p:m0 always fails; returns its failed
    calls."""
    state = store(namespace, sync_interval=0.05)
    selector = ServiceSelector(state=state)
    rule = make_rule(2, "round_robin", request_threshold=1)
    failed = 0

    def call(service: Service, provider: object) -> dict[str, Any]:
        nonlocal failed
        if service.model == "m0":
            failed += 1
            raise FakeAPIError(500)
        return ok(service, provider)

    selector.select(rule)
    go.wait(20)
    for _ in range(requests):
        selector.execute(rule, None, call)
        time.sleep(0.01)
    state.flush(2)
    return failed


def probe_worker(go: Any, index: int, namespace: str, health: HealthConfig) -> int:
    """Read p:m0 (ejected, due for a probe) with leases on; returns the probe leases won."""
    state = store(namespace, sync_interval=0)
    rule = make_rule(2)
    query = StateQuery(rule="r", services=tuple(s.service_id for s in rule.services))
    query = query._replace(lease_probes=True, health=health)
    go.wait(20)
    won = 0
    for _ in range(20):
        won += len(state.read(query).probes)
        time.sleep(0.002)
    return won


def round_robin_worker(go: Any, index: int, namespace: str, picks: int) -> list[str]:
    """Make ``picks`` served picks on a round-robin rule with threshold 1 over 3 services."""
    state = store(namespace)
    selector = ServiceSelector(state=state)
    rule = make_rule(3, "round_robin", request_threshold=1)
    go.wait(20)
    served = [selector.execute(rule, None, ok).service.service_id for _ in range(picks)]
    state.flush(2)
    return served


def holding_worker(namespace: str, calls: int, lease_ttl: float, ready: Any) -> None:
    """Hold ``calls`` calls in flight to p:m0 (they never return), say so on ``ready``, and
    wait to be killed."""
    import threading

    state = store(namespace, sync_interval=0, lease_ttl=lease_ttl)
    selector = ServiceSelector(state=state)
    rule = make_rule(1, "least_busy")
    block = threading.Event()

    def hold(service: Service, provider: object) -> dict[str, Any]:
        block.wait()
        return ok(service, provider)

    for _ in range(calls):
        threading.Thread(target=selector.execute, args=(rule, None, hold), daemon=True).start()
    deadline = time.monotonic() + 10
    while selector.in_flight(rule.services[0]) < calls and time.monotonic() < deadline:
        time.sleep(0.005)
    ready.put(os.getpid())
    time.sleep(60)
