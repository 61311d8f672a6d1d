"""The upper bounds of every number a document may hold, and the field types that hold them.

A number past its bound is a :class:`ConfigError` at load: large enough for any real use,
small enough that nothing computed from it at request time overflows (a weight of
``10**30`` would load and then fail converting to a float in the middle of a pick). The
README's configuration reference lists the same figures.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

#: The most a ``weight`` may be.
MAX_WEIGHT = 1_000_000
#: The most a ``model_capacity`` may be (concurrent sessions).
MAX_MODEL_CAPACITY = 1_000_000
#: The longest ``time_window`` (30 days, in seconds).
MAX_TIME_WINDOW = 30 * 86_400
#: The longest ``session_affinity`` (30 days, in seconds).
MAX_SESSION_AFFINITY = 30 * 86_400
#: The longest provider ``timeout`` (one day, in seconds).
MAX_TIMEOUT = 86_400
#: The largest ``tier`` of a service (0 is the primary tier).
MAX_TIER = 1_000
#: The largest ``current_service_index``.
MAX_SERVICE_INDEX = 1_000_000
#: The largest request count threshold (``request_threshold``).
MAX_REQUEST_THRESHOLD = 1_000_000_000
#: The largest token figure of a tactic (``token_threshold``, ``max_token_usage``).
MAX_TOKEN_FIGURE = 1_000_000_000_000
#: The longest latency figure of a tactic in ms (one hour).
MAX_LATENCY_MS = 3_600_000
#: The largest sample count (``sample_window_size``, ``min_samples_required``).
MAX_SAMPLES = 100_000
#: The fastest speed figure of a tactic, in tokens per second.
MAX_SPEED_TPS = 1_000_000.0
#: The largest weight of one of ``adaptive``'s dimensions.
MAX_SCORE_WEIGHT = 1_000.0
#: The longest decay of a latency EWMA (one day, in seconds).
MAX_DECAY_SECONDS = 86_400.0
#: The most errors in a row ``consecutive_error_threshold`` may ask for.
MAX_ERROR_THRESHOLD = 1_000_000_000
#: The longest ``recovery_timeout_seconds`` and ``promotion_hold_seconds`` (one day).
MAX_RECOVERY_SECONDS = 86_400.0
#: The longest ``max_recovery_timeout_seconds`` (seven days).
MAX_MAX_RECOVERY_SECONDS = 7 * 86_400.0
#: The largest value of a ``token`` smart-routing op (estimated tokens).
MAX_TOKEN_OP = 1_000_000_000
#: How deeply groups (regex) or ``{...}`` alternatives (glob) may nest in a smart-routing op.
MAX_PATTERN_DEPTH = 50
#: How many forms a glob's ``{a,b}`` alternatives may expand to (``{a,b}-{c,d}`` is four).
MAX_GLOB_ALTERNATIVES = 1_000


def _not_bool(value: Any) -> Any:
    """Reject ``true`` / ``false`` where a number is expected (pydantic reads them as 1 / 0)."""
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {str(value).lower()}")
    return value


# An int or float field that refuses booleans.
_NO_BOOL = BeforeValidator(_not_bool)
_FINITE = Field(allow_inf_nan=False)


def _seconds(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(
            f"must be a number of seconds, e.g. 300, not {str(value).lower()} (0 is off)"
        )
    return value


#: ``weight``: 0 to :data:`MAX_WEIGHT`.
Weight = Annotated[int, _NO_BOOL, Field(ge=0, le=MAX_WEIGHT)]
#: ``model_capacity``: 1 to :data:`MAX_MODEL_CAPACITY`.
Capacity = Annotated[int, _NO_BOOL, Field(gt=0, le=MAX_MODEL_CAPACITY)]
#: ``time_window``: 0 (the default, 300) to :data:`MAX_TIME_WINDOW` seconds.
TimeWindow = Annotated[int, BeforeValidator(_seconds), Field(ge=0, le=MAX_TIME_WINDOW)]
#: ``session_affinity``: 0 (off) to :data:`MAX_SESSION_AFFINITY` seconds.
AffinitySeconds = Annotated[int, BeforeValidator(_seconds), Field(ge=0, le=MAX_SESSION_AFFINITY)]
#: A provider's ``timeout``: 1 to :data:`MAX_TIMEOUT` seconds.
Timeout = Annotated[int, _NO_BOOL, Field(gt=0, le=MAX_TIMEOUT)]
#: A service's ``tier``: 0 (the primary) to :data:`MAX_TIER`.
Tier = Annotated[int, _NO_BOOL, Field(ge=0, le=MAX_TIER)]
#: ``current_service_index``: 0 to :data:`MAX_SERVICE_INDEX`.
ServiceIndex = Annotated[int, _NO_BOOL, Field(ge=0, le=MAX_SERVICE_INDEX)]
#: ``request_threshold``: 1 to :data:`MAX_REQUEST_THRESHOLD`.
RequestCount = Annotated[int, _NO_BOOL, Field(ge=1, le=MAX_REQUEST_THRESHOLD)]
#: ``token_threshold``, ``max_token_usage``: 1 to :data:`MAX_TOKEN_FIGURE`.
TokenFigure = Annotated[int, _NO_BOOL, Field(ge=1, le=MAX_TOKEN_FIGURE)]
#: An int latency figure in ms: 1 to :data:`MAX_LATENCY_MS`.
LatencyMs = Annotated[int, _NO_BOOL, Field(gt=0, le=MAX_LATENCY_MS)]
#: A float latency figure in ms: above 0, up to :data:`MAX_LATENCY_MS`.
LatencyMsFloat = Annotated[float, _NO_BOOL, _FINITE, Field(gt=0, le=MAX_LATENCY_MS)]
#: A sample count: 1 to :data:`MAX_SAMPLES`.
Samples = Annotated[int, _NO_BOOL, Field(ge=1, le=MAX_SAMPLES)]
#: A speed in tokens per second: above 0, up to :data:`MAX_SPEED_TPS`.
Speed = Annotated[float, _NO_BOOL, _FINITE, Field(gt=0, le=MAX_SPEED_TPS)]
#: A weight of one of ``adaptive``'s dimensions: 0 to :data:`MAX_SCORE_WEIGHT`.
ScoreWeight = Annotated[float, _NO_BOOL, _FINITE, Field(ge=0, le=MAX_SCORE_WEIGHT)]
#: An EWMA decay: above 0, up to :data:`MAX_DECAY_SECONDS`.
DecaySeconds = Annotated[float, _NO_BOOL, _FINITE, Field(gt=0, le=MAX_DECAY_SECONDS)]
#: ``consecutive_error_threshold``: 1 to :data:`MAX_ERROR_THRESHOLD`.
ErrorThreshold = Annotated[int, _NO_BOOL, Field(ge=1, le=MAX_ERROR_THRESHOLD)]
#: ``recovery_timeout_seconds``: above 0, up to :data:`MAX_RECOVERY_SECONDS`.
RecoverySeconds = Annotated[float, _NO_BOOL, _FINITE, Field(gt=0, le=MAX_RECOVERY_SECONDS)]
#: ``max_recovery_timeout_seconds``: above 0, up to :data:`MAX_MAX_RECOVERY_SECONDS`.
MaxRecoverySeconds = Annotated[float, _NO_BOOL, _FINITE, Field(gt=0, le=MAX_MAX_RECOVERY_SECONDS)]
#: ``promotion_hold_seconds``: 0 to :data:`MAX_RECOVERY_SECONDS`.
HoldSeconds = Annotated[float, _NO_BOOL, _FINITE, Field(ge=0, le=MAX_RECOVERY_SECONDS)]
#: The largest ``context_window`` / ``max_output_tokens`` of a model (tokens).
MAX_CONTEXT_WINDOW = 1_000_000_000
#: The highest price per million tokens of a model (in the document's currency).
MAX_PRICE = 1_000_000.0

#: ``context_window``, ``max_output_tokens``: 1 to :data:`MAX_CONTEXT_WINDOW` tokens.
TokenWindow = Annotated[int, _NO_BOOL, Field(ge=1, le=MAX_CONTEXT_WINDOW)]
#: A price per million tokens: 0 to :data:`MAX_PRICE`.
Price = Annotated[float, _NO_BOOL, _FINITE, Field(ge=0, le=MAX_PRICE)]
