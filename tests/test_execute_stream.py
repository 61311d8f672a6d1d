"""execute_stream() / aexecute_stream(): fail-over before the first chunk, commitment after
it, the first-chunk timeout, closing, and the bookkeeping when a stream ends."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from execute_helpers import Recorder, cool_down, monitor

from llmroute import (
    AllProvidersFailedError,
    FailureKind,
    StreamInterruptedError,
    aexecute_stream,
    execute_stream,
)
from llmroute.execute import AsyncStreamResult, StreamResult
from llmroute.testing import FakeAPIError, ScriptedProvider

K = FailureKind


def stream(provider: ScriptedProvider) -> Iterator[Any]:
    return provider.stream()


def astream(provider: ScriptedProvider) -> AsyncIterator[Any]:
    return provider.astream()


class Source:
    """A stream object like an SDK's: iterable, with its own close()."""

    def __init__(self, chunks: list[Any]) -> None:
        self.chunks = chunks
        self.closed = False
        self.finalized = False

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self.chunks:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield chunk
        finally:
            self.finalized = True

    def close(self) -> None:
        self.closed = True


# -- sync ----------------------------------------------------------------------------------


def test_an_error_at_the_call_fails_over() -> None:
    a = ScriptedProvider("a", FakeAPIError(500))
    b = ScriptedProvider("b", [1, 2, 3])
    result = execute_stream([a, b], stream)
    assert (result.provider, result.attempt_num, result.was_terminus) == ("b", 2, True)
    assert list(result) == [1, 2, 3]
    assert result.attempts[0].kind is K.SERVER


def test_an_error_before_the_first_chunk_fails_over() -> None:
    a = ScriptedProvider("a", [FakeAPIError(503)])
    b = ScriptedProvider("b", ["x", "y"])
    health = monitor()
    result = execute_stream([a, b], stream, cooldown=health)
    assert (result.provider, list(result)) == ("b", ["x", "y"])
    assert not health.is_available("a")


def test_the_first_chunk_is_not_lost_and_the_result_reports_the_stream() -> None:
    result = execute_stream([ScriptedProvider("a", ["first", "second"])], stream)
    assert isinstance(result, StreamResult)
    assert isinstance(result.time_to_first_chunk, float)
    assert (result.chunks_delivered, result.completed) == (0, False)
    assert next(result) == "first"
    assert result.chunks_delivered == 1
    assert list(result) == ["second"]
    assert (result.chunks_delivered, result.completed) == (2, True)
    assert list(result) == []


def test_an_error_after_the_first_chunk_raises_stream_interrupted() -> None:
    error = FakeAPIError(500)
    a = ScriptedProvider("a", ["one", "two", error])
    b = ScriptedProvider("b", ["never"])
    health = monitor()
    hooks = Recorder()
    result = execute_stream([a, b], stream, cooldown=health, hooks=hooks)
    received = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in result:
            received.append(chunk)
    assert received == ["one", "two"]
    assert (caught.value.provider, caught.value.chunks_delivered) == ("a", 2)
    assert caught.value.__cause__ is error
    assert caught.value.failure is not None and caught.value.failure.kind is K.SERVER
    assert "broke after 2 chunks: server (HTTP 500)" in str(caught.value)
    assert b.calls == 0
    assert not health.is_available("a")
    assert hooks.events == [("started", "a"), ("first_chunk", "a"), ("failed", "a", "server")]


def test_a_completed_stream_reports_success() -> None:
    a = ScriptedProvider("a", FakeAPIError(500), ["ok"])
    health = monitor(threshold=3)
    hooks = Recorder()
    execute_stream([a, ScriptedProvider("b", ["b"])], stream, cooldown=health)
    assert health.get_health("a").consecutive_errors == 1
    result = execute_stream([a], stream, cooldown=health, hooks=hooks)
    assert list(result) == ["ok"]
    assert health.get_health("a").consecutive_errors == 0
    assert hooks.events == [("started", "a"), ("first_chunk", "a"), ("succeeded", "a")]


