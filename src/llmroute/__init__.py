"""llmroute: embeddable routing of LLM requests across providers and models.

The public API is what ``__all__`` lists; every other module-level name is private.
"""

import logging as _logging

from .affinity import (
    AffinityEntry,
    AffinityStore,
    InMemoryAffinityStore,
    SessionID,
    resolve_session_id,
)
from .config import (
    REVEAL_SECRETS,
    AdaptiveParams,
    CapacityBasedParams,
    HealthConfig,
    HybridParams,
    LatencyBasedParams,
    LeastBusyParams,
    LeastLatencyParams,
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
from .errors import (
    AllProvidersFailedError,
    ConfigError,
    LLMRouteError,
    NoProvidersError,
    NoServiceAvailableError,
    StreamInterruptedError,
)
from .execute import (
    AsyncStreamResult,
    Attempt,
    ExecuteHooks,
    ExecuteResult,
    RoundRobinCounter,
    SkippedProvider,
    Strategy,
    StreamResult,
    aexecute,
    aexecute_stream,
    default_fallback_on,
    execute,
    execute_stream,
)
from .failures import Failure, FailureKind, classify_error
from .health import HealthFilter, HealthMonitor, HealthStatus, ServiceHealth
from .request import RequestContext, estimate_tokens
from .selector import SelectionResult, ServiceSelector
from .smart import (
    SmartMatch,
    SmartRouter,
    extract_context,
    register_extractor,
    validate_smart_op,
    validate_smart_routing,
)
from .state import InMemoryState, InMemoryTacticState, Outcome, StateQuery, StateSnapshot
from .stats import InMemoryStatsStore, ServiceStats
from .tactics import BalancingTactic, CandidateSet, LBDecision, LoadBalancer, create_tactic
from .typing import AsyncStateStore, Clock, CooldownTracker, Probe, StateStore
from .usage import Usage

# A library never configures logging; without this, Python's last-resort handler would print
# llmroute's warnings (services ejected, ...) to stderr in apps that set up no logging.
_logging.getLogger("llmroute").addHandler(_logging.NullHandler())

__version__ = "0.1.0.dev0"

__all__ = [
    "AdaptiveParams",
    "AffinityEntry",
    "AffinityStore",
    "AllProvidersFailedError",
    "AsyncStateStore",
    "AsyncStreamResult",
    "Attempt",
    "BalancingTactic",
    "CandidateSet",
    "CapacityBasedParams",
    "Clock",
    "ConfigError",
    "CooldownTracker",
    "ExecuteHooks",
    "ExecuteResult",
    "Failure",
    "FailureKind",
    "HealthConfig",
    "HealthFilter",
    "HealthMonitor",
    "HealthStatus",
    "HybridParams",
    "InMemoryAffinityStore",
    "InMemoryState",
    "InMemoryStatsStore",
    "InMemoryTacticState",
    "LBDecision",
    "LLMRouteError",
    "LatencyBasedParams",
    "LeastBusyParams",
    "LeastLatencyParams",
    "LoadBalancer",
    "NoProvidersError",
    "NoServiceAvailableError",
    "OAuthDetail",
    "Outcome",
    "Probe",
    "Provider",
    "REVEAL_SECRETS",
    "RandomParams",
    "RequestContext",
    "RoundRobinCounter",
    "RoundRobinParams",
    "RoutingConfig",
    "Rule",
    "SelectionResult",
    "Service",
    "ServiceHealth",
    "ServiceID",
    "ServiceSelector",
    "ServiceStats",
    "SessionID",
    "SkippedProvider",
    "SmartMatch",
    "SmartOp",
    "SmartOpMeta",
    "SmartRouter",
    "SmartRouting",
    "SpeedBasedParams",
    "StateQuery",
    "StateSnapshot",
    "StateStore",
    "Strategy",
    "StreamInterruptedError",
    "StreamResult",
    "Tactic",
    "TacticParams",
    "TokenBasedParams",
    "Usage",
    "aexecute",
    "aexecute_stream",
    "classify_error",
    "create_tactic",
    "default_fallback_on",
    "estimate_tokens",
    "execute",
    "execute_stream",
    "extract_context",
    "load_config",
    "register_extractor",
    "resolve_session_id",
    "validate_smart_op",
    "validate_smart_routing",
]
