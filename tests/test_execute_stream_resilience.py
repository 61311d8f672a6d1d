"""Stream resilience: only content commits a stream (what came before it is held and then
delivered), the stall timeout after the commit, the sync first-chunk timeout (a worker
thread), and hedging (the async forms and aexecute). Waits are events; where a time limit
must run out it is tens of milliseconds."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import anthropic.types as at
import openai
import openai.types.chat as oc
import openai.types.responses as orr
import pytest
from execute_helpers import Recorder, monitor
from fake_llm_server import FakeLLMServer, ok, stall

from llmroute import (
    AllProvidersFailedError,
    FailureKind,
    HealthConfig,
    HealthMonitor,
    Provider,
    Rule,
    Service,
    ServiceSelector,
    StreamInterruptedError,
    aexecute,
    aexecute_stream,
    execute_stream,
)
from llmroute.execute import default_commits
from llmroute.testing import FakeAPIError, FakeClock

K = FailureKind
ROLE = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
EMPTY = {"choices": [{"index": 0, "delta": {}, "finish_reason": None}]}


def text(word: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": {"content": word}}]}


def chunks(*items: Any) -> Iterator[Any]:
    for item in items:
        if isinstance(item, BaseException):
            raise item
        yield item


async def achunks(*items: Any) -> AsyncIterator[Any]:
    for item in chunks(*items):
        yield item


# -- what commits -----------------------------------------------------------------------------

COMMITS = [
    (ROLE, False),
    (EMPTY, False),
    ({"choices": [], "usage": {"prompt_tokens": 3}}, False),
    (text("hi"), True),
    ({"choices": [{"delta": {"tool_calls": [{"index": 0}]}}]}, True),
    ({"choices": [{"delta": {}, "finish_reason": "stop"}]}, True),
    ({"type": "message_start", "message": {"usage": {"input_tokens": 3}}}, False),
    ({"type": "ping"}, False),
    ({"type": "content_block_start", "content_block": {"type": "text", "text": ""}}, False),
    ({"type": "content_block_start", "content_block": {"type": "tool_use", "id": "t"}}, True),
    ({"type": "content_block_delta", "delta": {"type": "text_delta", "text": ""}}, False),
    ({"type": "content_block_delta", "delta": {"type": "text_delta", "text": "a"}}, True),
    ({"type": "content_block_delta", "delta": {"partial_json": '{"a'}}, True),
    ({"type": "message_delta", "delta": {"stop_reason": "end_turn"}}, True),
    ({"type": "response.created", "response": {}}, False),
    ({"type": "response.in_progress"}, False),
    ({"type": "response.output_item.added"}, False),
    ({"type": "response.output_text.delta", "delta": ""}, False),
    ({"type": "response.output_text.delta", "delta": "x"}, True),
    ({"type": "response.completed"}, True),
    (": keep-alive", False),
    ("", False),
    (b"event: ping", False),
    ('data: {"type": "ping"}', False),
    ('data: {"choices": [{"delta": {"content": "x"}}]}', True),
    ("data: [DONE]", True),
    (None, False),
    ("plain text", True),
    (42, True),
]


@pytest.mark.parametrize(("chunk", "expected"), COMMITS)
def test_default_commits_reads_dict_chunks_events_and_sse_lines(chunk: Any, expected: bool) -> None:
    assert default_commits(chunk) is expected


def test_default_commits_reads_sdk_objects() -> None:
    base = {"id": "c", "created": 0, "model": "m", "object": "chat.completion.chunk"}
    role = oc.ChatCompletionChunk.model_validate({**base, "choices": [{**ROLE["choices"][0]}]})
    word = oc.ChatCompletionChunk.model_validate({**base, "choices": [text("hi")["choices"][0]]})
    ping_like = at.RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "m",
                "type": "message",
                "role": "assistant",
                "model": "claude",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 0},
            },
        }
    )
    delta = at.RawContentBlockDeltaEvent.model_validate(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}}
    )
    created = orr.ResponseTextDeltaEvent.model_construct(
        type="response.output_text.delta", delta=""
    )
    assert [default_commits(x) for x in (role, word, ping_like, delta, created)] == [
        False,
        True,
        False,
        True,
        False,
    ]


# -- commit and fail-over (scripted) ----------------------------------------------------------


def test_a_role_only_delta_then_a_failure_fails_over() -> None:
    health = monitor()
    fns = {"a": lambda: chunks(ROLE, FakeAPIError(500)), "b": lambda: chunks(ROLE, text("hi"))}
    result = execute_stream(["a", "b"], lambda p: fns[p](), cooldown=health)
    assert (result.provider, result.attempt_num) == ("b", 2)
    assert list(result) == [ROLE, text("hi")]  # nothing of a, nothing of b lost
    assert result.chunks_delivered == 2
    assert result.attempts[0].kind is K.SERVER
    assert not health.is_available("a")


def test_chunks_before_the_commit_are_held_then_delivered_in_order() -> None:
    hooks = Recorder()
    items = [ROLE, EMPTY, text("a"), text("b")]
    result = execute_stream(["a"], lambda p: chunks(*items), hooks=hooks)
    assert hooks.events == [("started", "a"), ("first_chunk", "a")]
    assert list(result) == items
    assert hooks.events[-1] == ("succeeded", "a")


def test_the_commit_predicate_is_replaceable() -> None:
    fns = {"a": lambda: chunks("warming", FakeAPIError(503)), "b": lambda: chunks("go", "on")}
    result = execute_stream(["a", "b"], lambda p: fns[p](), commits=lambda c: c == "go")
    assert (result.provider, list(result)) == ("b", ["go", "on"])


def test_a_stream_that_ends_before_committing_delivers_what_it_sent() -> None:
    hooks = Recorder()
    result = execute_stream(["a", "b"], lambda p: chunks(ROLE), hooks=hooks)
    assert (result.provider, result.completed, list(result)) == ("a", True, [ROLE])
    assert hooks.events == [("started", "a"), ("succeeded", "a")]


def test_async_a_role_only_delta_then_a_failure_fails_over() -> None:
    fns = {"a": lambda: achunks(ROLE, FakeAPIError(500)), "b": lambda: achunks(text("hi"))}

    async def main() -> tuple[str, list[Any]]:
        result = await aexecute_stream(["a", "b"], lambda p: fns[p]())
        return result.provider, [c async for c in result]

    assert asyncio.run(main()) == ("b", [text("hi")])


# -- stall timeout ----------------------------------------------------------------------------


class Blocking:
    """A sync stream like an SDK's: its reads block on an event; close() sets it (as closing
    an HTTP response ends a blocked read) and the read then fails."""

    def __init__(self, before: list[Any], block_first: bool = False) -> None:
        self.before = before
        self.released = threading.Event()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[Any]:
        yield from self.before
        self.released.wait()
        raise ConnectionError("response closed")

    def close(self) -> None:
        self.closed.set()
        self.released.set()


def test_a_sync_stream_that_stalls_after_its_commit_is_interrupted() -> None:
    health = monitor()
    source = Blocking([ROLE, text("one")])
    result = execute_stream(["a", "b"], lambda p: source, stall_timeout=0.03, cooldown=health)
    received = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in result:
            received.append(chunk)
    assert received == [ROLE, text("one")]
    assert (caught.value.provider, caught.value.chunks_delivered) == ("a", 2)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert "no chunk from provider a for 0.03s" in str(caught.value.__cause__)
    assert source.closed.is_set()
    assert not health.is_available("a")


def test_an_async_stream_that_stalls_after_its_commit_is_interrupted() -> None:
    never = asyncio.Event()
    closed: list[bool] = []

    async def gen(provider: str) -> AsyncIterator[Any]:
        try:
            yield text("one")
            await never.wait()
            yield text("late")
        finally:
            closed.append(True)

    async def main() -> tuple[list[Any], StreamInterruptedError]:
        result = await aexecute_stream(["a", "b"], gen, stall_timeout=0.02)
        got: list[Any] = []
        with pytest.raises(StreamInterruptedError) as caught:
            async for chunk in result:
                got.append(chunk)
        return got, caught.value

    got, error = asyncio.run(main())
    assert got == [text("one")]
    assert isinstance(error.__cause__, TimeoutError) and error.failure is not None
    assert error.failure.kind is K.TIMEOUT
    assert closed == [True]


def test_chunks_within_the_stall_timeout_stream_through() -> None:
    result = execute_stream(["a"], lambda p: chunks(text("a"), text("b")), stall_timeout=5)
    assert list(result) == [text("a"), text("b")]
    assert result.completed


# -- the sync first-chunk timeout -------------------------------------------------------------


def test_a_silent_sync_provider_is_abandoned_after_the_first_chunk_timeout() -> None:
    silent = Blocking([ROLE])  # a role-only delta, then nothing
    hooks = Recorder()
    fns = {"a": lambda: silent, "b": lambda: chunks(text("b"))}
    result = execute_stream(["a", "b"], lambda p: fns[p](), first_chunk_timeout=0.03, hooks=hooks)
    assert (result.provider, list(result)) == ("b", [text("b")])
    (attempt,) = result.attempts
    assert attempt.kind is K.TIMEOUT and "no chunk from provider a within 0.03s" in str(
        attempt.error
    )
    assert silent.closed.is_set()
    assert hooks.events[:2] == [("started", "a"), ("failed", "a", "timeout")]


def test_a_sync_call_that_blocks_is_abandoned_and_its_stream_closed_when_it_returns() -> None:
    release = threading.Event()
    late = Blocking([text("late")])

    def fn(provider: str) -> Any:
        if provider == "a":
            release.wait()  # the call itself hangs: no stream to close yet
            return late
        return chunks(text("b"))

    result = execute_stream(["a", "b"], fn, first_chunk_timeout=0.03)
    assert result.provider == "b"
    release.set()  # the call returns on the worker, which closes what it got
    assert late.closed.wait(2.0)


def test_the_worker_runs_in_the_callers_context() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    seen: list[str] = []

    def fn(provider: str) -> Iterator[Any]:
        seen.append(var.get())
        return chunks(text("x"))

    assert list(execute_stream(["a"], fn, first_chunk_timeout=1)) == [text("x")]
    assert seen == ["caller"]


@pytest.mark.parametrize("name", ["stall_timeout", "first_chunk_timeout"])
def test_a_bad_sync_time_limit_is_a_value_error(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        execute_stream(["a"], lambda p: [1], **{name: 0})


# -- hedging ----------------------------------------------------------------------------------


def test_a_hedged_stream_whose_first_attempt_is_slow_is_served_by_the_second() -> None:
    never = asyncio.Event()
    closed: list[str] = []
    hooks = Recorder()
    health = monitor()

    async def slow() -> AsyncIterator[Any]:
        try:
            yield ROLE  # not content: no commit
            await never.wait()
            yield text("late")
        finally:
            closed.append("a")

    async def main() -> tuple[Any, list[Any]]:
        result = await aexecute_stream(
            ["a", "b", "c"],
            lambda p: slow() if p == "a" else achunks(text(p)),
            hedge_after=0.01,
            hooks=hooks,
            cooldown=health,
        )
        return result, [chunk async for chunk in result]

    result, got = asyncio.run(main())
    assert (result.provider, result.hedges, got) == ("b", 1, [text("b")])
    assert closed == ["a"]
    assert ("failed", "a", "cancelled") in hooks.events
    assert hooks.events.count(("started", "a")) == 1 and ("started", "c") not in hooks.events
    assert health.is_available("a")  # a lost hedge is health-neutral


def test_a_hedged_stream_keeps_the_first_when_it_commits_first() -> None:
    b_started = asyncio.Event()
    never = asyncio.Event()
    closed: list[str] = []

    async def first() -> AsyncIterator[Any]:
        await b_started.wait()
        yield text("a")

    async def second() -> AsyncIterator[Any]:
        b_started.set()
        try:
            await never.wait()
            yield text("b")
        finally:
            closed.append("b")

    async def main() -> tuple[Any, list[Any]]:
        result = await aexecute_stream(
            ["a", "b"], lambda p: first() if p == "a" else second(), hedge_after=0.01
        )
        return result, [chunk async for chunk in result]

    result, got = asyncio.run(main())
    assert (result.provider, result.hedges, got, closed) == ("a", 1, [text("a")], ["b"])


def test_a_hedged_call_that_fails_fast_fails_over_without_a_hedge() -> None:
    fns = {"a": lambda: achunks(FakeAPIError(500)), "b": lambda: achunks(text("b"))}

    async def main() -> Any:
        return await aexecute_stream(["a", "b"], lambda p: fns[p](), hedge_after=5)

    result = asyncio.run(main())
    assert (result.provider, result.hedges, result.attempt_num) == ("b", 0, 2)


def test_hedged_attempts_that_all_fail_raise_all_failed_with_each_attempt() -> None:
    gate = asyncio.Event()

    async def failing(provider: str) -> AsyncIterator[Any]:
        if provider == "a":
            await gate.wait()  # fails only once the hedge has started
        else:
            gate.set()
        raise FakeAPIError(503)
        yield  # pragma: no cover

    with pytest.raises(AllProvidersFailedError) as caught:
        asyncio.run(aexecute_stream(["a", "b"], failing, hedge_after=0.01))
    assert sorted(a.provider for a in caught.value.attempts) == ["a", "b"]


def test_hedged_aexecute_races_whole_responses() -> None:
    never = asyncio.Event()
    cancelled: list[str] = []
    hooks = Recorder()

    async def call(provider: str) -> str:
        if provider == "a":
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append("a")
                raise
        return f"from {provider}"

    result = asyncio.run(aexecute(["a", "b"], call, hedge_after=0.01, hooks=hooks))
    assert (result.response, result.provider, result.hedges) == ("from b", "b", 1)
    assert cancelled == ["a"]
    assert ("failed", "a", "cancelled") in hooks.events and ("succeeded", "b") in hooks.events


def test_aexecute_without_hedging_reports_no_hedges() -> None:
    async def call(provider: str) -> str:
        return provider

    assert asyncio.run(aexecute(["a"], call)).hedges == 0


# -- the real SDKs against the local server ---------------------------------------------------

MESSAGES = [{"role": "user", "content": "Say hello"}]


def oai(server: FakeLLMServer, name: str, *, aio: bool = False) -> Any:
    cls = openai.AsyncOpenAI if aio else openai.OpenAI
    return cls(base_url=server.url(name), api_key="sk-test", max_retries=0)


def ant(server: FakeLLMServer, name: str, *, aio: bool = False) -> Any:
    cls = anthropic.AsyncAnthropic if aio else anthropic.Anthropic
    return cls(base_url=server.url(name), api_key="sk-ant-test", max_retries=0)


def oai_stream(client: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)


def ant_stream(client: Any) -> Any:
    return client.messages.create(model="claude-x", max_tokens=32, messages=MESSAGES, stream=True)


def worker_ends(name: str) -> bool:
    """Whether the worker thread of ``name``'s stream ends (within 2 s)."""
    for thread in threading.enumerate():
        if thread.name == f"llmroute-stream-{name}":
            thread.join(2.0)
            if thread.is_alive():
                return False
    return True


