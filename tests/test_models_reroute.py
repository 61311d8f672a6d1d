"""Request-scoped rerouting with the real openai / anthropic SDKs against the local fake
server: a context-length error moves on to a larger window, a content-policy refusal to
another provider, and neither touches health."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from fake_llm_server import FakeLLMServer, context_length, error

from llmroute import AllProvidersFailedError, HealthMonitor, ServiceSelector
from llmroute.config import HealthConfig, RoutingConfig
from llmroute.testing import FakeClock

MESSAGES = [{"role": "user", "content": "Say hello"}]


def _selector(services: list[dict[str, Any]], models: dict[str, Any]) -> ServiceSelector:
    names = sorted({s["provider"] for s in services})
    config = RoutingConfig.model_validate(
        {
            "providers": [{"name": n, "api_base": "http://127.0.0.1", "token": "t"} for n in names],
            "models": models,
            "rules": [{"uuid": "r", "services": services, "lb_tactic": {"type": "round_robin"}}],
        }
    )
    clock = FakeClock(1000.0)
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    return ServiceSelector(config, health=health, clock=clock)


def _all_healthy(selector: ServiceSelector) -> bool:
    health, config = selector.health, selector.config
    assert health is not None and config is not None
    return all(health.is_healthy(s.service_id) for s in config.rules[0].services)


def _openai_call(server: FakeLLMServer) -> Any:
    def call(service: Any, provider: Any) -> Any:
        client = openai.OpenAI(base_url=server.url(service.model), api_key="k", max_retries=0)
        return client.chat.completions.create(model=service.model, messages=MESSAGES)

    return call


WINDOWS = {"small-32k": {"context_window": 32_000}, "tiny-16k": {"context_window": 16_000}}


def test_context_length_moves_to_the_larger_window_not_the_smaller(server: FakeLLMServer) -> None:
    selector = _selector(
        [
            {"provider": "a", "model": "small-32k"},
            {"provider": "b", "model": "tiny-16k"},
            {"provider": "c", "model": "large-200k"},
        ],
        {**WINDOWS, "large-200k": {"context_window": 200_000}},
    )
    server.script("small-32k", [context_length()])
    result = selector.execute("r", {"messages": MESSAGES}, _openai_call(server))
    assert result.service.model == "large-200k"
    assert server.calls("tiny-16k") == 0  # passed over: its window is smaller
    assert [a.kind.value for a in result.attempts] == ["context_length"]
    assert _all_healthy(selector)


def test_context_length_tries_unknown_windows_after_known_larger_ones(
    server: FakeLLMServer,
) -> None:
    selector = _selector(
        [
            {"provider": "a", "model": "small-32k"},
            {"provider": "b", "model": "mystery"},
            {"provider": "c", "model": "large-200k"},
        ],
        {**WINDOWS, "large-200k": {"context_window": 200_000}},
    )
    server.script("small-32k", [context_length()])
    server.script("large-200k", [error(500, "boom")])
    result = selector.execute("r", {"messages": MESSAGES}, _openai_call(server))
    assert [a.provider for a in result.attempts] == ["a:small-32k", "c:large-200k"]
    assert result.service.model == "mystery"


def test_context_length_with_no_larger_window_fails_without_calling_smaller_ones(
    server: FakeLLMServer,
) -> None:
    selector = _selector(
        [{"provider": "a", "model": "small-32k"}, {"provider": "b", "model": "tiny-16k"}],
        WINDOWS,
    )
    server.script("small-32k", [context_length()])
    with pytest.raises(AllProvidersFailedError):
        selector.execute("r", {"messages": MESSAGES}, _openai_call(server))
    assert server.calls("tiny-16k") == 0


def test_content_policy_moves_to_another_provider(server: FakeLLMServer) -> None:
    refusal = error(
        400, "Your request was rejected by the safety system.", code="content_policy_violation"
    )
    selector = _selector(
        [
            {"provider": "anth", "model": "claude-a"},
            {"provider": "anth", "model": "claude-b"},
            {"provider": "other", "model": "gpt-x"},
        ],
        {"claude-*": {"context_window": 200_000}},
    )
    server.script("claude-a", [refusal])

    def call(service: Any, provider: Any) -> Any:
        if service.provider == "anth":
            client = anthropic.Anthropic(
                base_url=server.url(service.model), api_key="k", max_retries=0
            )
            return client.messages.create(model=service.model, max_tokens=10, messages=MESSAGES)
        return _openai_call(server)(service, provider)

    result = selector.execute("r", {"messages": MESSAGES}, call)
    assert result.service.model == "gpt-x"
    assert server.calls("claude-b") == 0  # same provider: it would refuse too
    assert result.attempts[0].kind.value == "content_policy"
    assert _all_healthy(selector)


def test_other_failures_keep_the_chain_order(server: FakeLLMServer) -> None:
    selector = _selector(
        [
            {"provider": "a", "model": "small-32k"},
            {"provider": "b", "model": "tiny-16k"},
            {"provider": "c", "model": "large-200k"},
        ],
        {**WINDOWS, "large-200k": {"context_window": 200_000}},
    )
    server.script("small-32k", [error(500, "boom")])
    result = selector.execute("r", {"messages": MESSAGES}, _openai_call(server))
    assert result.service.model == "tiny-16k"
    assert server.calls("large-200k") == 0
