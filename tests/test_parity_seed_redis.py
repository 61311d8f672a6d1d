"""The seed's current service (issue 15, item 5) on the Redis state: the configured index
seeds the current service until the store has its own. Skipped when no Redis is reachable,
unless LLMROUTE_REQUIRE_REDIS=1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis_support as rs

from llmroute import Rule, Service, ServiceSelector
from llmroute.redis import RedisState

rs.require_redis()

A = Service(provider="p", model="a")
B = Service(provider="p", model="b")


@pytest.fixture
def stores() -> Iterator[tuple[RedisState, RedisState]]:
    namespace = rs.new_namespace()
    first, second = rs.store(namespace), rs.store(namespace)
    yield first, second
    first.close()
    second.close()
    rs.delete_namespace(namespace)


def rule(tactic: str, **params: int) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [A.model_dump(), B.model_dump()],
            "current_service_index": 1,
            "lb_tactic": {"type": tactic, "params": params},
        }
    )


def test_the_index_keeps_the_second_service_under_its_threshold_on_redis(
    stores: tuple[RedisState, RedisState],
) -> None:
    writer, reader = stores
    elsewhere = Rule(uuid="other", services=(B,))
    ServiceSelector(state=writer).record(
        ServiceSelector(state=writer).select(elsewhere), input_tokens=9000, output_tokens=0
    )
    assert writer.flush(2)
    chooser = ServiceSelector(state=reader)
    result = chooser.select(rule("token_based", token_threshold=10000), {})
    assert result.service == B  # 9,000 shared tokens < 10,000: the seeded B is kept
    assert "kept the current service: 9000 window tokens" in result.explain()


def test_round_robin_on_redis_starts_at_the_seeded_service(
    stores: tuple[RedisState, RedisState],
) -> None:
    first, second = stores
    seeded = rule("round_robin", request_threshold=1)
    picks = [
        ServiceSelector(state=store).execute(seeded, {}, rs.ok).service.model
        for store in (first, second, first, second)
    ]
    assert picks == ["b", "a", "b", "a"]  # the shared turn, rotated from the seed
