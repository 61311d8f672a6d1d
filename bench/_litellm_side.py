"""LiteLLM's Router, measured the same way on the same deployment counts, fully offline.

LiteLLM is only called here, never copied. It is imported with
``LITELLM_LOCAL_MODEL_COST_MAP=True`` (no download of the model cost map) after
:mod:`_netguard` is installed, so any network call it tried would fail and be counted. Each
Router registers callbacks on LiteLLM's global callback lists; they are put back as they were
after each case, so one case's routers do not slow the next.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import _scenarios as sc
from _harness import Figure, Sizes, time_calls

__all__ = ["STRATEGIES", "import_litellm", "litellm_cases"]

#: The routing strategies measured, keyed by the llmroute tactic each is paired with.
STRATEGIES = {"random": "simple-shuffle", "latency_based": "latency-based-routing"}

_GROUP = "bench"
_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "input_callback",
    "service_callback",
    "_async_success_callback",
    "_async_failure_callback",
    "_async_input_callback",
)

Record = Callable[[str, str, Figure], None]


def import_litellm() -> ModuleType | None:
    """``litellm`` configured for an offline run, or None when it is not installed."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ.setdefault("LITELLM_TELEMETRY", "False")
    try:
        import litellm
    except ImportError:
        return None
    litellm.suppress_debug_info = True
    litellm.set_verbose = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


@contextmanager
def _isolated(litellm: ModuleType) -> Iterator[None]:
    """Restore LiteLLM's global callback lists after the block (Routers append to them)."""
    saved = {
        name: list(getattr(litellm, name))
        for name in _CALLBACK_LISTS
        if isinstance(getattr(litellm, name, None), list)
    }
    try:
        yield
    finally:
        time.sleep(0.2)  # let its logging worker threads finish the last calls' callbacks
        for name, items in saved.items():
            getattr(litellm, name)[:] = items


def _model_list(n: int) -> list[dict[str, Any]]:
    """``n`` deployments of one model group, weighted 1-3 like the llmroute services."""
    return [
        {
            "model_name": _GROUP,
            "litellm_params": {
                "model": f"openai/model-{i}",
                "api_key": f"sk-bench-{i}",
                "api_base": f"http://127.0.0.1:9/p{i}",
                "weight": 1 + i % 3,
            },
        }
        for i in range(n)
    ]


def litellm_cases(
    litellm: ModuleType,
    sizes: Sizes,
    completion_sizes: Sizes,
    deployment_counts: tuple[int, ...],
    record: Record,
) -> None:
    """``Router.get_available_deployment`` per strategy and deployment count, and
    ``Router.completion(..., mock_response="ok")`` (simple-shuffle) per deployment count."""
    messages = sc.chat_request(2)["messages"]
    for strategy in STRATEGIES.values():
        for n in deployment_counts:
            with _isolated(litellm):
                router = litellm.Router(model_list=_model_list(n), routing_strategy=strategy)
                if strategy == "latency-based-routing":
                    # Give every deployment latency data to rank by, as in steady state.
                    for _ in range(min(3 * n, 3 * completion_sizes.iterations)):
                        router.completion(model=_GROUP, messages=messages, mock_response="ok")
                    time.sleep(0.2)
                scaled = sizes.scaled(0.2 if n < 100 else 0.05)
                figure = time_calls(
                    lambda router=router: router.get_available_deployment(
                        model=_GROUP, messages=messages
                    ),
                    scaled,
                )
                record(
                    f"litellm/get_available_deployment/{strategy}/{n}",
                    f"LiteLLM get_available_deployment {strategy}, {n} deployments",
                    figure,
                )
    for n in deployment_counts:
        with _isolated(litellm):
            router = litellm.Router(model_list=_model_list(n), routing_strategy="simple-shuffle")
            figure = time_calls(
                lambda router=router: router.completion(
                    model=_GROUP, messages=messages, mock_response="ok"
                ),
                completion_sizes,
            )
            record(
                f"litellm/completion_mock/simple-shuffle/{n}",
                f'LiteLLM Router.completion mock_response="ok", {n} deployments',
                figure,
            )
