"""End to end with the real SDKs: openai and anthropic clients (sync and async) pointed at the
local fake server, driven through execute() / aexecute() / the stream forms, with a
HealthMonitor on a fake clock as the cooldown tracker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import anthropic
import openai
import pytest
from execute_helpers import monitor
from fake_llm_server import (
    FakeLLMServer,
    bad_request,
    context_length,
    ok,
    overloaded,
    rate_limited,
    server_error,
    stall,
    unauthorized,
)

from llmroute import (
    AllProvidersFailedError,
    FailureKind,
    HealthMonitor,
    StreamInterruptedError,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from llmroute.testing import FakeClock

K = FailureKind
MESSAGES = [{"role": "user", "content": "Say hello"}]


@dataclass(frozen=True)
class Backend:
    """A provider as the user's app knows it: a name and an SDK client."""

    name: str
    client: Any


@pytest.fixture
def health() -> HealthMonitor:
    return monitor(threshold=1)


def openai_backend(server: FakeLLMServer, name: str, *, aio: bool = False) -> Backend:
    cls = openai.AsyncOpenAI if aio else openai.OpenAI
    return Backend(name, cls(base_url=server.url(name), api_key="sk-test-key", max_retries=0))


def anthropic_backend(server: FakeLLMServer, name: str, *, aio: bool = False) -> Backend:
    cls = anthropic.AsyncAnthropic if aio else anthropic.Anthropic
    return Backend(name, cls(base_url=server.url(name), api_key="sk-ant-test", max_retries=0))


def complete(backend: Backend) -> str:
    client = backend.client
    if isinstance(client, openai.OpenAI):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return str(reply.choices[0].message.content)
    message = client.messages.create(model="claude-x", max_tokens=32, messages=MESSAGES)
    return str(message.content[0].text)


async def acomplete(backend: Backend) -> str:
    client = backend.client
    if isinstance(client, openai.AsyncOpenAI):
        reply = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        return str(reply.choices[0].message.content)
    message = await client.messages.create(model="claude-x", max_tokens=32, messages=MESSAGES)
    return str(message.content[0].text)


def test_a_429_falls_back_and_cools_down_for_exactly_its_retry_after(
    server: FakeLLMServer,
) -> None:
    clock = FakeClock()
    health = HealthMonitor(clock=clock)
    server.script("primary", [rate_limited(retry_after=20)])
    backends = [openai_backend(server, "primary"), anthropic_backend(server, "backup")]

    result = execute(backends, complete, cooldown=health)
    assert (result.response, result.provider, result.attempt_num) == (
        "hello from backup",
        "backup",
        2,
    )
    (attempt,) = result.attempts
    assert isinstance(attempt.error, openai.RateLimitError)
    assert (attempt.kind, attempt.failure.retry_after) == (K.RATE_LIMIT, 20.0)
    assert health.get_health("primary").rate_limited
    assert health.cooldown_remaining("primary") == 20.0

    again = execute(backends, complete, cooldown=health)
    assert (again.provider, again.attempt_num, server.calls("primary")) == ("backup", 1, 1)

    clock.advance(20)
    healed = execute(backends, complete, cooldown=health)
    assert (healed.response, server.calls("primary")) == ("hello from primary", 2)


def test_a_401_sets_the_auth_flag_and_falls_back(
    server: FakeLLMServer, health: HealthMonitor
) -> None:
    server.script("primary", [unauthorized()])
    backends = [anthropic_backend(server, "primary"), openai_backend(server, "backup")]
    result = execute(backends, complete, cooldown=health)
    assert result.provider == "backup"
    assert isinstance(result.attempts[0].error, anthropic.AuthenticationError)
    state = health.get_health("primary")
    assert (state.auth_error, state.healthy) == (True, False)


def test_500_and_529_are_server_errors_that_fall_over_to_the_terminus(
    server: FakeLLMServer, health: HealthMonitor
) -> None:
    server.script("one", [server_error()])
    server.script("two", [overloaded()])
    backends = [
        openai_backend(server, "one"),
        anthropic_backend(server, "two"),
        openai_backend(server, "three"),
    ]
    result = execute(backends, complete, cooldown=health)
    assert (result.provider, result.attempt_num, result.was_terminus) == ("three", 3, True)
    assert [(a.kind, a.failure.status_code) for a in result.attempts] == [
        (K.SERVER, 500),
        (K.SERVER, 529),
    ]
    assert isinstance(result.attempts[0].error, openai.InternalServerError)
    assert isinstance(result.attempts[1].error, anthropic.APIStatusError)
    assert not health.is_available("one") and not health.is_available("two")


