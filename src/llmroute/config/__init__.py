"""Configuration models: providers, services, tactics, rules and the routing document.

All are frozen pydantic v2 models that reject unknown keys; invalid input raises
:class:`llmroute.ConfigError` whose message names the path in the document. The JSON shape
follows the tingly-box rule format (snake_case keys).
"""

from ._provider import REVEAL_SECRETS, OAuthDetail, Provider
from ._routing import HealthConfig, RoutingConfig, load_config
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
    "REVEAL_SECRETS",
    "TACTIC_PARAMS",
    "AdaptiveParams",
    "CapacityBasedParams",
    "HealthConfig",
    "HybridParams",
    "LatencyBasedParams",
    "LeastBusyParams",
    "LeastLatencyParams",
    "OAuthDetail",
    "Provider",
    "RandomParams",
    "RoundRobinParams",
    "RoutingConfig",
    "Rule",
    "Service",
    "ServiceID",
    "SmartOp",
    "SmartOpMeta",
    "SmartRouting",
    "SpeedBasedParams",
    "Tactic",
    "TacticName",
    "TacticParams",
    "TokenBasedParams",
    "load_config",
]
