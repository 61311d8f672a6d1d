"""The real OpenAI SDK behind llmroute: a primary and a backup endpoint, with failover, for
sync, async and streaming calls.

Run from the repository root (the ``openai`` SDK is the ``openai`` extra; llmroute itself
does not depend on it):

    python -m pip install -e '.[openai]'
    OPENAI_API_KEY=sk-... python examples/openai_sdk.py

Environment:

    OPENAI_API_KEY                   required: the primary endpoint's API key
    LLMROUTE_OPENAI_BASE_URL         primary base URL (default https://api.openai.com/v1)
    LLMROUTE_OPENAI_MODEL            primary model (default gpt-4o-mini)
    LLMROUTE_OPENAI_BACKUP_BASE_URL  optional backup: any OpenAI-compatible endpoint (another
                                     account or region, a gateway, a local Ollama or vLLM
                                     server such as http://localhost:11434/v1)
    LLMROUTE_OPENAI_BACKUP_API_KEY   the backup's key (unset: the backup needs none)
    LLMROUTE_OPENAI_BACKUP_MODEL     the backup's model (default: the primary model)

It sends one question with ``selector.execute``, one with ``selector.aexecute`` and one
streamed with ``selector.execute_stream``, and prints which endpoint answered each. The backup
has weight 0: it never wins a draw, so it serves only when the primary fails or is ejected.
Exits 2 when the environment is incomplete, 1 when every endpoint failed.

The SDK clients come from ``llmroute.clients.ClientPool``: one ``OpenAI`` per provider, built
from its ``api_base``, key, ``timeout`` and ``proxy_url``, with ``max_retries=0`` (llmroute
does the failover).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam

from llmroute import (
    AllProvidersFailedError,
    ExecuteResult,
    Provider,
    RoutingConfig,
    Service,
    ServiceSelector,
)
from llmroute.clients import ClientPool

#: Every environment variable this example reads.
ENV_VARS = (
    "OPENAI_API_KEY",
    "LLMROUTE_OPENAI_BASE_URL",
    "LLMROUTE_OPENAI_MODEL",
    "LLMROUTE_OPENAI_BACKUP_BASE_URL",
    "LLMROUTE_OPENAI_BACKUP_API_KEY",
    "LLMROUTE_OPENAI_BACKUP_MODEL",
)
RULE = "chat"


class SetupError(Exception):
    """The environment does not say enough to build the routing configuration."""


def routing_config(env: Mapping[str, str]) -> RoutingConfig:
    """The providers and the one rule, from the environment (see the module docstring)."""
    key = env.get("OPENAI_API_KEY", "").strip()
    if not key:
        raise SetupError(
            "OPENAI_API_KEY is not set; export it (and optionally LLMROUTE_OPENAI_BASE_URL, "
            "LLMROUTE_OPENAI_BACKUP_BASE_URL, ...; see the top of examples/openai_sdk.py)"
        )
    model = env.get("LLMROUTE_OPENAI_MODEL") or "gpt-4o-mini"
    providers: list[dict[str, Any]] = [
        {
            "name": "primary",
            "api_style": "openai",
            "api_base": env.get("LLMROUTE_OPENAI_BASE_URL") or "https://api.openai.com/v1",
            "token": key,
        }
    ]
    services: list[dict[str, Any]] = [{"provider": "primary", "model": model, "weight": 1}]
    backup_url = env.get("LLMROUTE_OPENAI_BACKUP_BASE_URL", "").strip()
    if backup_url:
        backup_key = env.get("LLMROUTE_OPENAI_BACKUP_API_KEY", "").strip()
        providers.append(
            {
                "name": "backup",
                "api_style": "openai",
                "api_base": backup_url,
                "token": backup_key,
                "no_key_required": not backup_key,
            }
        )
        backup_model = env.get("LLMROUTE_OPENAI_BACKUP_MODEL") or model
        services.append({"provider": "backup", "model": backup_model, "weight": 0})
    rule = {
        "uuid": RULE,
        "request_model": RULE,
        "services": services,
        "lb_tactic": {"type": "random"},
    }
    return RoutingConfig.model_validate({"providers": providers, "rules": [rule]})


def _messages(question: str) -> list[ChatCompletionMessageParam]:
    return [
        {"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": question},
    ]


def ask(
    selector: ServiceSelector, pool: ClientPool, question: str
) -> ExecuteResult[ChatCompletion]:
    """One chat completion through ``selector.execute``: the selector picks the service, your
    function makes the call, and a failure moves on to the next service."""
    messages = _messages(question)
    request = {"model": RULE, "messages": messages}  # the body the selector routes on

    def call(service: Service, provider: Provider | None) -> ChatCompletion:
        assert provider is not None  # the selector was built with providers
        client = pool.openai(provider)
        return client.chat.completions.create(model=service.model, messages=messages)

    return selector.execute(RULE, request, call)


async def aask(
    selector: ServiceSelector, pool: ClientPool, question: str
) -> ExecuteResult[ChatCompletion]:
    """:func:`ask` with the async client, through ``selector.aexecute``."""
    messages = _messages(question)
    request = {"model": RULE, "messages": messages}

    async def call(service: Service, provider: Provider | None) -> ChatCompletion:
        assert provider is not None
        client = pool.async_openai(provider)
        return await client.chat.completions.create(model=service.model, messages=messages)

    return await selector.aexecute(RULE, request, call)


class Outcome(NamedTuple):
    """How one call went: ``mode``, the service that ``served``, the ``failed`` attempts
    before it (``"service: kind"``) and the answer's ``text``."""

    mode: str
    served: str
    failed: tuple[str, ...]
    text: str

    def line(self) -> str:
        detail = f" (after {', '.join(self.failed)})" if self.failed else ""
        return f"{self.mode:<6} {self.served}{detail}: {self.text!r}"