def words(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_sdk_a_role_only_delta_then_an_error_event_fails_over(server: FakeLLMServer) -> None:
    server.script("primary", [ok(role_first=True, fail_after=0)])
    health = monitor()
    clients = {"primary": oai(server, "primary"), "backup": oai(server, "backup")}
    with execute_stream(clients, lambda n: oai_stream(clients[n]), cooldown=health) as result:
        got = list(result)
    assert (result.provider, words(got)) == ("backup", "hello from backup")
    assert isinstance(result.attempts[0].error, openai.APIError)
    assert not health.is_available("primary")


def test_sdk_anthropic_message_start_and_ping_then_an_error_fail_over(
    server: FakeLLMServer,
) -> None:
    server.script("primary", [ok(role_first=True, fail_after=0)])
    clients = {"primary": ant(server, "primary"), "backup": ant(server, "backup")}
    with execute_stream(clients, lambda n: ant_stream(clients[n])) as result:
        types = [event.type for event in result]
    assert result.provider == "backup"
    assert types[:2] == ["message_start", "content_block_start"]
    assert "content_block_delta" in types


def test_sdk_a_stream_that_stalls_after_content_is_interrupted_and_closed(
    server: FakeLLMServer,
) -> None:
    server.script("primary", [ok("one two three", hold_after=1)])
    clients = {"primary": oai(server, "primary"), "backup": oai(server, "backup")}
    result = execute_stream(clients, lambda n: oai_stream(clients[n]), stall_timeout=0.2)
    got: list[Any] = []
    with pytest.raises(StreamInterruptedError) as caught:
        for chunk in result:
            got.append(chunk)
    assert words(got) == "one "
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert server.wait_disconnect("primary")  # the socket was shut: the blocked read ended
    assert server.calls("backup") == 0
    assert worker_ends("primary")


def test_sdk_sync_first_chunk_timeout_abandons_a_silent_provider(server: FakeLLMServer) -> None:
    server.script("primary", [ok(role_first=True, hold_after=0)])
    clients = {"primary": oai(server, "primary"), "backup": oai(server, "backup")}
    with execute_stream(
        clients, lambda n: oai_stream(clients[n]), first_chunk_timeout=0.2
    ) as result:
        got = list(result)
    assert (result.provider, words(got)) == ("backup", "hello from backup")
    assert result.attempts[0].kind is K.TIMEOUT
    assert server.wait_disconnect("primary")
    assert worker_ends("primary")


def test_sdk_a_hedged_stream_is_served_by_the_second_and_the_first_is_closed(
    server: FakeLLMServer,
) -> None:
    server.script("primary", [ok(role_first=True, hold_after=0)])
    clients = {
        "primary": oai(server, "primary", aio=True),
        "backup": oai(server, "backup", aio=True),
    }

    async def main() -> tuple[Any, str]:
        result = await aexecute_stream(clients, lambda n: oai_stream(clients[n]), hedge_after=0.05)
        async with result:
            text = words([chunk async for chunk in result])
        return result, text

    result, got = asyncio.run(main())
    assert (result.provider, result.hedges, got) == ("backup", 1, "hello from backup")
    assert server.wait_disconnect("primary")


def test_sdk_hedged_aexecute_cancels_the_slow_call(server: FakeLLMServer) -> None:
    server.script("primary", [stall()])
    clients = {
        "primary": ant(server, "primary", aio=True),
        "backup": ant(server, "backup", aio=True),
    }

    async def call(name: str) -> str:
        message = await clients[name].messages.create(
            model="claude-x", max_tokens=32, messages=MESSAGES
        )
        return str(message.content[0].text)

    result = asyncio.run(aexecute(clients, call, hedge_after=0.05))
    assert (result.response, result.hedges) == ("hello from backup", 1)
    assert server.wait_disconnect("primary")


# -- the selector's forms ---------------------------------------------------------------------


def selector_env() -> tuple[ServiceSelector, HealthMonitor, Rule]:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(
        [Provider(name="p")], health=health, clock=clock, rng=random.Random(5)
    )
    rule = Rule.model_validate(
        {
            "uuid": "r",
            "services": [
                {"provider": "p", "model": "a"},
                {"provider": "p", "model": "b", "weight": 0},
            ],
            "lb_tactic": {"type": "random"},
        }
    )
    return selector, health, rule


def test_selector_hedged_stream_writes_the_loser_as_a_neutral_cancellation() -> None:
    selector, health, rule = selector_env()
    never = asyncio.Event()

    async def slow() -> AsyncIterator[Any]:
        yield {"type": "message_start", "message": {"usage": {"input_tokens": 7}}}
        await never.wait()
        yield text("late")  # pragma: no cover

    def fn(service: Service, provider: Provider | None) -> AsyncIterator[Any]:
        if service.model == "a":
            return slow()
        return achunks(
            text("b"), {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}}
        )

    async def main() -> tuple[Any, list[Any]]:
        stream = await selector.aexecute_stream(rule, None, fn, hedge_after=0.01)
        return stream, [chunk async for chunk in stream]

    stream, got = asyncio.run(main())
    assert (stream.service_id, stream.hedges, got[0]) == ("p:b", 1, text("b"))
    a, b = Service(provider="p", model="a"), Service(provider="p", model="b")
    assert (selector.in_flight(a), selector.in_flight(b)) == (0, 0)
    assert health.is_healthy("p:a")
    assert selector.stats.snapshot(b).window_input_tokens == 5
    assert selector.stats.snapshot(a).request_count == 0


