"""Numbers at their documented maximum load and route; absurd usage figures off a response
are ignored with one warning, never an OverflowError out of execute."""

from __future__ import annotations

import random
from typing import Any

import pytest

from llmroute import ConfigError, FailureKind, RoutingConfig, ServiceSelector, Usage
from llmroute import config as bounds
from llmroute.config import TACTIC_PARAMS
from llmroute.testing import FakeAPIError, FakeClock, ScriptedProvider, capture_logs
from llmroute.usage import MAX_TOKENS

# Every tactic's params, each at its maximum (the legacy ones too).
MAX_PARAMS: dict[str, dict[str, Any]] = {
    "round_robin": {"request_threshold": bounds.MAX_REQUEST_THRESHOLD},
    "token_based": {"token_threshold": bounds.MAX_TOKEN_FIGURE},
    "hybrid": {
        "request_threshold": bounds.MAX_REQUEST_THRESHOLD,
        "token_threshold": bounds.MAX_TOKEN_FIGURE,
    },
    "random": {},
    "latency_based": {
        "latency_threshold_ms": bounds.MAX_LATENCY_MS,
        "sample_window_size": bounds.MAX_SAMPLES,
        "percentile": 0.999999,
    },
    "speed_based": {
        "min_samples_required": bounds.MAX_SAMPLES,
        "speed_threshold_tps": bounds.MAX_SPEED_TPS,
        "sample_window_size": bounds.MAX_SAMPLES,
    },
    "adaptive": {
        "latency_weight": bounds.MAX_SCORE_WEIGHT,
        "token_weight": bounds.MAX_SCORE_WEIGHT,
        "speed_weight": bounds.MAX_SCORE_WEIGHT,
        "health_weight": bounds.MAX_SCORE_WEIGHT,
        "max_latency_ms": bounds.MAX_LATENCY_MS,
        "max_token_usage": bounds.MAX_TOKEN_FIGURE,
        "min_speed_tps": bounds.MAX_SPEED_TPS,
    },
    "capacity_based": {},
    "least_latency": {"decay_seconds": bounds.MAX_DECAY_SECONDS},
    "least_busy": {"decay_seconds": bounds.MAX_DECAY_SECONDS},
    "lowest_cost": {"decay_seconds": bounds.MAX_DECAY_SECONDS},
    "price_weighted": {},
    "tier": {},
}


def test_the_table_covers_every_tactic() -> None:
    assert set(MAX_PARAMS) == set(TACTIC_PARAMS)


def max_service(model: str) -> dict[str, Any]:
    return {
        "provider": "p",
        "model": model,
        "weight": bounds.MAX_WEIGHT,
        "time_window": bounds.MAX_TIME_WINDOW,
        "model_capacity": bounds.MAX_MODEL_CAPACITY,
        "tier": bounds.MAX_TIER,
    }


def max_config(tactic: str) -> RoutingConfig:
    block = {
        "description": "long prompts",
        "ops": [{"position": "token", "operation": "le", "value": str(bounds.MAX_TOKEN_OP)}],
        "services": [max_service("a")],
    }
    return RoutingConfig.model_validate(
        {
            "providers": [{"name": "p", "timeout": bounds.MAX_TIMEOUT}],
            "rules": [
                {
                    "uuid": "r",
                    "services": [max_service("a"), max_service("b"), max_service("c")],
                    "current_service_index": bounds.MAX_SERVICE_INDEX,
                    "lb_tactic": {"type": tactic, "params": MAX_PARAMS[tactic]},
                    "session_affinity": bounds.MAX_SESSION_AFFINITY,
                    "smart_enabled": True,
                    "smart_routing": [block],
                }
            ],
            "health": {
                "consecutive_error_threshold": bounds.MAX_ERROR_THRESHOLD,
                "recovery_timeout_seconds": bounds.MAX_RECOVERY_SECONDS,
                "max_recovery_timeout_seconds": bounds.MAX_MAX_RECOVERY_SECONDS,
                "promotion_hold_seconds": bounds.MAX_RECOVERY_SECONDS,
            },
        }
    )


