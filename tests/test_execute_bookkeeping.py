"""Bookkeeping never loses a served response: a hook or cooldown tracker that raises is
logged once at ERROR (``event="bookkeeping_failed"``) and the call goes on as if it had not
raised, in all four forms of execute()."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from execute_helpers import BareTracker, Recorder

from llmroute import (
    AllProvidersFailedError,
    Failure,
    StreamInterruptedError,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from llmroute.execute import AttemptLoop, ExecuteOptions
from llmroute.testing import FakeAPIError, ScriptedProvider


def call(provider: ScriptedProvider) -> Any:
    return provider()


async def acall(provider: ScriptedProvider) -> Any:
    return await provider.acall()


def stream(provider: ScriptedProvider) -> Iterator[Any]:
    return provider.stream()


def astream(provider: ScriptedProvider) -> AsyncIterator[Any]:
    return provider.astream()


class Broken(Recorder):
    """Records like :class:`Recorder`, then raises from the hooks named in ``broken``."""

    def __init__(self, *broken: str) -> None:
        super().__init__()
        self.broken = set(broken)

    def _maybe_raise(self, hook: str) -> None:
        if hook in self.broken:
            raise RuntimeError(f"{hook} is broken")

    def attempt_started(self, provider: Any, name: str) -> None:
        super().attempt_started(provider, name)
        self._maybe_raise("attempt_started")

    def attempt_succeeded(self, provider: Any, name: str, response: Any, latency: float) -> None:
        super().attempt_succeeded(provider, name, response, latency)
        self._maybe_raise("attempt_succeeded")

    def attempt_failed(
        self, provider: Any, name: str, error: BaseException, failure: Failure, latency: float
    ) -> None:
        super().attempt_failed(provider, name, error, failure, latency)
        self._maybe_raise("attempt_failed")

    def first_chunk(self, provider: Any, name: str, time_to_first_chunk: float) -> None:
        super().first_chunk(provider, name, time_to_first_chunk)
        self._maybe_raise("first_chunk")

    def provider_skipped(self, provider: Any, name: str, cooldown_remaining: float) -> None:
        super().provider_skipped(provider, name, cooldown_remaining)
        self._maybe_raise("provider_skipped")


class BrokenTracker(BareTracker):
    """A tracker whose ``report_success`` and/or ``record_failure`` raise."""

    def __init__(self, success: bool = True, failure: bool = False) -> None:
        super().__init__()
        self.break_success = success
        self.break_failure = failure
        self.successes: list[str] = []

    def report_success(self, name: str) -> None:
        self.successes.append(name)
        if self.break_success:
            raise RuntimeError("report_success is broken")

    def record_failure(self, name: str, error: object) -> bool:
        super().record_failure(name, error)
        if self.break_failure:
            raise RuntimeError("record_failure is broken")
        return True


def bookkeeping_errors(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """(callback, provider) of each bookkeeping_failed record, checking each is well formed."""
    found = []
    for record in caplog.records:
        if getattr(record, "event", None) != "bookkeeping_failed":
            continue
        assert record.name == "llmroute.execute"
        assert record.levelno == logging.ERROR
        assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
        found.append((record.callback, record.provider))  # type: ignore[attr-defined]
    return found


# -- sync ----------------------------------------------------------------------------------


def test_a_raising_success_hook_still_returns_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", "A"), ScriptedProvider("b", "B")
    hooks = Broken("attempt_succeeded")
    result = execute([a, b], call, hooks=hooks)
    assert (result.response, result.provider, b.calls) == ("A", "a", 0)
    assert bookkeeping_errors(caplog) == [("attempt_succeeded", "a")]


def test_a_raising_report_success_still_returns_the_response(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = BrokenTracker()
    hooks = Recorder()
    result = execute([ScriptedProvider("a", "A")], call, cooldown=tracker, hooks=hooks)
    assert result.response == "A" and tracker.successes == ["a"]
    assert hooks.events == [("started", "a"), ("succeeded", "a")]  # the hook still heard
    assert bookkeeping_errors(caplog) == [("report_success", "a")]


def test_a_raising_failure_hook_does_not_stop_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", "B")
    tracker = BareTracker()
    result = execute([a, b], call, cooldown=tracker, hooks=Broken("attempt_failed"))
    assert (result.response, result.attempt_num) == ("B", 2)
    assert [x.provider for x in result.attempts] == ["a"]
    assert [name for name, _ in tracker.failures] == ["a"]
    assert bookkeeping_errors(caplog) == [("attempt_failed", "a")]


def test_a_raising_record_failure_does_not_stop_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", "B")
    hooks = Recorder()
    tracker = BrokenTracker(success=False, failure=True)
    result = execute([a, b], call, cooldown=tracker, hooks=hooks)
    assert result.provider == "b"
    assert hooks.events == [
        ("started", "a"),
        ("failed", "a", "server"),
        ("started", "b"),
        ("succeeded", "b"),
    ]
    assert bookkeeping_errors(caplog) == [("record_failure", "a")]


def test_raising_start_and_skip_hooks_are_logged_and_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tracker = BareTracker(cooling={"a"})
    hooks = Broken("attempt_started", "provider_skipped")
    result = execute(["a", "b"], lambda p: p.upper(), cooldown=tracker, hooks=hooks)
    assert result.response == "B"
    assert bookkeeping_errors(caplog) == [("provider_skipped", "a"), ("attempt_started", "b")]


def test_when_every_provider_fails_the_error_is_still_all_providers_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", FakeAPIError(503))
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call, hooks=Broken("attempt_failed"))
    assert [x.provider for x in caught.value.attempts] == ["a", "b"]
    assert bookkeeping_errors(caplog) == [("attempt_failed", "a"), ("attempt_failed", "b")]


def test_a_cancellation_still_propagates_when_the_failure_hook_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", KeyboardInterrupt()), ScriptedProvider("b", "B")
    with pytest.raises(KeyboardInterrupt):
        execute([a, b], call, hooks=Broken("attempt_failed"))
    assert b.calls == 0
    assert bookkeeping_errors(caplog) == [("attempt_failed", "a")]


def test_nothing_is_logged_when_the_bookkeeping_works(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llmroute.execute")
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", "B")
    execute([a, b], call, cooldown=BareTracker(), hooks=Recorder())
    assert bookkeeping_errors(caplog) == []


# -- async ---------------------------------------------------------------------------------


def test_aexecute_returns_the_response_when_the_bookkeeping_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = ScriptedProvider("a", FakeAPIError(500)), ScriptedProvider("b", "B")
    hooks = Broken("attempt_failed", "attempt_succeeded")
    result = asyncio.run(aexecute([a, b], acall, cooldown=BrokenTracker(), hooks=hooks))
    assert (result.response, result.provider) == ("B", "b")
    assert bookkeeping_errors(caplog) == [
        ("attempt_failed", "a"),
        ("report_success", "b"),
        ("attempt_succeeded", "b"),
    ]


# -- streams -------------------------------------------------------------------------------


def test_a_stream_delivers_every_chunk_when_its_end_bookkeeping_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = ScriptedProvider("a", ["x", "y", "z"])
    hooks = Broken("first_chunk", "attempt_succeeded")
    result = execute_stream([a], stream, cooldown=BrokenTracker(), hooks=hooks)
    assert list(result) == ["x", "y", "z"] and result.completed
    assert bookkeeping_errors(caplog) == [
        ("first_chunk", "a"),
        ("report_success", "a"),
        ("attempt_succeeded", "a"),
    ]


def test_closing_a_stream_early_survives_a_raising_success_hook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = ScriptedProvider("a", ["x", "y"])
    with execute_stream([a], stream, hooks=Broken("attempt_succeeded")) as result:
        assert next(result) == "x"
    assert not result.completed and result.chunks_delivered == 1
    assert bookkeeping_errors(caplog) == [("attempt_succeeded", "a")]


def test_a_stream_fails_over_before_its_first_chunk_despite_a_raising_hook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = ScriptedProvider("a", FakeAPIError(503))
    b = ScriptedProvider("b", ["y"])
    result = execute_stream([a, b], stream, hooks=Broken("attempt_failed"))
    assert (list(result), result.provider) == (["y"], "b")
    assert bookkeeping_errors(caplog) == [("attempt_failed", "a")]


def test_a_broken_stream_still_raises_stream_interrupted_when_the_hook_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = ScriptedProvider("a", ["x", FakeAPIError(500)])
    result = execute_stream([a], stream, hooks=Broken("attempt_failed"))
    assert next(result) == "x"
    with pytest.raises(StreamInterruptedError):
        next(result)
    assert bookkeeping_errors(caplog) == [("attempt_failed", "a")]


def test_an_async_stream_delivers_every_chunk_when_its_end_bookkeeping_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    a = ScriptedProvider("a", FakeAPIError(500))
    b = ScriptedProvider("b", ["x", "y"])
    hooks = Broken("attempt_failed", "attempt_succeeded")

    async def run() -> list[Any]:
        result = await aexecute_stream([a, b], astream, cooldown=BrokenTracker(), hooks=hooks)
        async with result:
            chunks = [chunk async for chunk in result]
        assert result.completed
        return chunks

    assert asyncio.run(run()) == ["x", "y"]
    assert bookkeeping_errors(caplog) == [
        ("attempt_failed", "a"),
        ("report_success", "b"),
        ("attempt_succeeded", "b"),
    ]


# -- the loop, driven from outside -----------------------------------------------------------


def test_the_attempt_loop_can_be_driven_by_hand() -> None:
    hooks = Recorder()
    loop: AttemptLoop[str] = AttemptLoop(["a", "b"], ExecuteOptions.build(hooks=hooks))
    assert loop.start_next() == "a"
    loop.failed(FakeAPIError(500))
    assert (loop.start_next(), loop.name, loop.attempt_num, loop.was_terminus) == (
        "b",
        "b",
        2,
        True,
    )
    result = loop.succeeded("B")
    assert (result.response, result.provider, [x.provider for x in result.attempts]) == (
        "B",
        "b",
        ["a"],
    )
    assert hooks.events == [
        ("started", "a"),
        ("failed", "a", "server"),
        ("started", "b"),
        ("succeeded", "b"),
    ]
