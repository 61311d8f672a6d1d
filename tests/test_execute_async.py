"""aexecute(): the same semantics as execute() for async calls, and task cancellation."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from execute_helpers import Recorder, cool_down, monitor

from llmroute import AllProvidersFailedError, FailureKind, aexecute
from llmroute.execute import RoundRobinCounter
from llmroute.testing import FakeAPIError, ScriptedProvider

K = FailureKind


async def acall(provider: ScriptedProvider) -> Any:
    return await provider.acall()


def test_aexecute_serves_from_the_first_provider() -> None:
    a, b = ScriptedProvider("a", "A"), ScriptedProvider("b", "B")
    result = asyncio.run(aexecute([a, b], acall))
    assert (result.response, result.provider, result.attempt_num, b.calls) == ("A", "a", 1, 0)


def test_aexecute_falls_back_and_records_the_failure() -> None:
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=20))
    b = ScriptedProvider("b", "B")
    health = monitor()
    result = asyncio.run(aexecute([a, b], acall, cooldown=health))
    assert (result.provider, result.attempt_num, result.was_terminus) == ("b", 2, True)
    assert result.attempts[0].kind is K.RATE_LIMIT
    assert health.cooldown_remaining("a") == 20.0


def test_aexecute_skips_cooling_providers_but_tries_the_terminus() -> None:
    a, b, c = (ScriptedProvider(n, n.upper()) for n in "abc")
    health = monitor()
    cool_down(health, "a", "b")
    result = asyncio.run(aexecute([a, b, c], acall, cooldown=health))
    assert (result.provider, result.attempt_num) == ("c", 1)


def test_aexecute_a_plain_bad_request_does_not_fall_over() -> None:
    a, b = ScriptedProvider("a", FakeAPIError(400)), ScriptedProvider("b", "B")
    with pytest.raises(AllProvidersFailedError):
        asyncio.run(aexecute([a, b], acall))
    assert b.calls == 0


def test_aexecute_primary_only_wraps_the_error() -> None:
    error = FakeAPIError(503)
    a, b = ScriptedProvider("a", error), ScriptedProvider("b", "B")
    with pytest.raises(AllProvidersFailedError) as caught:
        asyncio.run(aexecute([a, b], acall, strategy="primary_only"))
    assert caught.value.__cause__ is error and b.calls == 0


def test_a_cancelled_aexecute_tries_no_further_provider_and_records_nothing() -> None:
    started = asyncio.Event()
    never = asyncio.Event()
    b = ScriptedProvider("b", "B")
    health = monitor()
    hooks = Recorder()

    async def fn(provider: Any) -> Any:
        if provider == "a":
            started.set()
            await never.wait()
        return await b.acall()

    async def main() -> None:
        task = asyncio.create_task(aexecute(["a", "b"], fn, cooldown=health, hooks=hooks))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert b.calls == 0
    assert health.get_all_health() == {}
    assert hooks.events == [("started", "a"), ("failed", "a", "cancelled")]


def test_a_cancelled_aexecute_on_a_later_provider_stops_there() -> None:
    started = asyncio.Event()
    never = asyncio.Event()
    c = ScriptedProvider("c", "C")
    health = monitor()

    async def fn(provider: Any) -> Any:
        if provider == "a":
            raise FakeAPIError(500)
        if provider == "b":
            started.set()
            await never.wait()
        return await c.acall()

    async def main() -> None:
        task = asyncio.create_task(aexecute(["a", "b", "c"], fn, cooldown=health))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert c.calls == 0
    assert health.get_health("a").error_count == 1
    assert health.get_health("b").error_count == 0


def test_round_robin_spreads_exactly_over_concurrent_tasks() -> None:
    counter = RoundRobinCounter()

    async def fn(provider: str) -> str:
        await asyncio.sleep(0)  # yield to the other tasks (no wall-clock wait)
        return provider

    async def main() -> Counter[str]:
        results = await asyncio.gather(
            *(
                aexecute(["a", "b", "c"], fn, strategy="round_robin", counter=counter)
                for _ in range(300)
            )
        )
        return Counter(result.provider for result in results)

    assert asyncio.run(main()) == {"a": 100, "b": 100, "c": 100}


def test_aexecute_hooks_match_execute() -> None:
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", "B")
    hooks = Recorder()
    asyncio.run(aexecute([a, b], acall, hooks=hooks))
    assert hooks.events == [
        ("started", "a"),
        ("failed", "a", "server"),
        ("started", "b"),
        ("succeeded", "b"),
    ]