def reply(tokens: int = MAX_TOKENS) -> dict[str, Any]:
    return {"usage": {"prompt_tokens": tokens, "completion_tokens": tokens}}


@pytest.mark.parametrize("tactic", sorted(MAX_PARAMS))
def test_every_number_at_its_maximum_loads_and_routes(tactic: str) -> None:
    clock = FakeClock()
    selector = ServiceSelector.from_config(max_config(tactic), clock=clock, rng=random.Random(1))
    provider = ScriptedProvider(
        "p", FakeAPIError(503), reply(), reply(), FakeAPIError(429), reply()
    )
    for i in range(12):
        body = {
            "model": "x",
            "messages": [{"role": "user", "content": "hi " * i}],
            "user": f"u{i % 3}",
        }
        assert selector.select("r", body).service is not None
        try:
            result = selector.execute("r", body, lambda service, _: provider(service.model))
        except Exception as exc:  # only a provider failure may end a call
            assert type(exc).__name__ == "AllProvidersFailedError"
        else:
            assert result.response is not None
        clock.advance(bounds.MAX_MAX_RECOVERY_SECONDS)
    assert provider.calls >= 12


def test_one_past_a_maximum_is_an_error() -> None:
    doc = max_config("random").model_dump(mode="json", context={"reveal_secrets": True})
    doc["rules"][0]["services"][0]["weight"] = bounds.MAX_WEIGHT + 1
    with pytest.raises(ConfigError, match=r"rules\[0\]\.services\[0\]\.weight: must be <="):
        RoutingConfig.model_validate(doc)


# --- usage read off responses -------------------------------------------------------------


def test_an_absurd_count_is_ignored_with_one_warning() -> None:
    with capture_logs("llmroute.usage") as records:
        usage = Usage.of({"usage": {"prompt_tokens": 12, "completion_tokens": 10**400}})
    assert usage == Usage(12, 0, 0)
    assert [r["levelname"] for r in records] == ["WARNING"]
    assert "completion_tokens" in records[0]["message"]


def test_counts_up_to_the_maximum_are_kept() -> None:
    assert Usage.of(reply()) == Usage(MAX_TOKENS, MAX_TOKENS, 0)


def test_anthropic_cache_counts_never_add_up_past_the_maximum() -> None:
    usage = Usage.of(
        {
            "usage": {
                "input_tokens": MAX_TOKENS,
                "cache_read_input_tokens": MAX_TOKENS,
                "output_tokens": 1,
            }
        }
    )
    assert usage is not None and usage.input_tokens == MAX_TOKENS


def test_a_usage_past_the_maximum_is_a_value_error_that_prints() -> None:
    with pytest.raises(ValueError, match="at most 1,000,000,000, got an int of about 401 digits"):
        Usage(output_tokens=10**400)


@pytest.mark.parametrize("tactic", ["latency_based", "speed_based", "token_based", "adaptive"])
def test_execute_returns_a_response_with_an_absurd_usage_and_warns_once(tactic: str) -> None:
    selector = ServiceSelector.from_config(max_config(tactic), clock=FakeClock())
    absurd = {"usage": {"prompt_tokens": 10**400, "completion_tokens": 10**400}, "id": "ok"}
    with capture_logs("llmroute") as records:
        result = selector.execute("r", {"messages": []}, lambda s, p: absurd)
    assert result.response is absurd
    warnings = [r for r in records if r["levelname"] == "WARNING"]
    assert len(warnings) == 1 and "absurd token counts" in warnings[0]["message"]
    assert not [r for r in records if r["levelname"] == "ERROR"]


def test_a_failure_kind_is_still_classified_at_the_maximums() -> None:
    selector = ServiceSelector.from_config(max_config("random"), clock=FakeClock())
    result = selector.select("r", {"messages": []})
    failure = selector.record(result, error=FakeAPIError(503))
    assert failure is not None and failure.kind is FailureKind.SERVER
