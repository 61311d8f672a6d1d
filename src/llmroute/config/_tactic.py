"""Load-balancing tactic configuration: ``{"type": NAME, "params": {...}}``.

``params`` is typed per tactic: each tactic name maps to one params model with defaults, so
missing params take their defaults and unknown or mistyped ones fail at load.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from ._base import ConfigModel
from ._bounds import (
    DecaySeconds,
    LatencyMs,
    LatencyMsFloat,
    RequestCount,
    Samples,
    ScoreWeight,
    Speed,
    TokenFigure,
)
from ._document import short_repr


class _Params(ConfigModel):
    """Base of the per-tactic params models."""


class _LegacyParams(_Params):
    """Params that may carry tingly-box's legacy ``sample_window_size`` (and ``percentile``,
    or adaptive's ``scoring_mode``).

    They are kept so such configs load and dump back unchanged; routing does not read them
    (the sample count is the stats store's ``max_samples``; the figure is ``comparison_mode``).
    They are left out of dumps while unset.
    """

    @model_serializer(mode="wrap")
    def _drop_unset_legacy(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for key in ("sample_window_size", "percentile", "scoring_mode"):
                if data.get(key, 0) is None:
                    del data[key]
        return data


class RoundRobinParams(_Params):
    """``round_robin``: ``request_threshold`` consecutive requests to each service in turn."""

    request_threshold: RequestCount = 10


class TokenBasedParams(_Params):
    """``token_based``: stay on a service until its window tokens reach ``token_threshold``."""

    token_threshold: TokenFigure = 10000


class HybridParams(_Params):
    """``hybrid``: stay while window requests and window tokens are both under threshold."""

    request_threshold: RequestCount = 10
    token_threshold: TokenFigure = 10000


class RandomParams(_Params):
    """``random``: weighted random choice; no params."""


class LatencyBasedParams(_LegacyParams):
    """``latency_based``: stay while the chosen latency figure is under the threshold."""

    latency_threshold_ms: LatencyMs = 2000
    comparison_mode: Literal["avg", "p50", "p95", "p99"] = "avg"
    sample_window_size: Samples | None = None
    percentile: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None


class SpeedBasedParams(_LegacyParams):
    """``speed_based``: prefer the fastest service in tokens/s once it has enough samples."""

    min_samples_required: Samples = 5
    speed_threshold_tps: Speed = 50.0
    sample_window_size: Samples | None = None


class AdaptiveParams(_LegacyParams):
    """``adaptive``: weighted score of latency, token usage, speed and health; highest wins.

    A weight of 0 switches that dimension off. ``scoring_mode`` is tingly-box's own
    setting: kept for round trips, not read.
    """

    latency_weight: ScoreWeight = 0.25
    token_weight: ScoreWeight = 0.15
    speed_weight: ScoreWeight = 0.15
    health_weight: ScoreWeight = 0.10
    max_latency_ms: LatencyMsFloat = 2000
    max_token_usage: TokenFigure = 10000
    min_speed_tps: Speed = 50.0
    scoring_mode: str | None = None


class CapacityBasedParams(_Params):
    """``capacity_based``: capacity-aware choice from ``model_capacity`` and live sessions."""


class LeastLatencyParams(_Params):
    """``least_latency``: power of two choices over a peak-sensitive latency EWMA.

    ``decay_seconds`` is how fast lower latency samples pull the average down (a sample
    ``dt`` seconds after the previous one weighs ``1 - exp(-dt / decay_seconds)``); higher
    samples count at once.
    """

    decay_seconds: DecaySeconds = 10.0


class LeastBusyParams(_Params):
    """``least_busy``: fewest in-flight requests; ties go to the lower latency EWMA of two.

    ``decay_seconds`` is the decay of the latency EWMA that breaks ties (as in
    :class:`LeastLatencyParams`).
    """

    decay_seconds: DecaySeconds = 10.0


class LowestCostParams(_Params):
    """``lowest_cost``: the cheapest service for the request's estimated tokens at the
    catalog's prices; ties go to the lower latency EWMA, whose decay is ``decay_seconds``
    (as in :class:`LeastLatencyParams`)."""

    decay_seconds: DecaySeconds = 10.0


class PriceWeightedParams(_Params):
    """``price_weighted``: weighted random by the inverse square of the blended price (the
    service's ``weight`` multiplies it); no params."""


class TierParams(_Params):
    """``tier`` (alias ``priority``): the lowest ``tier`` with a healthy service serves,
    weighted random inside it; no params."""


# The first eight are tingly-box's tactics in its ``TacticType`` enum order (see
# TINGLY_TACTIC_TYPES): keep that order.
TacticName = Literal[
    "round_robin",
    "token_based",
    "hybrid",
    "random",
    "latency_based",
    "speed_based",
    "adaptive",
    "capacity_based",
    "least_latency",
    "least_busy",
    "lowest_cost",
    "price_weighted",
    "tier",
]

TacticParams = (
    RoundRobinParams
    | TokenBasedParams
    | HybridParams
    | RandomParams
    | LatencyBasedParams
    | SpeedBasedParams
    | AdaptiveParams
    | CapacityBasedParams
    | LeastLatencyParams
    | LeastBusyParams
    | LowestCostParams
    | PriceWeightedParams
    | TierParams
)

#: tingly-box's integer tactic types (its ``TacticType`` enum), by number: a document may
#: write ``{"type": 3}`` for ``random``. llmroute's own tactics have no number.
#: (0 round_robin, 1 token_based, 2 hybrid, 3 random, 4 latency_based, 5 speed_based,
#: 6 adaptive, 7 capacity_based.)
TINGLY_TACTIC_TYPES: tuple[str, ...] = get_args(TacticName)[:8]

#: Each tactic name and the model its ``params`` validate against.
TACTIC_PARAMS: dict[str, type[_Params]] = {
    "round_robin": RoundRobinParams,
    "token_based": TokenBasedParams,
    "hybrid": HybridParams,
    "random": RandomParams,
    "latency_based": LatencyBasedParams,
    "speed_based": SpeedBasedParams,
    "adaptive": AdaptiveParams,
    "capacity_based": CapacityBasedParams,
    "least_latency": LeastLatencyParams,
    "least_busy": LeastBusyParams,
    "lowest_cost": LowestCostParams,
    "price_weighted": PriceWeightedParams,
    "tier": TierParams,
}

#: Other names a document may give a tactic, and the tactic each means (dumps write the
#: tactic's own name).
TACTIC_ALIASES: dict[str, str] = {"priority": "tier"}


def is_valid_tactic(name: object) -> bool:
    """Whether ``name`` names a tactic a :class:`Tactic` accepts (the seed's
    ``IsValidTactic``): a tactic name or alias, case-insensitive, surrounding blanks
    ignored. False for anything that is not a string (tingly-box's integer types included:
    this checks a name)."""
    if not isinstance(name, str):
        return False
    key = name.strip().lower()
    return key in TACTIC_PARAMS or key in TACTIC_ALIASES


class Tactic(ConfigModel):
    """A load-balancing tactic and its params: ``{"type": "random", "params": {}}``.

    ``type`` is case-insensitive on input and lower case on output (an alias of
    :data:`TACTIC_ALIASES`, ``priority``, is read as its tactic); tingly-box's integer
    form (``{"type": 3}``, see :data:`TINGLY_TACTIC_TYPES`) is read as the name and written
    back as the name. ``params`` may be omitted (or partial): missing values take the
    tactic's defaults.
    """

    type: TacticName = "random"
    params: TacticParams = Field(default_factory=RandomParams)

    @model_validator(mode="before")
    @classmethod
    def _params_default_per_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("params") is None:
            return {**data, "params": {}}
        return data

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value < len(TINGLY_TACTIC_TYPES):
                return TINGLY_TACTIC_TYPES[value]
            numbers = ", ".join(f"{i} {name}" for i, name in enumerate(TINGLY_TACTIC_TYPES))
            raise ValueError(f"unknown tactic type {value} (tingly-box's numbers: {numbers})")
        if not isinstance(value, str):
            raise ValueError(f"must be a tactic name (a string), got {short_repr(value)}")
        name = value.strip().lower()
        name = TACTIC_ALIASES.get(name, name)
        if name not in TACTIC_PARAMS:
            valid = ", ".join(sorted([*TACTIC_PARAMS, *TACTIC_ALIASES]))
            raise ValueError(f"unknown tactic {short_repr(value)}; valid tactics: {valid}")
        return name

    @field_validator("params", mode="wrap")
    @classmethod
    def _params_for_type(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        name = info.data.get("type")
        if name is None:  # the type itself failed; that error is reported already
            return RandomParams()
        model = TACTIC_PARAMS[name]
        if isinstance(value, model):
            return value
        if isinstance(value, _Params):
            raise ValueError(
                f"{type(value).__name__} does not fit tactic {name!r}; expected {model.__name__}"
            )
        # Validate through the core validator so nested errors keep their paths.
        return model.__pydantic_validator__.validate_python({} if value is None else value)
