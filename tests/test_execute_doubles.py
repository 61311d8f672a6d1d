"""The test doubles for execute(): llmroute.testing's ScriptedProvider and FakeAPIError, and
the fake LLM server the end-to-end tests (and examples) use."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from fake_llm_server import FakeLLMServer, ok, rate_limited

from llmroute import FailureKind, classify_error
from llmroute.testing import FakeAPIError, ScriptedProvider

K = FailureKind


def test_scripted_provider_follows_its_script_then_repeats_the_last_step() -> None:
    provider = ScriptedProvider("a", FakeAPIError(500), ValueError, "ok")
    with pytest.raises(FakeAPIError):
        provider("req")
    with pytest.raises(ValueError):
        provider()
    assert [provider(), provider()] == ["ok", "ok"]
    assert provider.calls == 4
    assert provider.requests[0] == (("req",), {})


def test_scripted_provider_streams_and_raises_inside_a_stream() -> None:
    provider = ScriptedProvider("a", [1, 2], [3, RuntimeError("broke")])
    assert list(provider.stream()) == [1, 2]
    chunks = provider.stream()
    assert next(chunks) == 3
    with pytest.raises(RuntimeError):
        next(chunks)


def test_scripted_provider_async_forms() -> None:
    provider = ScriptedProvider("a", "x", ["y", "z"])

    async def main() -> tuple[object, list[object]]:
        first = await provider.acall()
        return first, [chunk async for chunk in provider.astream()]

    assert asyncio.run(main()) == ("x", ["y", "z"])


def test_scripted_provider_needs_a_step() -> None:
    with pytest.raises(ValueError):
        ScriptedProvider("a")


@pytest.mark.parametrize(
    ("error", "kind", "retry_after"),
    [
        (FakeAPIError(429, retry_after=20), K.RATE_LIMIT, 20.0),
        (FakeAPIError(401), K.AUTH, None),
        (FakeAPIError(500), K.SERVER, None),
        (FakeAPIError(400), K.BAD_REQUEST, None),
        (FakeAPIError(400, code="context_length_exceeded"), K.CONTEXT_LENGTH, None),
    ],
)
def test_fake_api_error_classifies_like_an_sdk_error(
    error: FakeAPIError, kind: FailureKind, retry_after: float | None
) -> None:
    failure = classify_error(error)
    assert (failure.kind, failure.status_code, failure.retry_after) == (
        kind,
        error.status_code,
        retry_after,
    )


def post(url: str, body: dict[str, object]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_fake_server_plays_each_providers_script_then_the_default() -> None:
    with FakeLLMServer() as server:
        server.script("p", [rate_limited(retry_after=3)], then=ok("fine"))
        url = server.url("p") + "/v1/chat/completions"
        status, headers, _ = post(url, {"model": "m", "messages": []})
        assert (status, headers.get("retry-after")) == (429, "3")
        status, _, body = post(url, {"model": "m", "messages": []})
        assert json.loads(body)["choices"][0]["message"]["content"] == "fine"
        status, _, body = post(server.url("q") + "/v1/messages", {"model": "m"})
        assert json.loads(body)["content"][0]["text"] == "hello from q"
        assert [r.dialect for r in server.requests()] == ["openai", "openai", "anthropic"]
        assert (server.calls("p"), server.calls("q")) == (2, 1)


def test_fake_server_answers_unknown_routes_with_404() -> None:
    with FakeLLMServer() as server:
        status, _, _ = post(server.url("p") + "/v1/embeddings", {})
        assert status == 404


def test_fake_server_url_needs_a_running_server_and_a_plain_name() -> None:
    server = FakeLLMServer()
    with pytest.raises(RuntimeError):
        server.url("p")
    with server, pytest.raises(ValueError):
        server.url("a/b")