def test_closing_early_closes_the_iterator_and_the_source() -> None:
    source = Source([1, 2, 3])
    hooks = Recorder()
    with execute_stream(["a"], lambda p: source, hooks=hooks) as result:
        assert next(result) == 1
        assert next(result) == 2
    assert source.closed and source.finalized
    assert (result.completed, result.chunks_delivered) == (False, 2)
    assert hooks.events[-1] == ("succeeded", "a")
    result.close()  # idempotent
    assert hooks.events.count(("succeeded", "a")) == 1
    assert list(result) == []


def test_a_dropped_stream_is_closed_and_recorded() -> None:
    source = Source([1, 2, 3])
    hooks = Recorder()
    result = execute_stream(["a"], lambda p: source, hooks=hooks)
    next(result)
    del result
    gc.collect()
    assert source.closed
    assert hooks.events[-1] == ("succeeded", "a")


def test_an_empty_stream_is_a_completed_success() -> None:
    hooks = Recorder()
    result = execute_stream(["a", "b"], lambda p: iter(()), hooks=hooks)
    assert (result.provider, list(result), result.completed) == ("a", [], True)
    assert hooks.events == [("started", "a"), ("succeeded", "a")]


def test_when_every_stream_fails_before_its_first_chunk_all_failed_is_raised() -> None:
    a = ScriptedProvider("a", [FakeAPIError(500)])
    b = ScriptedProvider("b", FakeAPIError(429))
    with pytest.raises(AllProvidersFailedError) as caught:
        execute_stream([a, b], stream)
    assert [x.kind for x in caught.value.attempts] == [K.SERVER, K.RATE_LIMIT]


def test_a_failed_stream_is_closed_before_the_next_provider_is_tried() -> None:
    opened: list[Source] = []

    def fn(name: str) -> Any:
        if name == "a":
            source = Source([FakeAPIError(500)])
            opened.append(source)
            return source
        return ["b"]

    result = execute_stream(["a", "b"], fn)
    assert result.provider == "b"
    assert opened[0].closed and opened[0].finalized


def test_a_plain_bad_request_does_not_fail_over_a_stream() -> None:
    a, b = ScriptedProvider("a", FakeAPIError(400)), ScriptedProvider("b", ["b"])
    with pytest.raises(AllProvidersFailedError):
        execute_stream([a, b], stream)
    assert b.calls == 0


def test_a_keyboard_interrupt_mid_stream_propagates_unchanged() -> None:
    health = monitor()
    result = execute_stream(["a"], lambda p: ScriptedProvider(p, [1, KeyboardInterrupt()]).stream())
    assert next(result) == 1
    with pytest.raises(KeyboardInterrupt):
        next(result)
    assert health.get_all_health() == {}


def test_stream_cooldown_skips_and_round_robin_work_like_execute() -> None:
    health = monitor()
    cool_down(health, "a")
    result = execute_stream(["a", "b"], lambda p: [p], cooldown=health)
    assert (result.provider, [s.provider for s in result.skipped]) == ("b", ["a"])
    assert "provider='b'" in repr(result)


# -- async ---------------------------------------------------------------------------------


def test_async_error_before_the_first_chunk_fails_over() -> None:
    a = ScriptedProvider("a", [FakeAPIError(500)])
    b = ScriptedProvider("b", [1, 2])

    async def main() -> tuple[AsyncStreamResult[Any], list[Any]]:
        result = await aexecute_stream([a, b], astream)
        return result, [chunk async for chunk in result]

    result, chunks = asyncio.run(main())
    assert (result.provider, result.attempt_num, chunks, result.completed) == ("b", 2, [1, 2], True)


