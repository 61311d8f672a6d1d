"""Four OS processes (multiprocessing, spawn) sharing one Redis behave as one router:
sessions never split, ejections propagate within sync_interval, a dead provider costs the
fleet about its threshold, one probe runs, round-robin turns are exact."""

from __future__ import annotations

import random
import statistics
import time

import redis_support as rs

from llmroute import HealthConfig, classify_error
from llmroute.state import Outcome
from llmroute.testing import FakeAPIError, FakeClock

rs.require_redis()


def test_100_sessions_sent_at_random_to_four_processes_never_split(namespace: str) -> None:
    rng = random.Random(7)
    work: list[list[int]] = [[] for _ in range(4)]
    for session in range(100):
        for _ in range(20):
            work[rng.randrange(4)].append(session)
    for share in work:
        rng.shuffle(share)
    results = rs.run_fleet(rs.sessions_worker, [(namespace, share) for share in work])
    served: dict[str, set[str]] = {}
    for result in results:
        for session, services in result.items():
            served.setdefault(session, set()).update(services)
    splits = [s for s, services in served.items() if len(services) > 1]
    assert len(served) == 100 and splits == []


def test_an_ejection_reaches_all_four_within_sync_interval_and_100_ms(namespace: str) -> None:
    rounds = 5
    results = rs.run_fleet(rs.propagation_worker, [(namespace, rounds)] * 4)
    ejected = results[0]
    delays = sorted(seen[k] - ejected[k] for seen in results[1:] for k in range(rounds))
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
    print(
        f"propagation over 4 processes, sync_interval 0.5 s: p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms ({len(delays)} samples)"
    )
    # a reader refreshes at most 0.5 s after the outcome reached Redis, which takes the write-
    # behind thread ~1 ms (measured: max 446-498 ms, idle and with both cores busy); the
    # margin is for a loaded box. The median is printed, not asserted: 15 samples of a random
    # phase put it anywhere up to the interval (a CI run measured 441 ms).
    assert delays[-1] <= 0.5 + 0.15, delays


def test_a_dead_provider_costs_the_fleet_at_most_threshold_plus_3_calls(namespace: str) -> None:
    failed = rs.run_fleet(rs.dead_provider_worker, [(namespace, 30)] * 4)
    print(f"failed calls to the dead provider, per process: {failed}")
    assert sum(failed) <= 3 + 3, failed


def test_four_processes_due_for_a_probe_run_exactly_one(namespace: str) -> None:
    health = HealthConfig(probe_enabled=True)
    ejector = rs.store(namespace, sync_interval=0, clock=FakeClock(time.time() - 120))
    service = rs.make_rule(2).services[0]
    failure = classify_error(FakeAPIError(500))
    for _ in range(3):
        ejector.write(Outcome("r", service, "failure", health, failure=failure))
    assert ejector.flush(2)
    ejector.close()
    won = rs.run_fleet(rs.probe_worker, [(namespace, health)] * 4)
    assert sum(won) == 1, won


def test_300_round_robin_picks_over_four_processes_give_each_service_100(
    namespace: str,
) -> None:
    results = rs.run_fleet(rs.round_robin_worker, [(namespace, 75)] * 4)
    served = [sid for result in results for sid in result]
    assert sorted({sid: served.count(sid) for sid in set(served)}.values()) == [100, 100, 100]
