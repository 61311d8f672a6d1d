"""The curated public API: a sorted ``__all__`` of importable, public names, nothing else."""

import importlib
import types

import pytest

import llmroute

#: The top-level names: the ones most apps use. Everything else lives in its subpackage.
#: RetryPolicy is here because it is an argument of the top-level execute forms and of
#: selector.execute (RetryBudget and time_left stay in llmroute.execute).
EXPECTED = [
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

SUBPACKAGES = [
    "affinity",
    "cli",
    "config",
    "errors",
    "execute",
    "failures",
    "health",
    "request",
    "selector",
    "smart",
    "state",
    "stats",
    "tactics",
    "testing",
    "typing",
    "usage",
]


def test_the_top_level_is_the_curated_list() -> None:
    assert llmroute.__all__ == EXPECTED


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_all_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(f"llmroute.{name}")
    names = list(getattr(module, "__all__", []))
    assert names == sorted(names)
    for item in names:
        assert getattr(module, item) is not None, f"llmroute.{name}.{item}"


def test_all_is_sorted() -> None:
    assert list(llmroute.__all__) == sorted(llmroute.__all__)


def test_all_has_no_duplicates() -> None:
    assert len(set(llmroute.__all__)) == len(llmroute.__all__)


def test_every_name_in_all_is_importable() -> None:
    for name in llmroute.__all__:
        assert getattr(llmroute, name) is not None, name


def test_no_private_name_is_exported() -> None:
    assert [name for name in llmroute.__all__ if name.startswith("_")] == []


def test_nothing_public_leaks_outside_all() -> None:
    leaked = [
        name
        for name, value in vars(llmroute).items()
        if not name.startswith("_")
        and name not in llmroute.__all__
        and not isinstance(value, types.ModuleType)
    ]
    assert leaked == []


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from llmroute import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(llmroute.__all__)


def _own_class(value: object) -> bool:
    # Type aliases such as Clock (a Callable[...]) pass isinstance(..., type) on Python 3.10.
    return isinstance(value, type) and getattr(value, "__module__", "").startswith("llmroute")


def test_public_classes_and_functions_have_docstrings() -> None:
    missing = [
        name
        for name in llmroute.__all__
        if (_own_class(getattr(llmroute, name)) or callable(getattr(llmroute, name)))
        and getattr(getattr(llmroute, name), "__module__", "").startswith("llmroute")
        and not getattr(llmroute, name).__doc__
    ]
    assert missing == []
