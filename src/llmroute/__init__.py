"""llmroute: embeddable routing of LLM requests across providers and models.

The names here are the ones most apps use; every other public name lives in its subpackage
(``llmroute.config`` for the tactic params, ``llmroute.execute`` for the attempt types,
``llmroute.state`` for the store values, ``llmroute.typing`` for every plug-in protocol, ...).
``docs/architecture.md`` maps the package.
"""

import logging as _logging

from .affinity import SessionID, resolve_session_id
from .config import (
    HealthConfig,
    Provider,
    RoutingConfig,
    Rule,
    Service,
    ServiceID,
    SmartRouting,
    Tactic,
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
    ExecuteHooks,
    ExecuteResult,
    RetryPolicy,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from .failures import Failure, FailureKind, classify_error
from .health import HealthMonitor, ServiceHealth
from .request import RequestContext
from .selector import RoutedResult, SelectionResult, ServiceSelector
from .smart import SmartRouter, extract_context
from .state import InMemoryState
from .stats import ServiceStats
from .tactics import LoadBalancer
from .typing import AsyncStateStore, StateStore
from .usage import Usage

# A library never configures logging; without this, Python's last-resort handler would print
# llmroute's warnings (services ejected, ...) to stderr in apps that set up no logging.
_logging.getLogger("llmroute").addHandler(_logging.NullHandler())

__version__ = "0.1.0.dev0"

__all__ = [
    "AllProvidersFailedError",
    "AsyncStateStore",
    "ConfigError",
    "ExecuteHooks",
    "ExecuteResult",
    "Failure",
    "FailureKind",
    "HealthConfig",
    "HealthMonitor",
    "InMemoryState",
    "LLMRouteError",
    "LoadBalancer",
    "NoProvidersError",
    "NoServiceAvailableError",
    "Provider",
    "RequestContext",
    "RetryPolicy",
    "RoutedResult",
    "RoutingConfig",
    "Rule",
    "SelectionResult",
    "Service",
    "ServiceHealth",
    "ServiceID",
    "ServiceSelector",
    "ServiceStats",
    "SessionID",
    "SmartRouter",
    "SmartRouting",
    "StateStore",
    "StreamInterruptedError",
    "Tactic",
    "Usage",
    "aexecute",
    "aexecute_stream",
    "classify_error",
    "execute",
    "execute_stream",
    "extract_context",
    "load_config",
    "resolve_session_id",
]