def test_a_400_does_not_fail_over(server: FakeLLMServer, health: HealthMonitor) -> None:
    server.script("primary", [bad_request()])
    backends = [openai_backend(server, "primary"), openai_backend(server, "backup")]
    with pytest.raises(AllProvidersFailedError) as caught:
        execute(backends, complete, cooldown=health)
    assert isinstance(caught.value.__cause__, openai.BadRequestError)
    assert server.calls("backup") == 0
    assert health.get_health("primary").error_count == 0
    assert caught.value.untried == ("backup",)


def test_a_context_length_400_fails_over_without_blaming_the_provider(
    server: FakeLLMServer, health: HealthMonitor
) -> None:
    server.script("small", [context_length()])
    backends = [anthropic_backend(server, "small"), openai_backend(server, "large")]
    result = execute(backends, complete, cooldown=health)
    assert (result.provider, result.attempts[0].kind) == ("large", K.CONTEXT_LENGTH)
    assert health.is_available("small")


def test_async_clients_fall_back_and_record_health(server: FakeLLMServer) -> None:
    clock = FakeClock()
    health = HealthMonitor(clock=clock)
    server.script("primary", [rate_limited(retry_after=7)])
    server.script("secondary", [server_error()])
    backends = [
        openai_backend(server, "primary", aio=True),
        anthropic_backend(server, "secondary", aio=True),
        anthropic_backend(server, "terminus", aio=True),
    ]
    result = asyncio.run(aexecute(backends, acomplete, cooldown=health))
    assert (result.response, result.attempt_num) == ("hello from terminus", 3)
    assert health.cooldown_remaining("primary") == 7.0
    assert health.get_health("secondary").last_error is not None


def test_async_400_does_not_fail_over(server: FakeLLMServer) -> None:
    server.script("primary", [bad_request()])
    backends = [
        anthropic_backend(server, "primary", aio=True),
        openai_backend(server, "backup", aio=True),
    ]
    with pytest.raises(AllProvidersFailedError) as caught:
        asyncio.run(aexecute(backends, acomplete))
    assert isinstance(caught.value.__cause__, anthropic.BadRequestError)
    assert server.calls("backup") == 0


def openai_stream(backend: Backend) -> Any:
    return backend.client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    )


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_a_stream_that_fails_at_the_call_falls_over(
    server: FakeLLMServer, health: HealthMonitor
) -> None:
    server.script("primary", [server_error()])
    backends = [openai_backend(server, "primary"), openai_backend(server, "backup")]
    with execute_stream(backends, openai_stream, cooldown=health) as stream:
        assert (stream.provider, stream.attempt_num) == ("backup", 2)
        assert isinstance(stream.time_to_first_chunk, float)
        assert text_of(list(stream)) == "hello from backup"
    assert stream.completed
    assert not health.is_available("primary")


def test_a_stream_that_breaks_after_its_first_chunk_is_interrupted(
    server: FakeLLMServer, health: HealthMonitor
) -> None:
    server.script("primary", [ok("one two three four", fail_after=2)])
    backends = [openai_backend(server, "primary"), openai_backend(server, "backup")]
    stream = execute_stream(backends, openai_stream, cooldown=health)
    received: list[Any] = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert text_of(received) == "one two "
    assert (caught.value.provider, caught.value.chunks_delivered) == ("primary", 2)
    assert isinstance(caught.value.__cause__, openai.APIError)
    assert server.calls("backup") == 0
    assert not health.is_available("primary")


def test_an_async_anthropic_stream_abandons_a_stalled_provider(server: FakeLLMServer) -> None:
    server.script("primary", [stall()])
    backends = [
        anthropic_backend(server, "primary", aio=True),
        anthropic_backend(server, "backup", aio=True),
    ]

    def create(backend: Backend) -> Any:
        return backend.client.messages.create(
            model="claude-x", max_tokens=32, messages=MESSAGES, stream=True
        )

    async def main() -> tuple[Any, str]:
        async with await aexecute_stream(backends, create, first_chunk_timeout=0.5) as stream:
            text = "".join(
                [event.delta.text async for event in stream if event.type == "content_block_delta"]
            )
        return stream, text

    stream, text = asyncio.run(main())
    assert (stream.provider, text) == ("backup", "hello from backup")
    assert stream.attempts[0].kind is K.TIMEOUT