def test_selector_hedged_aexecute_and_sync_stream_limits() -> None:
    selector, health, rule = selector_env()
    never = asyncio.Event()

    async def call(service: Service, provider: Provider | None) -> str:
        if service.model == "a":
            await never.wait()
        return service.model

    routed = asyncio.run(selector.aexecute(rule, None, call, hedge_after=0.01))
    assert (routed.response, routed.hedges, routed.service_id) == ("b", 1, "p:b")
    assert selector.in_flight(Service(provider="p", model="a")) == 0
    assert health.is_healthy("p:a")

    def sync_fn(service: Service, provider: Provider | None) -> Any:
        if service.model == "a":
            return Blocking([ROLE])
        return chunks(text("b"))

    stream = selector.execute_stream(rule, None, sync_fn, first_chunk_timeout=0.03, stall_timeout=5)
    assert (stream.service_id, list(stream), stream.hedges) == ("p:b", [text("b")], 0)
    assert stream.attempts[0].kind is K.TIMEOUT


def test_at_most_two_hedged_attempts_run_at_once() -> None:
    b_started = asyncio.Event()
    release_a = asyncio.Event()
    never = asyncio.Event()
    started: list[str] = []

    async def gen(provider: str) -> AsyncIterator[Any]:
        started.append(provider)
        if provider == "b":
            b_started.set()
            await never.wait()
        await release_a.wait()
        yield text(provider)

    async def main() -> Any:
        task = asyncio.create_task(aexecute_stream(["a", "b", "c"], gen, hedge_after=0.005))
        await b_started.wait()
        await asyncio.sleep(0.03)  # six hedge windows: still no third attempt
        release_a.set()
        return await task

    result = asyncio.run(main())
    assert (result.provider, result.hedges, started) == ("a", 1, ["a", "b"])


