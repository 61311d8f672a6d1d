"""The real Anthropic SDK behind llmroute: a primary and a backup endpoint, with failover, for
sync, async and streaming calls.

Run from the repository root (the ``anthropic`` SDK is the ``anthropic`` extra; llmroute itself
does not depend on it):

    python -m pip install -e '.[anthropic]'
    ANTHROPIC_API_KEY=sk-ant-... python examples/anthropic_sdk.py

Environment:

    ANTHROPIC_API_KEY                   required: the primary endpoint's API key
    LLMROUTE_ANTHROPIC_BASE_URL         primary base URL (default https://api.anthropic.com)
    LLMROUTE_ANTHROPIC_MODEL            primary model (default claude-haiku-4-5)
    LLMROUTE_ANTHROPIC_BACKUP_BASE_URL  optional backup: any Anthropic-compatible endpoint
                                        (another account or workspace, a gateway)
    LLMROUTE_ANTHROPIC_BACKUP_API_KEY   the backup's key (unset: the backup needs none)
    LLMROUTE_ANTHROPIC_BACKUP_MODEL     the backup's model (default: the primary model)

It sends one question with ``selector.execute``, one with ``selector.aexecute`` and one
streamed with ``selector.execute_stream``, each with ``metadata.user_id`` (the session id
llmroute reads first), and prints which endpoint answered each. The backup has weight 0: it
never wins a draw, so it serves only when the primary fails or is ejected (a 429 ejects it at
once until its Retry-After). Exits 2 when the environment is incomplete, 1 when every
endpoint failed.

The SDK clients come from ``llmroute.clients.ClientPool``: one ``Anthropic`` per provider, built
from its ``api_base``, key, ``timeout`` and ``proxy_url``, with ``max_retries=0`` (llmroute
does the failover).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from typing import Any, NamedTuple

import anthropic
from anthropic.types import Message, MessageParam, MessageStreamEvent

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
    "ANTHROPIC_API_KEY",
    "LLMROUTE_ANTHROPIC_BASE_URL",
    "LLMROUTE_ANTHROPIC_MODEL",
    "LLMROUTE_ANTHROPIC_BACKUP_BASE_URL",
    "LLMROUTE_ANTHROPIC_BACKUP_API_KEY",
    "LLMROUTE_ANTHROPIC_BACKUP_MODEL",
)
RULE = "assistant"
SYSTEM = "Answer in one short sentence."
MAX_TOKENS = 256
USER_ID = "example-user-1"


class SetupError(Exception):
    """The environment does not say enough to build the routing configuration."""


def routing_config(env: Mapping[str, str]) -> RoutingConfig:
    """The providers and the one rule, from the environment (see the module docstring)."""
    key = env.get("ANTHROPIC_API_KEY", "").strip()
    if not key:
        raise SetupError(
            "ANTHROPIC_API_KEY is not set; export it (and optionally "
            "LLMROUTE_ANTHROPIC_BASE_URL, LLMROUTE_ANTHROPIC_BACKUP_BASE_URL, ...; see the top "
            "of examples/anthropic_sdk.py)"
        )
    model = env.get("LLMROUTE_ANTHROPIC_MODEL") or "claude-haiku-4-5"
    providers: list[dict[str, Any]] = [
        {
            "name": "primary",
            "api_style": "anthropic",
            "api_base": env.get("LLMROUTE_ANTHROPIC_BASE_URL") or "https://api.anthropic.com",
            "token": key,
        }
    ]
    services: list[dict[str, Any]] = [{"provider": "primary", "model": model, "weight": 1}]
    backup_url = env.get("LLMROUTE_ANTHROPIC_BACKUP_BASE_URL", "").strip()
    if backup_url:
        backup_key = env.get("LLMROUTE_ANTHROPIC_BACKUP_API_KEY", "").strip()
        providers.append(
            {
                "name": "backup",
                "api_style": "anthropic",
                "api_base": backup_url,
                "token": backup_key,
                "no_key_required": not backup_key,
            }
        )
        backup_model = env.get("LLMROUTE_ANTHROPIC_BACKUP_MODEL") or model
        services.append({"provider": "backup", "model": backup_model, "weight": 0})
    rule = {
        "uuid": RULE,
        "scenario": "anthropic",
        "request_model": RULE,
        "services": services,
        "lb_tactic": {"type": "random"},
    }
    return RoutingConfig.model_validate({"providers": providers, "rules": [rule]})


def _request(question: str) -> tuple[list[MessageParam], dict[str, Any]]:
    """The messages, and the body the selector routes on (as your handler would hold it)."""
    messages: list[MessageParam] = [{"role": "user", "content": question}]
    body = {
        "model": RULE,
        "max_tokens": MAX_TOKENS,
        "system": SYSTEM,
        "messages": messages,
        "metadata": {"user_id": USER_ID},
    }
    return messages, body


def ask(selector: ServiceSelector, pool: ClientPool, question: str) -> ExecuteResult[Message]:
    """One message through ``selector.execute``: the selector picks the service, your function
    makes the call, and a failure moves on to the next service."""
    messages, body = _request(question)

    def call(service: Service, provider: Provider | None) -> Message:
        assert provider is not None  # the selector was built with providers
        return pool.anthropic(provider).messages.create(
            model=service.model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            messages=messages,
            metadata={"user_id": USER_ID},
        )

    return selector.execute(RULE, body, call)


async def aask(
    selector: ServiceSelector, pool: ClientPool, question: str
) -> ExecuteResult[Message]:
    """:func:`ask` with the async client, through ``selector.aexecute``."""
    messages, body = _request(question)

    async def call(service: Service, provider: Provider | None) -> Message:
        assert provider is not None
        return await pool.async_anthropic(provider).messages.create(
            model=service.model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            messages=messages,
            metadata={"user_id": USER_ID},
        )

    return await selector.aexecute(RULE, body, call)


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


def _text(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def stream(selector: ServiceSelector, pool: ClientPool, question: str) -> Outcome:
    """A streamed answer through ``selector.execute_stream``: failover happens until the first
    event arrives; then the stream is committed to that service. Token usage is read off the
    ``message_start`` and ``message_delta`` events."""
    messages, body = _request(question)
    body["stream"] = True

    def call(service: Service, provider: Provider | None) -> anthropic.Stream[MessageStreamEvent]:
        assert provider is not None
        return pool.anthropic(provider).messages.create(
            model=service.model,
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            messages=messages,
            metadata={"user_id": USER_ID},
            stream=True,
        )

    parts: list[str] = []
    with selector.execute_stream(RULE, body, call) as events:
        for event in events:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                parts.append(event.delta.text)
    return Outcome("stream", events.service_id, _failed(events), "".join(parts))


def run(selector: ServiceSelector) -> list[Outcome]:
    """Ask once sync, once async and once streamed; return how each went."""
    assert selector.config is not None  # built from a config, which the pool reads too
    pool = ClientPool(selector.config)  # one SDK client per provider, made on first use
    try:
        result = ask(selector, pool, "What is a load balancer?")
        outcomes = [Outcome("sync", result.service_id, _failed(result), _text(result.response))]

        async def async_part() -> ExecuteResult[Message]:
            try:
                return await aask(selector, pool, "What is failover?")
            finally:
                await pool.aclose()

        result = asyncio.run(async_part())
        outcomes.append(
            Outcome("async", result.service_id, _failed(result), _text(result.response))
        )
        outcomes.append(stream(selector, pool, "What is a circuit breaker?"))
        return outcomes
    finally:
        pool.close()


def main() -> int:
    """Run the example with the environment's settings; returns the exit status."""
    try:
        config = routing_config(os.environ)
    except SetupError as exc:
        print(f"anthropic_sdk.py: {exc}", file=sys.stderr)
        return 2
    selector = ServiceSelector.from_config(config)
    services = ", ".join(s.service_id for s in config.rules[0].services)
    print(f"rule {RULE!r}: {services}")
    try:
        outcomes = run(selector)
    except AllProvidersFailedError as exc:
        print(f"anthropic_sdk.py: every endpoint failed: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(outcome.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
