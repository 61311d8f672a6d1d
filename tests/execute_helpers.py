"""Shared doubles of the execute() tests: a recording hooks object, a cooldown tracker
without ``report_success``, and a health monitor on a fake clock."""

from __future__ import annotations

from typing import Any

from llmroute import ExecuteHooks, Failure, HealthConfig, HealthMonitor
from llmroute.testing import FakeClock


def monitor(threshold: int = 1) -> HealthMonitor:
    """A health monitor on a fake clock that ejects after ``threshold`` errors in a row."""
    return HealthMonitor(HealthConfig(consecutive_error_threshold=threshold), clock=FakeClock())


def cool_down(health: HealthMonitor, *names: str, seconds: float = 30.0) -> None:
    """Put ``names`` into cooldown for ``seconds`` (a rate limit with Retry-After)."""
    for name in names:
        health.report_rate_limit(name, seconds)


class Recorder(ExecuteHooks[Any]):
    """Hooks that write down every event as a tuple, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def attempt_started(self, provider: Any, name: str) -> None:
        self.events.append(("started", name))

    def attempt_succeeded(self, provider: Any, name: str, response: Any, latency: float) -> None:
        assert isinstance(latency, float)
        self.events.append(("succeeded", name))

    def attempt_failed(
        self, provider: Any, name: str, error: BaseException, failure: Failure, latency: float
    ) -> None:
        assert isinstance(latency, float)
        self.events.append(("failed", name, failure.kind.value))

    def first_chunk(self, provider: Any, name: str, time_to_first_chunk: float) -> None:
        assert isinstance(time_to_first_chunk, float)
        self.events.append(("first_chunk", name))

    def provider_skipped(self, provider: Any, name: str, cooldown_remaining: float) -> None:
        self.events.append(("skipped", name))


class BareTracker:
    """The CooldownTracker protocol and nothing else (no report_success)."""

    def __init__(self, cooling: set[str] | None = None) -> None:
        self.cooling = set(cooling or ())
        self.failures: list[tuple[str, object]] = []

    def is_available(self, name: str) -> bool:
        return name not in self.cooling

    def cooldown_remaining(self, name: str) -> float:
        return 5.0 if name in self.cooling else 0.0

    def record_failure(self, name: str, error: object) -> bool:
        self.failures.append((name, error))
        self.cooling.add(name)
        return True
