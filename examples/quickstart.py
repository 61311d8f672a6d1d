"""Quick start: route a dozen requests with llmroute and watch failover and health at work.

Run from the repository root:

    python -m pip install -e '.[yaml]' && python examples/quickstart.py

It loads ``examples/config.yaml`` (three providers, two rules: one with content rules for
images, thinking and long prompts, one plain weighted rule with session affinity), builds a
``ServiceSelector`` on a simulated clock and a seeded random generator, and sends OpenAI- and
Anthropic-shaped requests through ``selector.execute()``. The providers are simulated in
process: OpenAI answers 429 with a Retry-After for a while, Google answers 500 for a while.
It prints which service each request went to and why, what failed over, how health changed,
the traffic and health of every service afterwards, and ``explain()`` for one decision.

Offline (no network), deterministic (same output every run) and well under a second. In your
app, ``fn(service, provider)`` is where your own SDK call goes; see examples/openai_sdk.py.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmroute import (
    AllProvidersFailedError,
    HealthMonitor,
    Provider,
    RoutedResult,
    RoutingConfig,
    SelectionResult,
    Service,
    ServiceHealth,
    ServiceSelector,
    extract_context,
    load_config,
)
from llmroute.testing import FakeAPIError, FakeClock

CONFIG = Path(__file__).with_name("config.yaml")
SEED = 7
#: The request whose selection is explained at the end (1-based).
EXPLAIN = 11

Body = dict[str, Any]


# --- the simulated providers ------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """A provider answers every call with ``status`` from ``start`` to ``end`` (seconds into
    the run), with a ``Retry-After`` header when ``retry_after`` is set."""

    provider: str
    start: float
    end: float
    status: int
    retry_after: float | None = None

    def describe(self) -> str:
        hint = f" (Retry-After {self.retry_after:g}s)" if self.retry_after is not None else ""
        span = f"from {mmss(self.start)} to {mmss(self.end)}"
        return f"{self.provider} answers {self.status}{hint} {span}"


OUTAGES = (
    Outage("openai", 40, 65, 429, retry_after=20),
    Outage("google", 0, 90, 500),
)


class SimulatedProviders:
    """In-process stand-ins for the three APIs.

    A call answers in its provider's wire format (an OpenAI chat completion or Responses
    object, an Anthropic message), with token usage, so ``selector.execute`` records tokens
    as it would from a real SDK. During an outage it raises ``FakeAPIError``, which carries
    what a real ``openai.RateLimitError`` / ``anthropic.InternalServerError`` does (status code
    and Retry-After header), so llmroute classifies it the same way.
    """

    def __init__(self, clock: FakeClock, outages: tuple[Outage, ...]) -> None:
        self._clock = clock
        self._start = clock()
        self._outages = outages
        self.calls: Counter[str] = Counter()

    def elapsed(self) -> float:
        return self._clock() - self._start

    def bind(self, request: Body) -> Callable[[Service, Provider | None], Body]:
        """The ``fn(service, provider)`` for one request, as ``selector.execute`` calls it."""

        def call(service: Service, provider: Provider | None) -> Body:
            return self.complete(service, provider, request)

        return call

    def complete(self, service: Service, provider: Provider | None, request: Body) -> Body:
        assert provider is not None, "the selector was built from a config with providers"
        self.calls[service.service_id] += 1
        now = self.elapsed()
        for outage in self._outages:
            if outage.provider == provider.name and outage.start <= now < outage.end:
                raise FakeAPIError(
                    outage.status, f"simulated {outage.status}", retry_after=outage.retry_after
                )
        prompt = extract_context(request).estimated_tokens
        text = f"(a reply from {service.model})"
        output = 40 + prompt % 200
        if provider.api_style == "anthropic":
            return {
                "type": "message",
                "role": "assistant",
                "model": service.model,
                "content": [{"type": "text", "text": text}],
                "usage": {"input_tokens": prompt, "output_tokens": output},
            }
        if "input" in request:  # a Responses API request gets a Responses object back
            return {
                "object": "response",
                "model": service.model,
                "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
                "usage": {
                    "input_tokens": prompt,
                    "output_tokens": output,
                    "input_tokens_details": {"cached_tokens": 0},
                },
            }
        return {
            "object": "chat.completion",
            "model": service.model,
            "choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": output},
        }


# --- the requests -----------------------------------------------------------------------------

SYSTEM = "You are a helpful assistant for Acme Corp's customers."
IMAGE_URL = "https://example.com/uploads/dashboard-screenshot.png"
PNG_BASE64 = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def long_text(kind: str, lines: int) -> str:
    """A long, varied document (a contract, a log) of about ``lines`` * 130 bytes."""
    if kind == "contract":
        return "\n".join(
            f"Clause {i}. The Supplier shall deliver the goods listed in Schedule {i % 7 + 1} "
            f"within {i % 30 + 5} business days of each purchase order, at its own risk."
            for i in range(1, lines + 1)
        )
    return "\n".join(
        f"2025-03-14T09:{i // 60 % 60:02d}:{i % 60:02d}Z worker-{i % 8} GET /api/v2/orders/{i} "
        f"status={200 if i % 17 else 503} latency_ms={37 + i % 211} bytes={900 + i % 5000}"
        for i in range(1, lines + 1)
    )


CONTRACT = long_text("contract", 760)
LOG = long_text("log", 1100)


def openai_chat(*turns: Any, user: str | None = None) -> Body:
    """An OpenAI Chat Completions body: alternating user / assistant turns after a system one."""
    messages: list[Body] = [{"role": "system", "content": SYSTEM}]
    for i, content in enumerate(turns):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": content})
    body: Body = {"model": "assistant", "messages": messages}
    if user is not None:
        body["user"] = user
    return body


def anthropic_messages(
    *turns: Any, model: str = "assistant", user_id: str | None = None, **extra: Any
) -> Body:
    """An Anthropic Messages body: alternating user / assistant turns, the system prompt
    apart, ``max_tokens`` set; ``model`` names the rule (its ``request_model``)."""
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": content}
        for i, content in enumerate(turns)
    ]
    body: Body = {"model": model, "max_tokens": 1024, "system": SYSTEM, "messages": messages}
    if user_id is not None:
        body["metadata"] = {"user_id": user_id}
    body.update(extra)
    return body


def image_url_turn(question: str) -> list[Body]:
    return [
        {"type": "text", "text": question},
        {"type": "image_url", "image_url": {"url": IMAGE_URL}},
    ]


def anthropic_image_turn(question: str) -> list[Body]:
    source = {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}
    return [{"type": "image", "source": source}, {"type": "text", "text": question}]


@dataclass(frozen=True)
class Step:
    """One request of the run: when it is sent (seconds into the run), a label, the rule."""

    at: float
    label: str
    rule: str
    request: Body


def steps() -> list[Step]:
    # for the labels: the token estimate the "over 20k tokens" block compares
    contract_k = extract_context(anthropic_messages(CONTRACT)).estimated_tokens // 1000
    log_k = extract_context(openai_chat(LOG)).estimated_tokens // 1000
    session = "u-1042"
    return [
        Step(0, "openai chat: plain question", "assistant", openai_chat("Where is my order?")),
        Step(
            5,
            "openai chat: image in last turn",
            "assistant",
            openai_chat(image_url_turn("Why is this dashboard red?")),
        ),
        Step(
            10,
            "openai chat: text after image",
            "assistant",
            openai_chat(
                image_url_turn("Why is this dashboard red?"),
                "The error-rate panel is above its threshold.",
                "How do I lower the alert threshold?",
            ),
        ),
        Step(
            15,
            "anthropic: thinking on",
            "assistant",
            anthropic_messages(
                "Plan a zero-downtime migration of our orders table to a new schema.",
                thinking={"type": "enabled", "budget_tokens": 4096},
                max_tokens=8192,
            ),
        ),
        Step(
            20,
            f"anthropic: {contract_k}k-token contract",
            "assistant",
            anthropic_messages(f"{CONTRACT}\n\nList every delivery deadline in this contract."),
        ),
        Step(
            25,
            f"anthropic: user {session} (1/3)",
            "chat",
            anthropic_messages(
                "Hi! Can you help me reset my password?", model="chat", user_id=session
            ),
        ),
        Step(
            30,
            "responses API: short input",
            "assistant",
            {
                "model": "assistant",
                "instructions": SYSTEM,
                "input": "Write a two-line status update: the outage is resolved.",
            },
        ),
        Step(
            40,
            "anthropic: image (base64)",
            "assistant",
            anthropic_messages(anthropic_image_turn("Transcribe the numbers in this chart.")),
        ),
        Step(
            45,
            "anthropic: contract follow-up",
            "assistant",
            anthropic_messages(
                f"{CONTRACT}\n\nList every delivery deadline in this contract.",
                "Clause 1: 6 business days; Clause 2: 7 business days; ...",
                "Which clauses mention Schedule 3?",
            ),
        ),
        Step(
            50,
            f"anthropic: user {session} (2/3)",
            "chat",
            anthropic_messages(
                "Hi! Can you help me reset my password?",
                "Sure: open Settings, then Security, then Reset password.",
                "I don't see a Security tab.",
                model="chat",
                user_id=session,
            ),
        ),
        Step(
            55,
            "openai chat: image, 2nd turn",
            "assistant",
            openai_chat(
                image_url_turn("Why is this dashboard red?"),
                "The error-rate panel is above its threshold.",
                image_url_turn("And this one, after the deploy?"),
            ),
        ),
        Step(
            70,
            f"anthropic: user {session} (3/3)",
            "chat",
            anthropic_messages(
                "Thanks, found it under Account instead.", model="chat", user_id=session
            ),
        ),
        Step(
            80,
            "openai chat: image again",
            "assistant",
            openai_chat(image_url_turn("Is the dashboard green now?")),
        ),
        Step(
            95,
            f"openai chat: {log_k}k-token log",
            "assistant",
            openai_chat(f"{LOG}\n\nWhich workers returned 503s, and when?", user="ops-bot"),
        ),
    ]


# --- printing ---------------------------------------------------------------------------------


def mmss(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def source_of(selection: SelectionResult) -> str:
    if selection.source == "smart_routing":
        return f"smart_routing #{selection.matched_smart_rule_index}"
    return selection.source


def health_key(health: ServiceHealth) -> tuple[object, ...]:
    """What makes a health change worth a line: status, errors in a row, end of ejection."""
    return (health.status, health.consecutive_errors, health.unhealthy_until)


def health_text(health: ServiceHealth, now: float, threshold: int) -> str:
    errors = health.consecutive_errors
    if health.healthy:
        if errors:
            return f"{errors} error in a row, stays in rotation (ejected at {threshold})"
        return "back in rotation" if health.total_ejections else "healthy"
    left = (health.unhealthy_until or now) - now
    if health.rate_limited:
        why = "rate limited, as Retry-After said"
    else:
        kind = health.last_error.kind.value if health.last_error is not None else "error"
        why = f"{errors} {kind} errors in a row"
    return f"ejected for {left:.0f}s ({why})"


def failover_lines(result: RoutedResult[Body], health: HealthMonitor) -> list[str]:
    """What happened besides the chosen service answering: skipped, failed over, lock moved."""
    selection: SelectionResult = result.selection
    lines: list[str] = []
    if not result.attempts:
        for service in selection.fallbacks:
            left = health.cooldown_remaining(service.service_id)
            if left > 0:
                lines.append(f"{service.service_id} not tried: cooling down, {left:.0f}s left")
        return lines
    failed = ", ".join(
        f"{a.failure.status_code or a.kind.value} from {a.provider}" for a in result.attempts
    )
    lines.append(f"-> fallback {result.service_id} after {failed}")
    session = selection.session_id
    if session and selection.rule.session_affinity:
        lines.append(f"session {session.value}: pin moved to {result.service_id}")
    return lines


def all_services(config: RoutingConfig) -> dict[str, Service]:
    """Every service the rules name (their own and their smart blocks'), by id, sorted."""
    found: dict[str, Service] = {}
    for rule in config.rules:
        for service in rule.services:
            found.setdefault(service.service_id, service)
        for block in rule.smart_routing:
            for service in block.services:
                found.setdefault(service.service_id, service)
    return dict(sorted(found.items()))


ROW = "{:>2}  {:>4}  {:<31}  {:<9}  {:<27}  {}"
NOTE = " " * 10


def main() -> None:
    config = load_config(CONFIG)
    clock = FakeClock()
    start = clock()
    health = HealthMonitor(config.health, clock=clock)
    selector = ServiceSelector.from_config(
        config, health=health, clock=clock, rng=random.Random(SEED)
    )
    sim = SimulatedProviders(clock, OUTAGES)
    services = all_services(config)
    threshold = config.health.consecutive_error_threshold

    plan = steps()
    print(
        f"llmroute quickstart: {len(plan)} requests through {CONFIG.name} "
        f"(rules {', '.join(repr(r.uuid) for r in config.rules)}; seed {SEED})"
    )
    for outage in OUTAGES:
        print(f"simulated: {outage.describe()}")
    print()
    print(ROW.format("#", "time", "request", "rule", "chosen service", "source"))

    seen = {sid: health_key(health.get_health(sid)) for sid in services}
    explained: SelectionResult | None = None
    for number, step in enumerate(plan, 1):
        clock.set(start + step.at)
        try:
            result = selector.execute(step.rule, step.request, sim.bind(step.request))
        except AllProvidersFailedError as exc:
            print(ROW.format(number, mmss(step.at), step.label, step.rule, "-", "-"))
            print(f"{NOTE}every service failed: {exc}")
            continue
        selection: SelectionResult = result.selection
        if number == EXPLAIN:
            explained = selection
        row = (number, mmss(step.at), step.label, step.rule, selection.service_id)
        print(ROW.format(*row, source_of(selection)))
        for line in failover_lines(result, health):
            print(NOTE + line)
        now = clock()
        for sid in services:
            snapshot = health.get_health(sid)
            key = health_key(snapshot)
            if key != seen[sid]:
                seen[sid] = key
                print(f"{NOTE}health: {sid} {health_text(snapshot, now, threshold)}")

    now = clock()
    print(f"\nafterwards, at {mmss(now - start)}:")
    print(f"  {'service':<28} {'calls':>5} {'served':>6} {'tokens in':>9} {'out':>5}  health")
    for sid, service in services.items():
        snap = selector.stats.snapshot(service)
        state = health.get_health(sid)
        text = "healthy" if state.healthy else health_text(state, now, threshold)
        if state.total_ejections:
            text += f", ejected {state.total_ejections}x so far"
        print(
            f"  {sid:<28} {sim.calls[sid]:>5} {snap.request_count:>6} "
            f"{snap.window_input_tokens:>9} {snap.window_output_tokens:>5}  {text}"
        )

    if explained is not None:
        print(f"\nwhy request {EXPLAIN} went where it did, from SelectionResult.explain():")
        print(explained.explain())


if __name__ == "__main__":
    main()
