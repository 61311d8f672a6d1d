"""llmroute: embeddable routing of LLM requests across providers and models.

The public API is what ``__all__`` lists; every other module-level name is private.
"""

from ._clock import Clock
from .config import (
    REVEAL_SECRETS,
    AdaptiveParams,
    CapacityBasedParams,
    HealthConfig,
    HybridParams,
    LatencyBasedParams,
    OAuthDetail,
    Provider,
    RandomParams,
    RoundRobinParams,
    RoutingConfig,
    Rule,
    Service,
    ServiceID,
    SmartOp,
    SmartOpMeta,
    SmartRouting,
    SpeedBasedParams,
    Tactic,
    TacticParams,
    TokenBasedParams,
    load_config,
)
from .errors import ConfigError, LLMRouteError, NoServiceAvailableError
from .stats import InMemoryStatsStore, ServiceStats, StatsStore

__version__ = "0.1.0.dev0"

__all__ = [
    "AdaptiveParams",
    "CapacityBasedParams",
    "Clock",
    "ConfigError",
    "HealthConfig",
    "HybridParams",
    "InMemoryStatsStore",
    "LLMRouteError",
    "LatencyBasedParams",
    "NoServiceAvailableError",
    "OAuthDetail",
    "Provider",
    "REVEAL_SECRETS",
    "RandomParams",
    "RoundRobinParams",
    "RoutingConfig",
    "Rule",
    "Service",
    "ServiceID",
    "ServiceStats",
    "SmartOp",
    "SmartOpMeta",
    "SmartRouting",
    "SpeedBasedParams",
    "StatsStore",
    "Tactic",
    "TacticParams",
    "TokenBasedParams",
    "load_config",
]