def test_async_error_after_the_first_chunk_raises_stream_interrupted() -> None:
    error = FakeAPIError(529)
    a = ScriptedProvider("a", ["x", error])

    async def main() -> list[Any]:
        got: list[Any] = []
        result = await aexecute_stream([a, ScriptedProvider("b", ["y"])], astream)
        with pytest.raises(StreamInterruptedError) as caught:
            async for chunk in result:
                got.append(chunk)
        assert caught.value.__cause__ is error and caught.value.chunks_delivered == 1
        return got

    assert asyncio.run(main()) == ["x"]


def test_a_silent_provider_is_abandoned_after_the_first_chunk_timeout() -> None:
    never = asyncio.Event()
    closed: list[str] = []
    hooks = Recorder()

    async def silent() -> AsyncIterator[str]:
        try:
            await never.wait()
            yield "late"
        finally:
            closed.append("a")

    async def fast() -> AsyncIterator[str]:
        yield "b1"
        yield "b2"

    async def main() -> tuple[AsyncStreamResult[str], list[str]]:
        result = await aexecute_stream(
            ["a", "b"],
            lambda p: silent() if p == "a" else fast(),
            first_chunk_timeout=0.05,
            hooks=hooks,
        )
        return result, [chunk async for chunk in result]

    result, chunks = asyncio.run(main())
    assert (result.provider, chunks) == ("b", ["b1", "b2"])
    (attempt,) = result.attempts
    assert attempt.kind is K.TIMEOUT and isinstance(attempt.error, TimeoutError)
    assert "no chunk from provider a within 0.05s" in str(attempt.error)
    assert closed == ["a"]
    assert hooks.events[:2] == [("started", "a"), ("failed", "a", "timeout")]


def test_an_awaitable_of_an_async_stream_is_accepted() -> None:
    class SdkStream:
        def __init__(self) -> None:
            self.closed = False

        def __aiter__(self) -> AsyncIterator[int]:
            return self._gen()

        async def _gen(self) -> AsyncIterator[int]:
            yield 1
            yield 2

        async def close(self) -> None:
            self.closed = True

    sdk_stream = SdkStream()

    async def create(provider: str) -> SdkStream:
        return sdk_stream

    async def main() -> list[int]:
        async with await aexecute_stream(["a"], create) as result:
            return [chunk async for chunk in result]

    assert asyncio.run(main()) == [1, 2]
    assert sdk_stream.closed


def test_async_aclose_closes_the_provider_stream_early() -> None:
    closed: list[bool] = []
    hooks = Recorder()

    async def gen(provider: str) -> AsyncIterator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            closed.append(True)

    async def main() -> AsyncStreamResult[int]:
        result = await aexecute_stream(["a"], gen, hooks=hooks)
        assert await result.__anext__() == 0
        await result.aclose()
        await result.aclose()
        return result

    result = asyncio.run(main())
    assert closed == [True]
    assert (result.completed, result.chunks_delivered) == (False, 1)
    assert hooks.events.count(("succeeded", "a")) == 1


def test_a_cancelled_aexecute_stream_tries_no_further_provider() -> None:
    started = asyncio.Event()
    never = asyncio.Event()
    b = ScriptedProvider("b", ["b"])
    health = monitor()

    async def silent() -> AsyncIterator[str]:
        started.set()
        await never.wait()
        yield "late"

    async def main() -> None:
        task = asyncio.create_task(
            aexecute_stream(
                ["a", "b"], lambda p: silent() if p == "a" else b.astream(), cooldown=health
            )
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert b.calls == 0
    assert health.get_all_health() == {}


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), True, "1"])
def test_a_bad_first_chunk_timeout_is_a_value_error(timeout: Any) -> None:
    with pytest.raises(ValueError, match="first_chunk_timeout"):
        asyncio.run(aexecute_stream(["a"], astream, first_chunk_timeout=timeout))


def test_fn_returning_no_stream_is_a_type_error_naming_the_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        asyncio.run(aexecute_stream(["a"], lambda p: 42))  # type: ignore[arg-type,return-value]
