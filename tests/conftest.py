"""Shared test set-up: a deterministic Hypothesis profile (no deadlines, no flaky seeds), the
local fake LLM server the real SDKs talk to, and the Redis tests' namespace and stores."""

from collections.abc import Iterator
from typing import Any

import pytest
from fake_llm_server import FakeLLMServer
from hypothesis import HealthCheck, settings

settings.register_profile(
    "llmroute",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("llmroute")


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    """The local fake OpenAI/Anthropic server the real SDKs are tested against, running."""
    with FakeLLMServer() as running:
        yield running


@pytest.fixture
def namespace() -> Iterator[str]:
    """A Redis namespace of the test's own, its keys deleted at the end (Redis tests)."""
    import redis_support as rs  # the redis extra: only the Redis tests ask for it

    name = rs.new_namespace()
    yield name
    rs.delete_namespace(name)


@pytest.fixture
def stores(namespace: str) -> Iterator[list[Any]]:
    """The RedisState stores a test makes, closed at the end."""
    made: list[Any] = []
    yield made
    for state in made:
        state.close()
