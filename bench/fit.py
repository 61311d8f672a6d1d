"""What the catalog's fit stage adds to ``select()``: the same rule (10 services, the
``random`` tactic, a ~150-token chat body) with and without a ``models:`` catalog that knows
each service's window, prices and capabilities.

Run ``PYTHONPATH=src python bench/fit.py``: it prints, for each variant, the best of 5
interleaved ``timeit`` repeats of 20,000 ``select()`` calls, in microseconds per call
(``--number`` and ``--repeat`` change them). The figure is a minimum, the least noisy
estimate of the cost on a shared machine; the issue's target is that the catalog adds at
most 2 us.
"""

from __future__ import annotations

import argparse
import timeit
from typing import Any

from llmroute import ServiceSelector
from llmroute.config import RoutingConfig

SERVICES = 10
TEXT = "Summarise the quarterly report in three bullet points, please. " * 10  # ~150 tokens


def config(catalog: bool, tactic: str = "random") -> RoutingConfig:
    """The bench rule; with ``catalog``, every model has a window, prices and capabilities."""
    services = [{"provider": "p", "model": f"m{i}"} for i in range(SERVICES)]
    models = {
        f"m{i}": {
            "context_window": 128_000,
            "max_output_tokens": 8_192,
            "input": 1.0 + i,
            "output": 4.0 + i,
            "vision": i % 2 == 0,
            "tools": True,
        }
        for i in range(SERVICES)
    }
    return RoutingConfig.model_validate(
        {
            "providers": [{"name": "p", "api_base": "http://127.0.0.1", "token": "t"}],
            "models": models if catalog else {},
            "rules": [{"uuid": "r", "services": services, "lb_tactic": {"type": tactic}}],
        }
    )


def body() -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": TEXT}], "max_tokens": 512}


def per_call_us(
    selectors: dict[str, ServiceSelector], number: int, repeat: int
) -> dict[str, float]:
    """The best of ``repeat`` timings of ``number`` selects per selector, in microseconds
    per call; the variants' repeats interleave, so a load on the machine hits both alike."""
    request = body()
    calls = {}
    for name, selector in selectors.items():
        select = selector.select
        select("r", request)  # warm: the plan is built once per rule
        calls[name] = lambda select=select: select("r", request)
    best = dict.fromkeys(selectors, float("inf"))
    for _ in range(repeat):
        for name, call in calls.items():
            best[name] = min(best[name], timeit.timeit(call, number=number) / number * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tactic", default="random")
    args = parser.parse_args()
    selectors = {
        variant: ServiceSelector(config(variant == "catalog", args.tactic))
        for variant in ("plain", "catalog")
    }
    figures = per_call_us(selectors, args.number, args.repeat)
    for variant, us in figures.items():
        print(f"select() {variant:8} {us:8.2f} us")
    print(f"catalog adds     {figures['catalog'] - figures['plain']:8.2f} us")


if __name__ == "__main__":
    main()
