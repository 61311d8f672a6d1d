"""Caller bugs are loud: an exception of the caller's own code propagates unchanged, and a
function of the wrong kind for its driver is a TypeError that says which driver to use."""

from __future__ import annotations

import asyncio
import gc
import random
import traceback
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from llmroute import (
    HealthConfig,
    HealthMonitor,
    Rule,
    Service,
    ServiceSelector,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from llmroute.testing import FakeClock

BUGS = [
    TypeError("create() got multiple values for keyword argument 'model'"),
    AttributeError("'NoneType' object has no attribute 'choices'"),
    NameError("name 'clinet' is not defined"),
    ImportError("No module named 'openaii'"),
    AssertionError("the caller's own check"),
    NotImplementedError("not written yet"),
]


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
def test_a_callers_bug_propagates_unchanged_without_falling_over_or_cooling(
    bug: BaseException,
) -> None:
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1))
    called: list[str] = []

    def call(name: str) -> str:
        called.append(name)
        raise bug

    with pytest.raises(type(bug)) as caught:
        execute(["a", "b"], call, cooldown=health)
    assert caught.value is bug
    assert any(frame.name == "call" for frame in traceback.extract_tb(caught.value.__traceback__))
    assert called == ["a"]
    assert health.is_healthy("a")


@pytest.mark.parametrize("bug", BUGS, ids=lambda e: type(e).__name__)
def test_a_callers_bug_propagates_from_the_async_and_stream_forms(bug: BaseException) -> None:
    async def acall(name: str) -> str:
        raise bug

    def stream(name: str) -> Any:
        raise bug

    async def astream(name: str) -> AsyncIterator[str]:
        raise bug
        yield "never"

    with pytest.raises(type(bug)):
        asyncio.run(aexecute(["a", "b"], acall))
    with pytest.raises(type(bug)):
        execute_stream(["a", "b"], stream)
    with pytest.raises(type(bug)):
        asyncio.run(aexecute_stream(["a", "b"], astream))


def test_execute_given_an_async_function_says_to_use_aexecute_and_closes_the_coroutine() -> None:
    async def call(name: str) -> str:
        return "never awaited"

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="aexecute"):
            execute(["a", "b"], call)  # type: ignore[arg-type]
        gc.collect()
    assert not [w for w in seen if "never awaited" in str(w.message)]


def test_aexecute_given_a_sync_function_says_to_use_execute() -> None:
    with pytest.raises(TypeError, match=r"use execute\(\)"):
        asyncio.run(aexecute(["a"], lambda name: "plain"))  # type: ignore[arg-type,return-value]


def test_execute_stream_given_an_async_generator_says_to_use_aexecute_stream() -> None:
    async def chunks(name: str) -> AsyncIterator[str]:
        yield "x"

    with pytest.raises(TypeError, match="aexecute_stream"):
        execute_stream(["a"], chunks)  # type: ignore[arg-type]


def test_a_stream_fn_returning_something_not_iterable_names_the_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        execute_stream(["a"], lambda name: 42)  # type: ignore[arg-type,return-value]


class Reply(BaseModel):
    """A whole response, as an SDK returns it without ``stream=True`` (pydantic models iterate
    over their fields)."""

    id: str = "r1"
    text: str = "hello"


#: What a stream form's fn gives when the caller forgot to ask for a stream: each iterates
#: (keys, characters, bytes, fields), so it "streamed" silently before.
WHOLE = [{"choices": [{"message": {"content": "hi"}}]}, "hello", b"hello", Reply()]


@pytest.mark.parametrize("whole", WHOLE, ids=lambda w: type(w).__name__)
def test_a_stream_fn_giving_a_whole_response_is_a_type_error_in_both_forms(whole: object) -> None:
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1))
    called: list[str] = []

    def stream(name: str) -> Any:
        called.append(name)
        return whole

    async def astream(name: str) -> Any:
        return stream(name)

    with pytest.raises(TypeError, match=rf"{type(whole).__name__}, a whole response.*stream=True"):
        execute_stream(["a", "b"], stream, cooldown=health)
    with pytest.raises(TypeError, match=rf"{type(whole).__name__}, a whole response.*stream=True"):
        asyncio.run(aexecute_stream(["a", "b"], astream, cooldown=health))
    assert called == ["a", "a"] and health.is_healthy("a")


@pytest.mark.parametrize("whole", WHOLE, ids=lambda w: type(w).__name__)
def test_the_selectors_stream_forms_refuse_a_whole_response_too(whole: object) -> None:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(1))
    rule = Rule(uuid="r", services=(Service(provider="p", model="a"),))

    async def astream(service: Service, provider: Any) -> Any:
        return whole

    with pytest.raises(TypeError, match=rf"{type(whole).__name__}, a whole response.*stream=True"):
        selector.execute_stream(rule, None, lambda service, provider: whole)
    with pytest.raises(TypeError, match=rf"{type(whole).__name__}, a whole response.*stream=True"):
        asyncio.run(selector.aexecute_stream(rule, None, astream))
    assert health.is_healthy("p:a")


def test_an_async_stream_fn_awaiting_to_something_not_async_iterable_names_the_type() -> None:
    async def gives_int(name: str) -> Any:
        return 42

    with pytest.raises(TypeError, match="gave int, which is not an async iterable"):
        asyncio.run(aexecute_stream(["a"], gives_int))


def test_a_callers_bug_through_the_selector_leaves_health_and_in_flight_untouched() -> None:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(1))
    a, b = Service(provider="p", model="a"), Service(provider="p", model="b")
    rule = Rule(uuid="r", services=(a, b), lb_tactic={"type": "round_robin"})

    def call(service: Service, provider: Any) -> str:
        return service.model.upper(1)  # type: ignore[call-arg]  # a caller's bug

    with pytest.raises(TypeError):
        selector.execute(rule, None, call)
    assert health.is_healthy("p:a") and health.is_healthy("p:b")
    assert selector.in_flight(a) == 0


def test_all_failed_lists_each_attempt_with_its_type_and_masked_text() -> None:
    from llmroute import AllProvidersFailedError
    from llmroute.testing import FakeAPIError

    secret = "sk-" + "a1b2c3d4e5f6g7h8"
    long_text = "upstream said: " + "x" * 400 + f" api_key={secret}"

    def call(name: str) -> str:
        raise FakeAPIError(503, long_text)

    with pytest.raises(AllProvidersFailedError) as caught:
        execute(["a"], call)
    text = str(caught.value)
    assert text.startswith("provider a failed: server (HTTP 503): FakeAPIError: upstream said:")
    assert secret not in text
    assert len(text) < 300  # the failure's text is cut at 200 characters


def test_retry_after_includes_the_ejection_this_call_caused() -> None:
    from llmroute import AllProvidersFailedError

    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)

    def call(name: str) -> str:
        raise ConnectionError("refused")

    with pytest.raises(AllProvidersFailedError) as caught:
        execute(["only"], call, cooldown=health)
    assert caught.value.retry_after == 60.0  # the ejection it started: what Retry-After says


def test_all_failed_counts_providers_and_attempts_apart_when_retried() -> None:
    from llmroute import AllProvidersFailedError, RetryPolicy
    from llmroute.testing import FakeAPIError

    def call(name: str) -> str:
        raise FakeAPIError(503)

    with pytest.raises(AllProvidersFailedError) as caught:
        execute(["a", "b"], call, retry=RetryPolicy(), sleep=lambda seconds: None)
    assert str(caught.value).startswith("all 2 providers failed (3 attempts): ")