def test_cancelling_a_hedged_call_cancels_and_records_both_attempts() -> None:
    selector, health, rule = selector_env()
    both = asyncio.Event()
    count: list[str] = []

    async def call(service: Service, provider: Provider | None) -> str:
        count.append(service.model)
        if len(count) == 2:
            both.set()
        await asyncio.Event().wait()
        return "never"  # pragma: no cover

    async def main() -> None:
        task = asyncio.create_task(selector.aexecute(rule, None, call, hedge_after=0.005))
        await both.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert sorted(count) == ["a", "b"]
    for model in ("a", "b"):
        assert selector.in_flight(Service(provider="p", model=model)) == 0
        assert health.is_healthy(f"p:{model}")


def test_round_robin_does_not_hedge() -> None:
    from llmroute.execute import RoundRobinCounter

    never = asyncio.Event()
    started: list[str] = []

    async def call(provider: str) -> str:
        started.append(provider)
        if len(started) == 1:
            await asyncio.wait_for(never.wait(), 0.03)  # slow, then a timeout: no fallback
        return provider

    with pytest.raises(AllProvidersFailedError):
        asyncio.run(
            aexecute(
                ["a", "b"],
                call,
                strategy="round_robin",
                counter=RoundRobinCounter(),
                hedge_after=0.005,
            )
        )
    assert started == ["a"]


def test_sdk_selector_sync_stall_shuts_the_tapped_stream(server: FakeLLMServer) -> None:
    selector, health, rule = selector_env()
    server.script("a", [ok("one two three", hold_after=1)])
    clients = {"a": oai(server, "a"), "b": oai(server, "b")}

    def fn(service: Service, provider: Provider | None) -> Any:
        return oai_stream(clients[service.model])

    stream = selector.execute_stream(rule, None, fn, stall_timeout=0.2)
    got: list[Any] = []
    with pytest.raises(StreamInterruptedError):
        for chunk in stream:
            got.append(chunk)
    assert (stream.service_id, words(got)) == ("p:a", "one ")
    assert server.wait_disconnect("a") and worker_ends("p:a")
    assert not health.is_healthy("p:a")  # a stall is the provider's failure
    assert selector.in_flight(Service(provider="p", model="a")) == 0
