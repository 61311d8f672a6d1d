"""Configuration models: providers, services, tactics, rules and the routing document.

All are frozen pydantic v2 models that reject unknown keys; invalid input raises
:class:`llmroute.ConfigError` whose message names the path in the document. The JSON shape
follows the tingly-box rule format (snake_case keys).

The smart-routing op registry lives here too: :data:`OPERATIONS` lists every valid
(position, operation) pair, and :func:`compile_op` turns one op into a matcher (the models
compile their ops at load to check them; :class:`llmroute.SmartRouter` runs them).
"""

from ._agent import claude_code_kind
from ._base import config_error
from ._figures import LiveFigures, LiveMatcher, TtftFigure
from ._glob import compile_glob, glob_to_regex
from ._ops import (
    CONTENT_TYPES,
    OPERATIONS,
    POSITIONS,
    Matcher,
    SmartOpSpec,
    ValueType,
    compile_op,
)
from ._provider import REVEAL_SECRETS, OAuthDetail, Provider
from ._routing import HealthConfig, RoutingConfig, index_providers, load_config
from ._rule import Rule, SmartOp, SmartOpMeta, SmartRouting
from ._service import Service, ServiceID
from ._tactic import (
    TACTIC_PARAMS,
    AdaptiveParams,
    CapacityBasedParams,
    HybridParams,
    LatencyBasedParams,
    LeastBusyParams,
    LeastLatencyParams,
    RandomParams,
    RoundRobinParams,
    SpeedBasedParams,
    Tactic,
    TacticName,
    TacticParams,
    TokenBasedParams,
)

__all__ = [
    "AdaptiveParams",
    "CONTENT_TYPES",
    "CapacityBasedParams",
    "HealthConfig",
    "HybridParams",
    "LatencyBasedParams",
    "LeastBusyParams",
    "LeastLatencyParams",
    "LiveFigures",
    "LiveMatcher",
    "Matcher",
    "OAuthDetail",
    "OPERATIONS",
    "POSITIONS",
    "Provider",
    "REVEAL_SECRETS",
    "RandomParams",
    "RoundRobinParams",
    "RoutingConfig",
    "Rule",
    "Service",
    "ServiceID",
    "SmartOp",
    "SmartOpMeta",
    "SmartOpSpec",
    "SmartRouting",
    "SpeedBasedParams",
    "TACTIC_PARAMS",
    "Tactic",
    "TacticName",
    "TacticParams",
    "TokenBasedParams",
    "TtftFigure",
    "ValueType",
    "claude_code_kind",
    "compile_glob",
    "compile_op",
    "config_error",
    "glob_to_regex",
    "index_providers",
    "load_config",
]
