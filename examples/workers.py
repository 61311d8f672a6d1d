"""Several workers, one router: four processes share their routing state on Redis.

Run from the repository root, with a Redis on 127.0.0.1:6379 (or LLMROUTE_REDIS_URL):

    python -m pip install -e '.[redis]' && python examples/workers.py

It starts four worker processes (as ``uvicorn --workers 4`` or gunicorn would), each with its
own ``ServiceSelector`` on one ``RedisState``, and routes 400 requests of 40 sessions sent at
random to the four. The ``flaky`` provider fails its calls for the first part of the run.
It prints how many services served each session (a session stays on its service unless that
service fails) and how many failing calls the whole fleet made before it stopped routing to
``flaky`` (about the health threshold, not one threshold per worker). Without a reachable
Redis it says so and exits 0. The providers are simulated in process: no network but Redis.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
import uuid
from collections import Counter
from typing import Any

URL = os.environ.get("LLMROUTE_REDIS_URL", "redis://127.0.0.1:6379/0")
WORKERS = 4
REQUESTS = 400
SESSIONS = 40
FAILING_FOR = 0.6  # seconds: the flaky provider fails its calls this long after the start

CONFIG: dict[str, Any] = {
    "providers": [
        {"name": name, "no_key_required": True} for name in ("flaky", "steady", "backup")
    ],
    "rules": [
        {
            "uuid": "chat",
            "request_model": "chat",
            "services": [
                {"provider": "flaky", "model": "m"},
                {"provider": "steady", "model": "m"},
                {"provider": "backup", "model": "m"},
            ],
            "lb_tactic": {"type": "random", "params": {}},
            "session_affinity": 600,
        }
    ],
    "health": {"consecutive_error_threshold": 3, "recovery_timeout_seconds": 30},
}


class ProviderDown(Exception):
    """The simulated provider's 503."""

    status_code = 503


def worker(index: int, namespace: str, start_at: float, work: list[int], out: Any) -> None:
    """One worker process: serve its share of the requests; report what served each
    session and how many calls failed."""
    from llmroute import RoutingConfig, ServiceSelector
    from llmroute.redis import RedisState

    state = RedisState.from_url(URL, namespace=namespace)
    selector = ServiceSelector.from_config(
        RoutingConfig.model_validate(CONFIG), state=state, rng=random.Random(index)
    )
    failed = 0

    def call(service: Any, provider: Any) -> dict[str, Any]:
        nonlocal failed
        if service.provider == "flaky" and time.time() - start_at < FAILING_FOR:
            failed += 1
            raise ProviderDown("flaky is down")
        return {"usage": {"prompt_tokens": 20, "completion_tokens": 5}}

    time.sleep(max(start_at - time.time(), 0))
    served: dict[int, list[str]] = {}
    for session in work:
        result = selector.execute("chat", None, call, session_id=f"user-{session}")
        served.setdefault(session, []).append(result.service.service_id)
        time.sleep(0.004)
    state.flush(2)
    state.close()
    out.put((served, failed))


def reachable() -> bool:
    """Whether a Redis answers at URL."""
    try:
        import redis
    except ImportError:
        print("the redis package is not installed: pip install 'llmroute[redis]'")
        return False
    try:
        return bool(redis.Redis.from_url(URL, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


def main() -> int:
    """Run the fleet and print what it did; 0 also when no Redis is reachable."""
    if not reachable():
        print(f"no Redis reachable at {URL}: start one (redis-server) or set LLMROUTE_REDIS_URL")
        return 0
    import redis

    namespace = f"example-{uuid.uuid4().hex[:8]}"
    rng = random.Random(42)
    shares: list[list[int]] = [[] for _ in range(WORKERS)]
    for _ in range(REQUESTS):
        shares[rng.randrange(WORKERS)].append(rng.randrange(SESSIONS))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start_at = time.time() + 1.5  # the processes start, then begin together
    processes = [
        ctx.Process(target=worker, args=(i, namespace, start_at, shares[i], out))
        for i in range(WORKERS)
    ]
    try:
        for process in processes:
            process.start()
        reports = [out.get(timeout=60) for _ in processes]
    finally:
        for process in processes:
            process.join(10)
        client = redis.Redis.from_url(URL)
        keys = list(client.scan_iter(match=f"llmroute:{namespace}:*"))
        if keys:
            client.delete(*keys)
    report(reports)
    return 0


def report(reports: list[tuple[dict[int, list[str]], int]]) -> None:
    """Print the services per session and the fleet's failing calls."""
    served: dict[int, set[str]] = {}
    for by_session, _ in reports:
        for session, services in by_session.items():
            served.setdefault(session, set()).update(services)
    print(f"{REQUESTS} requests of {len(served)} sessions over {WORKERS} worker processes")
    for session in sorted(served):
        print(
            f"  user-{session:<3} served by {len(served[session])}: "
            f"{', '.join(sorted(served[session]))}"
        )
    spread = Counter(len(services) for services in served.values())
    print(
        "sessions by services that served them: "
        + ", ".join(f"{n}: {spread[n]}" for n in sorted(spread))
    )
    failing = [failed for _, failed in reports]
    print(f"failing calls to flaky:m by the fleet: {sum(failing)} (per worker: {failing})")


if __name__ == "__main__":
    sys.exit(main())