def _failed(result: Any) -> tuple[str, ...]:
    return tuple(f"{a.provider}: {a.failure.kind.value}" for a in result.attempts)


def stream(selector: ServiceSelector, pool: ClientPool, question: str) -> Outcome:
    """A streamed answer through ``selector.execute_stream``: failover happens until the first
    chunk arrives; then the stream is committed to that service."""
    messages = _messages(question)
    request = {"model": RULE, "messages": messages, "stream": True}

    def call(service: Service, provider: Provider | None) -> openai.Stream[ChatCompletionChunk]:
        assert provider is not None
        return pool.openai(provider).chat.completions.create(
            model=service.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},  # the last chunk reports tokens
        )

    parts: list[str] = []
    with selector.execute_stream(RULE, request, call) as chunks:
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
    return Outcome("stream", chunks.service_id, _failed(chunks), "".join(parts))


def _outcome(mode: str, result: ExecuteResult[ChatCompletion]) -> Outcome:
    text = result.response.choices[0].message.content or ""
    return Outcome(mode, result.service_id, _failed(result), text)


def run(selector: ServiceSelector) -> list[Outcome]:
    """Ask once sync, once async and once streamed; return how each went."""
    assert selector.config is not None  # built from a config, which the pool reads too
    pool = ClientPool(selector.config)  # one SDK client per provider, made on first use
    try:
        outcomes = [_outcome("sync", ask(selector, pool, "What is a load balancer?"))]

        async def async_part() -> ExecuteResult[ChatCompletion]:
            try:
                return await aask(selector, pool, "What is failover?")
            finally:
                await pool.aclose()

        outcomes.append(_outcome("async", asyncio.run(async_part())))
        outcomes.append(stream(selector, pool, "What is a circuit breaker?"))
        return outcomes
    finally:
        pool.close()


def main() -> int:
    """Run the example with the environment's settings; returns the exit status."""
    try:
        config = routing_config(os.environ)
    except SetupError as exc:
        print(f"openai_sdk.py: {exc}", file=sys.stderr)
        return 2
    selector = ServiceSelector.from_config(config)
    services = ", ".join(s.service_id for s in config.rules[0].services)
    print(f"rule {RULE!r}: {services}")
    try:
        outcomes = run(selector)
    except AllProvidersFailedError as exc:
        print(f"openai_sdk.py: every endpoint failed: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(outcome.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
