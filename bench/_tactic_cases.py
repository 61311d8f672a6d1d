"""Every tactic at 10 and 100 services, with the figures it reads present, so that a tactic
whose pick scans its candidates' figures really scans them.

What each case seeds (on the selector's own in-memory stores, before timing):

* ``token_based`` / ``hybrid``: usage windows over both thresholds on every service (the
  current service is always over, so every pick takes the fallback: the fewest tokens);
* ``latency_based`` (threshold 100 ms) / ``speed_based`` / ``adaptive`` / ``least_latency``:
  latency, usage and speed samples on every service (latency 150-2500 ms: every current
  service is too slow, so latency_based takes its fallback too);
* ``capacity_based``: every service holds a capacity of 50 and 20 live sessions;
* ``least_busy``: 8 calls in flight on the rule's first 8 services (the same load at both
  sizes: in flight grows with concurrency, not with the number of services);
* ``random`` / ``round_robin``: nothing (they read no figures).

Run ``python bench/_tactic_cases.py`` to time these cases alone (``--smoke`` for a quick run);
``bench/run.py`` runs them with the rest and reports the 100/10 ratio of each tactic.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import _scenarios as sc  # noqa: E402
from _harness import Case, Sizes, run_interleaved  # noqa: E402
from _llmroute_cases import store_calls  # noqa: E402

from llmroute import Rule, SelectionResult, Service, ServiceSelector, Tactic  # noqa: E402
from llmroute.affinity import AffinityEntry  # noqa: E402
from llmroute.tactics import create_tactic  # noqa: E402

__all__ = ["SIZES", "TACTIC_NAMES", "tactic_cases", "tactic_scaling"]

#: The two rule sizes every tactic runs at.
SIZES = (10, 100)
#: The tactics measured: every one in ``llmroute.tactics`` when this case was written (a
#: tactic added since needs its own figures seeded here before it joins).
TACTIC_NAMES = (
    *("random", "round_robin", "token_based", "hybrid", "latency_based", "speed_based"),
    *("adaptive", "capacity_based", "least_latency", "least_busy"),
)

#: Params that make every pick of a tactic take its scanning path with the seeded figures.
_PARAMS: dict[str, dict[str, Any]] = {"latency_based": {"latency_threshold_ms": 100}}
_CAPACITY, _SESSIONS, _IN_FLIGHT = 50, 20, 8


def _rule(n: int, tactic: str) -> Rule:
    services = [
        Service(provider=f"p{i}", model=f"model-{i}", weight=1 + i % 3, model_capacity=_CAPACITY)
        for i in range(n)
    ]
    return Rule(
        uuid=f"bench-tactic-{tactic}-{n}",
        request_model="bench",
        services=services,
        lb_tactic=Tactic.model_validate({"type": tactic, "params": _PARAMS.get(tactic, {})}),
    )


def _seed(sel: ServiceSelector, target: Rule, tactic: str) -> None:
    """Give the rule's services the figures ``tactic`` reads (see the module's docstring)."""
    wanted = create_tactic(target.lb_tactic)
    if wanted.reads_stats or wanted.ewma_decay:
        sc.seed_stats(sel, target)
    if wanted.reads_sessions:
        affinity = sel.affinity
        now = sel.clock()
        for i, service in enumerate(target.services):
            for k in range(_SESSIONS):
                entry = AffinityEntry(service.service_id, "", now, now + sc.SESSION_TTL)
                affinity.pin(target.uuid, f"bench-{i}-{k}", entry)
    if wanted.reads_in_flight:
        for service in target.services[:_IN_FLIGHT]:
            sel.started(service)


def _select_fn(
    n: int, tactic: str, *, recording: bool = False
) -> tuple[Callable[[], SelectionResult], ServiceSelector]:
    """The timed call of one case and its selector (``recording``: on a RecordingStore, to
    count the store calls, never timed)."""
    sel = sc.selector(n, health=True, recording=recording)
    target = _rule(n, tactic)
    _seed(sel, target, tactic)
    request = sc.chat_request(2)
    select = sel.select
    result = select(target, request)
    assert result.source == "load_balancer", f"tactic case {target.uuid}: {result.source}"

    def fn() -> SelectionResult:
        return select(target, request)

    return fn, sel


def tactic_cases(sizes: Sizes) -> list[Case]:
    """``select()`` of every tactic at 10 and 100 services, its figures present, each with
    its store calls per request (one select and one record, counted on a twin selector)."""
    cases = []
    for tactic in TACTIC_NAMES:
        for n in SIZES:
            fn, _ = _select_fn(n, tactic)
            counted, counting = _select_fn(n, tactic, recording=True)
            calls = store_calls(counting, counted)
            label = f"select() {tactic}, {n} services, figures present"
            key = f"tactic/{tactic}/{n}"
            cases.append(Case(key, label, sizes, fn=fn, store_calls=calls))
    return cases


def tactic_scaling(cases: dict[str, Any]) -> dict[str, float | None]:
    """Per tactic: p50 at 100 services over p50 at 10 services (None: not measured)."""
    out: dict[str, float | None] = {}
    for tactic in TACTIC_NAMES:
        slow, fast = cases.get(f"tactic/{tactic}/100"), cases.get(f"tactic/{tactic}/10")
        if slow is None or fast is None or not fast["median_us"]:
            out[tactic] = None
        else:
            out[tactic] = round(slow["median_us"] / fast["median_us"], 2)
    return out


def main(argv: list[str]) -> int:
    """Time the tactic cases alone and print each tactic's p50s and 100/10 ratio."""
    sizes = Sizes(40, 5) if "--smoke" in argv else Sizes(20_000, 2_000)
    cases = tactic_cases(sizes)
    figures = run_interleaved(cases)
    table = {case.key: figures[case.key].as_json() for case in cases}
    print(f"{'tactic':<16} {'10 services us':>15} {'100 services us':>16} {'100/10':>7}")
    for tactic, ratio in tactic_scaling(table).items():
        ten, hundred = table[f"tactic/{tactic}/10"], table[f"tactic/{tactic}/100"]
        print(
            f"{tactic:<16} {ten['median_us']:>15.2f} {hundred['median_us']:>16.2f} "
            f"{ratio if ratio is not None else 'n/a':>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
