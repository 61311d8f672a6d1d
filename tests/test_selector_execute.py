"""selector.execute and friends: select, call the chosen service then its fallbacks, and
record every attempt into stats, health, affinity and in-flight counts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from fake_llm_server import FakeLLMServer, bad_request, rate_limited, server_error, unauthorized

from llmroute import (
    AllProvidersFailedError,
    HealthConfig,
    HealthMonitor,
    Provider,
    Rule,
    Service,
    ServiceSelector,
    StreamInterruptedError,
    Usage,
)
from llmroute.testing import FakeClock

MESSAGES = [{"role": "user", "content": "Say hello"}]


def make_rule(*models: str, affinity: int = 0, tactic: str = "round_robin") -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [{"provider": "p", "model": m} for m in models],
            "lb_tactic": {"type": tactic, "params": {"request_threshold": 1}}
            if tactic == "round_robin"
            else {"type": tactic},
            "session_affinity": affinity,
        }
    )


class Env:
    def __init__(self, threshold: int = 1) -> None:
        self.clock = FakeClock()
        self.health = HealthMonitor(
            HealthConfig(consecutive_error_threshold=threshold), clock=self.clock
        )
        self.selector = ServiceSelector(
            [Provider(name="p")], health=self.health, clock=self.clock, rng=random.Random(5)
        )


def openai_reply(text: str, prompt: int = 100, completion: int = 20, cached: int = 0) -> Any:
    return {
        "choices": [{"message": {"content": text}}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


class Scripted:
    """fn(service, provider): fails for the models in ``failing`` (status codes), else replies."""

    def __init__(self, failing: dict[str, int] | None = None) -> None:
        self.failing = dict(failing or {})
        self.calls: list[str] = []

    def __call__(self, service: Service, provider: Provider | None) -> Any:
        self.calls.append(service.model)
        status = self.failing.get(service.model)
        if status is not None:
            raise _StatusError(status)
        return openai_reply(f"from {service.model}", cached=40)


class _StatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status


# --- sync ----------------------------------------------------------------------------------


def test_the_chosen_service_serves_and_its_usage_is_recorded() -> None:
    env = Env()
    result = env.selector.execute(make_rule("a", "b"), {"messages": MESSAGES}, Scripted())
    assert result.service_id == "p:a"
    assert result.selection is not None and result.selection.service.model == "a"
    snap = env.selector.stats.snapshot(result.selection.service)
    assert (snap.request_count, snap.window_input_tokens, snap.window_output_tokens) == (1, 100, 20)
    assert snap.window_cache_hits == 1
    assert snap.latency_sample_count == 1


def test_a_failing_service_falls_over_to_its_fallback_and_turns_unhealthy() -> None:
    env = Env()
    fn = Scripted({"a": 503})
    result = env.selector.execute(make_rule("a", "b"), None, fn)
    assert (result.service_id, result.attempt_num, fn.calls) == ("p:b", 2, ["a", "b"])
    assert not env.health.is_healthy("p:a")
    assert env.selector.stats.snapshot(Service(provider="p", model="a")).request_count == 0


def test_in_flight_counts_return_to_zero_after_success_and_failure() -> None:
    env = Env()
    seen: list[int] = []
    a = Service(provider="p", model="a")

    def fn(service: Service, provider: Provider | None) -> Any:
        seen.append(env.selector.in_flight(service))
        if service.model == "a":
            raise _StatusError(500)
        return openai_reply("ok")

    env.selector.execute(make_rule("a", "b"), None, fn)
    assert seen == [1, 1]
    assert env.selector.in_flight(a) == 0
    assert env.selector.in_flight(Service(provider="p", model="b")) == 0


def test_a_bad_request_does_not_fail_over() -> None:
    env = Env()
    fn = Scripted({"a": 400})
    with pytest.raises(AllProvidersFailedError):
        env.selector.execute(make_rule("a", "b"), None, fn)
    assert fn.calls == ["a"]
    assert env.health.is_healthy("p:a")


def test_unhealthy_services_are_skipped_except_as_the_last_resort() -> None:
    env = Env()
    env.health.report_error("p:a", 500)
    env.health.report_error("p:b", 500)
    fn = Scripted()
    result = env.selector.execute(make_rule("a", "b"), None, fn)
    assert result.selection is not None and result.selection.degraded
    assert fn.calls == ["b"] and result.was_terminus


def test_a_success_after_a_failure_resets_the_error_count() -> None:
    env = Env(threshold=2)
    env.selector.execute(make_rule("a", "b"), None, Scripted({"a": 500}))
    env.selector.execute(make_rule("a"), None, Scripted())
    env.selector.execute(make_rule("a", "b"), None, Scripted({"a": 500}))
    assert env.health.is_healthy("p:a")


def test_the_session_lock_moves_to_the_fallback_that_served() -> None:
    env = Env()
    rule = make_rule("a", "b", affinity=600)
    body = {"messages": MESSAGES, "metadata": {"user_id": "u1"}}
    first = env.selector.execute(rule, body, Scripted({"a": 500}))
    assert first.service_id == "p:b"
    again = env.selector.execute(rule, body, Scripted())
    assert again.selection is not None
    assert (again.selection.source, again.service_id) == ("affinity", "p:b")


def test_a_custom_usage_reader_is_used() -> None:
    env = Env()
    result = env.selector.execute(
        make_rule("a"), None, lambda s, p: "plain text", usage=lambda r: Usage(7, 3)
    )
    assert result.selection is not None
    snap = env.selector.stats.snapshot(result.selection.service)
    assert (snap.window_input_tokens, snap.window_output_tokens) == (7, 3)


# --- async ---------------------------------------------------------------------------------


def test_aexecute_falls_over_and_records() -> None:
    env = Env()

    async def fn(service: Service, provider: Provider | None) -> Any:
        if service.model == "a":
            raise _StatusError(502)
        return openai_reply("ok")

    result = asyncio.run(env.selector.aexecute(make_rule("a", "b"), None, fn))
    assert (result.service_id, result.attempt_num) == ("p:b", 2)
    assert not env.health.is_healthy("p:a")


def test_a_cancelled_aexecute_records_nothing_against_the_service() -> None:
    env = Env()

    async def fn(service: Service, provider: Provider | None) -> Any:
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(env.selector.aexecute(make_rule("a", "b"), None, fn))
    assert env.health.is_healthy("p:a")
    assert env.selector.in_flight(Service(provider="p", model="a")) == 0


# --- streams -------------------------------------------------------------------------------


def chunks(model: str, fail_at: int | None = None) -> Iterator[dict[str, Any]]:
    for i in range(3):
        if fail_at == i:
            raise _StatusError(500)
        yield {"choices": [{"delta": {"content": f"{model}{i}"}}]}
    yield {"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 3}}


def test_execute_stream_fails_over_before_the_first_chunk_and_reads_usage_off_chunks() -> None:
    env = Env()
    stream = env.selector.execute_stream(
        make_rule("a", "b"),
        None,
        lambda s, p: chunks(s.model, fail_at=0 if s.model == "a" else None),
    )
    with stream:
        texts = [c["choices"][0]["delta"]["content"] for c in stream if c["choices"]]
    assert texts == ["b0", "b1", "b2"]
    assert stream.service_id == "p:b"
    snap = env.selector.stats.snapshot(Service(provider="p", model="b"))
    assert (snap.window_input_tokens, snap.window_output_tokens, snap.ttft_sample_count) == (
        50,
        3,
        1,
    )
    assert not env.health.is_healthy("p:a")


def test_a_stream_that_breaks_after_its_first_chunk_raises_and_blames_the_service() -> None:
    env = Env()
    stream = env.selector.execute_stream(make_rule("a", "b"), None, lambda s, p: chunks(s.model, 1))
    with pytest.raises(StreamInterruptedError):
        list(stream)
    assert not env.health.is_healthy("p:a")
    assert env.selector.in_flight(Service(provider="p", model="a")) == 0


def test_aexecute_stream_reads_usage_and_ttft() -> None:
    env = Env()

    async def fn(service: Service, provider: Provider | None) -> AsyncIterator[dict[str, Any]]:
        for chunk in chunks(service.model):
            yield chunk

    async def run() -> list[Any]:
        stream = await env.selector.aexecute_stream(make_rule("a"), None, fn)
        async with stream:
            return [chunk async for chunk in stream]

    assert len(asyncio.run(run())) == 4
    snap = env.selector.stats.snapshot(Service(provider="p", model="a"))
    assert (snap.window_input_tokens, snap.ttft_sample_count) == (50, 1)


# --- end to end with the real SDKs ---------------------------------------------------------


def sdk_setup(server: FakeLLMServer) -> tuple[ServiceSelector, HealthMonitor, FakeClock, Rule]:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    providers = [
        Provider(name="oa", api_base=server.url("oa"), api_style="openai", token="sk-test"),
        Provider(name="an", api_base=server.url("an"), api_style="anthropic", token="sk-ant"),
    ]
    rule = Rule.model_validate(
        {
            "uuid": "chat",
            "services": [
                {"provider": "oa", "model": "gpt-4o-mini"},
                {"provider": "an", "model": "claude-haiku"},
            ],
            "lb_tactic": {"type": "round_robin", "params": {"request_threshold": 1}},
        }
    )
    selector = ServiceSelector(providers, health=health, clock=clock, rng=random.Random(1))
    return selector, health, clock, rule


def call_sdk(service: Service, provider: Provider | None) -> Any:
    """The user's own call: returns the SDK's response object (its usage gets recorded)."""
    assert provider is not None
    if provider.api_style == "openai":
        client = openai.OpenAI(
            base_url=provider.api_base, api_key=provider.access_token(), max_retries=0
        )
        return client.chat.completions.create(model=service.model, messages=MESSAGES)  # type: ignore[arg-type]
    aclient = anthropic.Anthropic(
        base_url=provider.api_base, api_key=provider.access_token(), max_retries=0
    )
    return aclient.messages.create(model=service.model, max_tokens=32, messages=MESSAGES)  # type: ignore[arg-type]


def text_of(response: Any) -> str:
    if isinstance(response, anthropic.types.Message):
        return str(response.content[0].text)  # type: ignore[union-attr]
    return str(response.choices[0].message.content)


def test_sdk_rate_limit_falls_over_and_cools_the_service_for_its_retry_after(
    server: FakeLLMServer,
) -> None:
    selector, health, clock, rule = sdk_setup(server)
    server.script("oa", [rate_limited(retry_after=30)])
    result = selector.execute(rule, {"messages": MESSAGES}, call_sdk)
    assert (text_of(result.response), result.service_id) == ("hello from an", "an:claude-haiku")
    assert isinstance(result.attempts[0].error, openai.RateLimitError)
    assert health.cooldown_remaining("oa:gpt-4o-mini") == 30.0
    snap = selector.stats.snapshot(Service(provider="an", model="claude-haiku"))
    assert (snap.window_input_tokens, snap.window_output_tokens) == (5, 4)

    again = selector.execute(rule, {"messages": MESSAGES}, call_sdk)
    assert again.service_id == "an:claude-haiku" and server.calls("oa") == 1
    clock.advance(30)
    healed = selector.execute(rule, {"messages": MESSAGES}, call_sdk)
    assert healed.service_id == "oa:gpt-4o-mini"


def test_sdk_auth_error_flags_the_service(server: FakeLLMServer) -> None:
    selector, health, _, rule = sdk_setup(server)
    server.script("oa", [unauthorized()])
    result = selector.execute(rule, None, call_sdk)
    assert result.service_id == "an:claude-haiku"
    assert health.get_health("oa:gpt-4o-mini").auth_error


def test_sdk_server_error_marks_the_service_unhealthy(server: FakeLLMServer) -> None:
    selector, health, _, rule = sdk_setup(server)
    server.script("oa", [server_error()])
    assert selector.execute(rule, None, call_sdk).service_id == "an:claude-haiku"
    assert not health.is_healthy("oa:gpt-4o-mini")


def test_sdk_bad_request_does_not_fail_over(server: FakeLLMServer) -> None:
    selector, health, _, rule = sdk_setup(server)
    server.script("oa", [bad_request()])
    with pytest.raises(AllProvidersFailedError) as caught:
        selector.execute(rule, None, call_sdk)
    assert isinstance(caught.value.__cause__, openai.BadRequestError)
    assert server.calls("an") == 0
    assert health.is_healthy("oa:gpt-4o-mini")


def test_sdk_async_clients_through_aexecute(server: FakeLLMServer) -> None:
    selector, health, _, rule = sdk_setup(server)
    server.script("oa", [server_error()])

    async def call(service: Service, provider: Provider | None) -> str:
        assert provider is not None
        if provider.api_style == "openai":
            client = openai.AsyncOpenAI(
                base_url=provider.api_base, api_key=provider.access_token(), max_retries=0
            )
            reply = await client.chat.completions.create(model=service.model, messages=MESSAGES)  # type: ignore[arg-type]
            return str(reply.choices[0].message.content)
        aclient = anthropic.AsyncAnthropic(
            base_url=provider.api_base, api_key=provider.access_token(), max_retries=0
        )
        message = await aclient.messages.create(
            model=service.model,
            max_tokens=32,
            messages=MESSAGES,  # type: ignore[arg-type]
        )
        return str(message.content[0].text)  # type: ignore[union-attr]

    result = asyncio.run(selector.aexecute(rule, None, call))
    assert result.service_id == "an:claude-haiku"
    assert not health.is_healthy("oa:gpt-4o-mini")


def test_sdk_stream_through_execute_stream_records_usage_from_anthropic_events(
    server: FakeLLMServer,
) -> None:
    selector, _, _, rule = sdk_setup(server)
    server.script("oa", [server_error()])

    def stream(service: Service, provider: Provider | None) -> Any:
        assert provider is not None
        if provider.api_style == "openai":
            client = openai.OpenAI(base_url=provider.api_base, api_key="k", max_retries=0)
            return client.chat.completions.create(
                model=service.model,
                messages=MESSAGES,  # type: ignore[arg-type]
                stream=True,
            )
        aclient = anthropic.Anthropic(base_url=provider.api_base, api_key="k", max_retries=0)
        return aclient.messages.create(
            model=service.model,
            max_tokens=32,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
        )

    with selector.execute_stream(rule, None, stream) as result:
        events = list(result)
    assert result.service_id == "an:claude-haiku"
    assert events[0].type == "message_start"
    snap = selector.stats.snapshot(Service(provider="an", model="claude-haiku"))
    assert (snap.window_input_tokens, snap.window_output_tokens, snap.ttft_sample_count) == (
        5,
        4,
        1,
    )


def test_the_cached_failover_order_is_the_selections_fallback_order() -> None:
    env = Env(threshold=1000)
    rule = make_rule("a", "b", "c", "d", tactic="random")
    for _ in range(20):
        fn = Scripted({"a": 500, "b": 500, "c": 500, "d": 500})
        with pytest.raises(AllProvidersFailedError):
            env.selector.execute(rule, {"messages": MESSAGES}, fn)
        chosen = fn.calls[0]
        assert fn.calls == [chosen, *(m for m in "abcd" if m != chosen)]


def test_an_unhealthy_service_goes_last_in_the_failover_order() -> None:
    env = Env(threshold=1)
    rule = make_rule("a", "b", "c", tactic="round_robin")
    env.health.report_error("p:b", 500)
    fn = Scripted({"a": 500, "c": 500})
    result = env.selector.execute(rule, {"messages": MESSAGES}, fn)
    assert fn.calls == ["a", "c", "b"]
    assert result.service_id == "p:b"


class ClosableStream:
    """An SDK-like stream object: iterable, and holding a connection that close() releases."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return chunks("a")

    def close(self) -> None:
        self.closed = True


def test_closing_a_selector_stream_early_closes_the_providers_stream() -> None:
    env = Env()
    source = ClosableStream()
    stream = env.selector.execute_stream(make_rule("a"), None, lambda s, p: source)
    next(iter(stream))
    stream.close()
    assert source.closed


def test_an_async_stream_fn_returning_something_else_is_a_clear_type_error() -> None:
    env = Env()

    async def run() -> None:
        await env.selector.aexecute_stream(make_rule("a"), None, lambda s, p: 42)  # type: ignore[arg-type, return-value]

    with pytest.raises(TypeError, match="async iterable"):
        asyncio.run(run())
