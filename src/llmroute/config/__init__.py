"""Configuration models: providers, services, tactics, rules and the routing document.

All are frozen pydantic v2 models that reject unknown keys; invalid input raises
:class:`llmroute.ConfigError` whose message names the path in the document. The JSON shape
follows the tingly-box rule format (snake_case keys).

The ``MAX_*`` constants are the upper bounds of the document's numbers (the README's
configuration reference lists them); a number past its bound is a ConfigError at load.

The smart-routing op registry lives here too: :data:`OPERATIONS` lists every valid
(position, operation) pair, and :func:`compile_op` turns one op into a matcher (the models
compile their ops at load to check them; :class:`llmroute.SmartRouter` runs them).
"""

from ._agent import claude_code_kind
from ._base import config_error
from ._bounds import (
    MAX_CONTEXT_WINDOW,
    MAX_DECAY_SECONDS,
    MAX_ERROR_THRESHOLD,
    MAX_GLOB_ALTERNATIVES,
    MAX_LATENCY_MS,
    MAX_MAX_RECOVERY_SECONDS,
    MAX_MODEL_CAPACITY,
    MAX_PATTERN_DEPTH,
    MAX_PRICE,
    MAX_RECOVERY_SECONDS,
    MAX_REQUEST_THRESHOLD,
    MAX_SAMPLES,
    MAX_SCORE_WEIGHT,
    MAX_SERVICE_INDEX,
    MAX_SESSION_AFFINITY,
    MAX_SPEED_TPS,
    MAX_TIER,
    MAX_TIME_WINDOW,
    MAX_TIMEOUT,
    MAX_TOKEN_FIGURE,
    MAX_TOKEN_OP,
    MAX_WEIGHT,
)
from ._catalog import CAPABILITIES, ModelCatalog, ModelEntry, ModelSpec
from ._document import MAX_DEPTH, MAX_NUMBER, MAX_VALUES
from ._figures import LiveFigures, LiveMatcher, TtftFigure
from ._glob import compile_glob, glob_to_regex
from ._lint import WARNING_CODES, ConfigWarning, check_config
from ._load import load_config
from ._ops import (
    CONTENT_TYPES,
    OPERATIONS,
    POSITIONS,
    Matcher,
    SmartOpSpec,
    ValueType,
    compile_op,
)
from ._provider import OAuthDetail, Provider
from ._routing import HealthConfig, RoutingConfig, index_providers, spec_of
from ._rule import LEGACY_AFFINITY_SECONDS, Rule, SmartOp, SmartOpMeta, SmartRouting
from ._scenario import ScenarioConfig, ScenarioFlags
from ._secret import REVEAL_SECRETS, EnvSecret
from ._service import DEFAULT_TIME_WINDOW, Service, ServiceID
from ._tactic import (
    TACTIC_ALIASES,
    TACTIC_PARAMS,
    TINGLY_TACTIC_TYPES,
    AdaptiveParams,
    CapacityBasedParams,
    HybridParams,
    LatencyBasedParams,
    LeastBusyParams,
    LeastLatencyParams,
    LowestCostParams,
    PriceWeightedParams,
    RandomParams,
    RoundRobinParams,
    SpeedBasedParams,
    Tactic,
    TacticName,
    TacticParams,
    TierParams,
    TokenBasedParams,
    is_valid_tactic,
)

__all__ = [
    "AdaptiveParams",
    "CAPABILITIES",
    "CONTENT_TYPES",
    "CapacityBasedParams",
    "ConfigWarning",
    "DEFAULT_TIME_WINDOW",
    "EnvSecret",
    "HealthConfig",
    "HybridParams",
    "LEGACY_AFFINITY_SECONDS",
    "LatencyBasedParams",
    "LeastBusyParams",
    "LeastLatencyParams",
    "LiveFigures",
    "LiveMatcher",
    "LowestCostParams",
    "MAX_CONTEXT_WINDOW",
    "MAX_DECAY_SECONDS",
    "MAX_DEPTH",
    "MAX_ERROR_THRESHOLD",
    "MAX_GLOB_ALTERNATIVES",
    "MAX_LATENCY_MS",
    "MAX_MAX_RECOVERY_SECONDS",
    "MAX_MODEL_CAPACITY",
    "MAX_NUMBER",
    "MAX_PATTERN_DEPTH",
    "MAX_PRICE",
    "MAX_RECOVERY_SECONDS",
    "MAX_REQUEST_THRESHOLD",
    "MAX_SAMPLES",
    "MAX_SCORE_WEIGHT",
    "MAX_SERVICE_INDEX",
    "MAX_SESSION_AFFINITY",
    "MAX_SPEED_TPS",
    "MAX_TIER",
    "MAX_TIMEOUT",
    "MAX_TIME_WINDOW",
    "MAX_TOKEN_FIGURE",
    "MAX_TOKEN_OP",
    "MAX_VALUES",
    "MAX_WEIGHT",
    "Matcher",
    "ModelCatalog",
    "ModelEntry",
    "ModelSpec",
    "OAuthDetail",
    "OPERATIONS",
    "POSITIONS",
    "PriceWeightedParams",
    "Provider",
    "REVEAL_SECRETS",
    "RandomParams",
    "RoundRobinParams",
    "RoutingConfig",
    "Rule",
    "ScenarioConfig",
    "ScenarioFlags",
    "Service",
    "ServiceID",
    "SmartOp",
    "SmartOpMeta",
    "SmartOpSpec",
    "SmartRouting",
    "SpeedBasedParams",
    "TACTIC_ALIASES",
    "TACTIC_PARAMS",
    "TINGLY_TACTIC_TYPES",
    "Tactic",
    "TacticName",
    "TacticParams",
    "TierParams",
    "TokenBasedParams",
    "TtftFigure",
    "ValueType",
    "WARNING_CODES",
    "check_config",
    "claude_code_kind",
    "compile_glob",
    "compile_op",
    "config_error",
    "glob_to_regex",
    "index_providers",
    "is_valid_tactic",
    "load_config",
    "spec_of",
]
