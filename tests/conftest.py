"""Shared test set-up: a deterministic Hypothesis profile (no deadlines, no flaky seeds)."""

from hypothesis import HealthCheck, settings

settings.register_profile(
    "llmroute",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("llmroute")
