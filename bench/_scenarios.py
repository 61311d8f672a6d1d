"""The inputs every benchmark case shares: providers, rules, requests and session headers.

Everything is deterministic (seeded) so two runs time the same work.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

from llmroute import (
    HealthConfig,
    HealthMonitor,
    InMemoryState,
    Provider,
    Rule,
    Service,
    ServiceSelector,
    SmartRouting,
    Tactic,
)
from llmroute.config import ModelSpec
from llmroute.testing import RecordingStore

__all__ = [
    "SESSION_TTL",
    "chat_request",
    "providers",
    "rule",
    "seed_stats",
    "selector",
    "session_headers",
    "session_value",
    "smart_rule",
    "tolerant_health",
    "usage_response",
]

#: The session-affinity TTL of rules that use affinity (seconds).
SESSION_TTL = 1800

_WORDS = (
    *("deploy", "service", "cluster", "latency", "budget", "cache", "region", "rollout"),
    *("metrics", "token", "model", "prompt", "review", "schema", "migration", "index"),
    *("query", "retry", "timeout", "queue", "worker", "batch", "stream", "vector"),
    *("embedding", "gateway", "tenant", "invoice", "report", "dashboard", "alert"),
    *("incident", "pager", "runbook", "canary"),
)


def providers(n: int) -> list[Provider]:
    """``n`` enabled providers named ``p0`` .. ``p{n-1}``, each with a (fake) key."""
    return [
        Provider(name=f"p{i}", api_base=f"http://127.0.0.1:9/p{i}", token=f"sk-bench-{i}")
        for i in range(n)
    ]


#: The tactics that price services: their bench rules' services carry prices (model_info).
PRICED_TACTICS = ("lowest_cost", "price_weighted")


def _services(n: int, *, priced: bool = False) -> list[Service]:
    return [
        Service(
            provider=f"p{i}",
            model=f"model-{i}",
            weight=1 + i % 3,
            model_info=ModelSpec(input=1.0 + i % 7, output=4.0 + i % 5) if priced else None,
        )
        for i in range(n)
    ]


def rule(n: int, tactic: str, *, affinity: bool) -> Rule:
    """A rule over ``n`` services (weights 1-3) with ``tactic``; affinity for 30 min or off.
    The services of a price tactic's rule have prices (their ``model_info``)."""
    return Rule(
        uuid=f"bench-{tactic}-{n}-{'aff' if affinity else 'plain'}",
        request_model="bench",
        services=_services(n, priced=tactic in PRICED_TACTICS),
        lb_tactic=Tactic(type=tactic),
        session_affinity=SESSION_TTL if affinity else 0,
    )


def selector(n: int, *, health: bool, seed: int = 7, recording: bool = False) -> ServiceSelector:
    """A selector over ``providers(n)``, with or without a health monitor, seeded rng.

    ``recording``: its state store is a :class:`RecordingStore` around the same in-memory
    store (``selector.state.reads`` / ``.writes`` count the store calls); for counting only,
    never timed (the recording adds a lock and a list append to every call)."""
    rng = random.Random(seed)
    if recording:
        store = RecordingStore(InMemoryState(health=HealthMonitor()))
        return ServiceSelector(providers(n), state=store, health=None if health else False, rng=rng)
    monitor: HealthMonitor | bool = HealthMonitor() if health else False
    return ServiceSelector(providers(n), health=monitor, rng=rng)


def seed_stats(sel: ServiceSelector, target: Rule, samples: int = 20) -> None:
    """Give every service of ``target`` latency, usage and speed samples (tactics read them)."""
    rng = random.Random(11)
    for service in target.services:
        for _ in range(samples):
            sel.stats.record_usage(service, rng.randint(200, 4000), rng.randint(20, 800))
            sel.stats.record_latency(service, rng.uniform(150.0, 2500.0))
            sel.stats.record_speed(service, rng.uniform(20.0, 120.0))


def tolerant_health() -> HealthMonitor:
    """A health monitor that records every error but never ejects (a fail-once case stays one)."""
    return HealthMonitor(HealthConfig(consecutive_error_threshold=1_000_000_000))


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)) + "."


def chat_request(messages: int, seed: int = 3) -> dict[str, Any]:
    """An OpenAI Chat Completions body: a system message, then alternating user/assistant
    turns ending on a user turn, ``messages`` messages in all (2 or more), 30-90 words each."""
    rng = random.Random(seed)
    body: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a helpful assistant for the platform team."}
    ]
    for i in range(messages - 1):
        role = "user" if (messages - 1 - i) % 2 == 1 else "assistant"
        body.append({"role": role, "content": _sentence(rng, rng.randint(30, 90))})
    body[-1]["content"] += " Please plan the deploy of the ingest service."
    return {"model": "bench", "messages": body, "max_tokens": 256}


def session_value(i: int, prefix: str = "") -> str:
    """A UUID-shaped session id, distinct for each (``prefix``, ``i``): the prefix's CRC-32,
    then ``i`` (below 16**24) in hex; without a prefix, ``i`` alone."""
    h = f"{zlib.crc32(prefix.encode()):08x}{i:024x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def session_headers(count: int, prefix: str = "") -> list[dict[str, str]]:
    """``count`` header dicts, each with a distinct UUID-shaped ``X-Session-ID``."""
    return [{"X-Session-ID": session_value(i, prefix)} for i in range(count)]


def usage_response() -> dict[str, Any]:
    """The constant answer of the no-op provider: a small OpenAI-shaped completion."""
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 2, "total_tokens": 44},
    }


# -- smart routing ------------------------------------------------------------------------

_BLOCK_SHAPES = 4


def _block(i: int) -> dict[str, Any]:
    """Block ``i`` of the smart rule: its cheaper op passes, its dearer op fails, so every
    block costs two ops; the four shapes cycle through contains, regex, token and type."""
    shape = i % _BLOCK_SHAPES
    ops: list[dict[str, Any]]
    if shape == 0:
        ops = [
            {"position": "latest_user", "operation": "type", "value": "text"},
            {"position": "context_user", "operation": "contains", "value": f"project-{i}"},
        ]
    elif shape == 1:
        ops = [
            {"position": "token", "operation": "gt", "value": "1"},
            {"position": "context_user", "operation": "regex", "value": rf"\bticket-{i}\d+\b"},
        ]
    elif shape == 2:
        ops = [
            {"position": "context_system", "operation": "contains", "value": "assistant"},
            {"position": "latest_user", "operation": "contains", "value": f"urgent-{i}"},
        ]
    else:
        ops = [
            {"position": "token", "operation": "lt", "value": "1000000"},
            {"position": "context_user", "operation": "regex", "value": rf"(?:invoice|order)#{i}"},
        ]
    return {
        "description": f"block {i}",
        "ops": ops,
        "services": [{"provider": f"p{i % 4}", "model": f"special-{i}"}],
    }


def smart_rule(blocks: int = 20) -> Rule:
    """A rule with ``blocks`` smart-routing blocks of two ops each, none of which matches
    :func:`chat_request` (so every block is evaluated), over four base services."""
    return Rule(
        uuid=f"bench-smart-{blocks}",
        request_model="bench-smart",
        services=_services(4),
        lb_tactic=Tactic(type="random"),
        smart_enabled=True,
        smart_routing=[SmartRouting.model_validate(_block(i)) for i in range(blocks)],
    )
