"""llmroute's benchmark: what routing costs per request, side by side with LiteLLM's Router.

Run ``python bench/run.py`` (install the ``bench`` extra for the LiteLLM side). It prints one
table and writes ``bench/results.json``. Every figure is the median and p99 of many calls
timed one by one with ``time.perf_counter_ns`` after a warm-up, in this one process; nothing
is subtracted, and the first row is what an empty timed call costs (the floor). Overheads
are the median of a wrapped call minus the median of the direct call(s) it wraps.

The in-situ case (``insitu/*``, see ``bench/_insitu.py``) times llmroute's own share of real
``openai.AsyncOpenAI`` requests to the tests' fake LLM server on 127.0.0.1, between real
calls (cold caches, as in an app), next to a hand-written router with the same guarantees;
``--insitu-requests N`` sets its size, ``--insitu-only`` runs it alone (merged into an
existing results file of the same mode, else not written).

The ``store r+w`` column is what one request of a case asks of the state store: reads and
writes, counted with ``llmroute.testing.RecordingStore`` on a twin of the case's selector
(never the timed one) for one call of the case plus, for a select case, one ``record()`` of
its outcome (``1+1``: one read, one write). It is kept per case as ``store_calls``.

Besides the issue's targets, the report checks two derived figures (``derived`` and the
``targets`` in the JSON):

* scaling: for each tactic and variant of the select matrix, p50 at 100 services over p50
  at 10 services, target <= 1.5x; and the same for every tactic with the figures it reads
  present (``tactic/*`` cases, ``bench/_tactic_cases.py``), so the scans are real;
* the baseline: each select case's p50 over its p50 in ``bench/baseline_results.json``,
  target <= 1.10x. That file is ``bench/results.json`` as of commit 8d43ea7, the last full
  run before the state-core redesign (issue 11), kept verbatim so the comparison is
  reproducible (``git show 8d43ea7:bench/results.json | cmp - bench/baseline_results.json``);
  ``--baseline PATH`` compares with another results file. Ratios are only computed against
  a baseline of the same mode (a smoke run is never compared with a full one), and they
  compare machines as well as code when the environments differ (both are recorded; the
  ``floor`` ratio shows how the timer floor moved). Before the redesign ``select()`` wrote
  a new session's pin itself; now only an outcome does, so a ``new session`` case does less
  than its baseline did.

The run is offline: a guard refuses and counts every name lookup and connection attempt
(the count is printed and must be 0); only the in-situ case may reach loopback, counted
apart. ``--smoke`` runs every case with a few iterations (for the test suite, a few seconds;
LiteLLM only with ``--litellm``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from time import perf_counter
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # imported (not run as a script): make the siblings importable
    sys.path.insert(0, str(HERE))

import _llmroute_cases as lr  # noqa: E402
import _tactic_cases as tc  # noqa: E402
from _harness import Figure, Sizes, empty_case, run_interleaved  # noqa: E402
from _insitu import insitu_available, run_insitu  # noqa: E402
from _litellm_side import STRATEGIES, import_litellm, litellm_cases  # noqa: E402
from _netguard import NetGuard  # noqa: E402

import llmroute  # noqa: E402

SCHEMA = 1

#: The results file the select cases are compared with, and the commit it comes from.
BASELINE = HERE / "baseline_results.json"
BASELINE_COMMIT = "8d43ea7"
#: The targets of the derived figures: p50 at 100 services / at 10, and p50 / baseline p50.
SCALING_LIMIT = 1.5
BASELINE_LIMIT = 1.10

FULL = {
    "select": Sizes(20_000, 2_000),
    "completion": Sizes(300, 30),
    "sessions": 1_000_000,
    "insitu": 2_000,
}
SMOKE = {"select": Sizes(40, 5), "completion": Sizes(3, 1), "sessions": 2_000, "insitu": 20}

#: The in-situ case ids that have a hand-written floor, each with its floor's id.
INSITU_PAIRS = {
    "insitu/select": "insitu/select/floor",
    "insitu/aselect": "insitu/select/floor",
    "insitu/record": "insitu/record/floor",
    "insitu/aexecute_share": "insitu/aexecute_share/floor",
}


class Results:
    """Figures by stable case id, in the order they were measured, plus derived numbers."""

    def __init__(self) -> None:
        self.cases: dict[str, dict[str, Any]] = {}
        self.figures: dict[str, Figure] = {}
        self.labels: dict[str, str] = {}

    def record(
        self, key: str, label: str, figure: Figure, store_calls: dict[str, int] | None = None
    ) -> None:
        """Keep one case's figure under ``key`` (printed as ``label``), with the store calls
        of one of its requests when they were counted."""
        self.figures[key] = figure
        self.labels[key] = label
        self.cases[key] = {"label": label, **figure.as_json()}
        if store_calls is not None:
            self.cases[key]["store_calls"] = dict(store_calls)

    def median_us(self, key: str) -> float | None:
        """The median of a case in microseconds, None when the case did not run."""
        figure = self.figures.get(key)
        return None if figure is None else figure.median_ns / 1000


def _ratio(slow: float | None, fast: float | None, digits: int = 1) -> float | None:
    if slow is None or fast is None or fast <= 0:
        return None
    return round(slow / fast, digits)


def _insitu(args: argparse.Namespace, guard: NetGuard, results: Results) -> dict[str, Any]:
    """Run the in-situ case (when it can run), record its figures; return its facts and its
    llmroute / floor ratios (median and p99)."""
    missing = insitu_available()
    if missing is not None:
        return {"skipped": missing}
    requests = args.insitu_requests
    warmup = max(3, min(100, requests // 20))
    run = run_insitu(requests, warmup, guard)
    figures: dict[str, Figure] = run.pop("figures")
    labels: dict[str, str] = run.pop("labels")
    for key, figure in figures.items():
        results.record(key, labels[key], figure)
    ratios: dict[str, float | None] = {}
    for key, floor in INSITU_PAIRS.items():
        if key in figures and floor in figures:
            ours, theirs = figures[key], figures[floor]
            ratios[f"{key} vs floor"] = _ratio(ours.median_ns, theirs.median_ns, 2)
            ratios[f"{key} vs floor (p99)"] = _ratio(ours.p99_ns, theirs.p99_ns, 2)
    run["loopback_connections"] = sum(
        1 for a in guard.loopback if a.startswith(("connect ", "connect_ex "))
    )
    run["loopback_lookups"] = sum(1 for a in guard.loopback if a.startswith("getaddrinfo "))
    return {**run, "ratios": ratios}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run every case; return the JSON-ready results."""
    started = perf_counter()
    sizes: Sizes = args.sizes["select"]
    guard = NetGuard().install()
    results = Results()
    record = results.record
    try:
        cases = [
            empty_case(sizes),
            *lr.select_cases(sizes),
            *tc.tactic_cases(sizes),
            *lr.smart_cases(sizes),
            *lr.execute_cases(sizes),
            *lr.selector_execute_cases(sizes),
        ]
        figures = run_interleaved(cases)
        for case in cases:
            record(case.key, case.label, figures[case.key], case.store_calls)
        execute_overheads = lr.execute_overheads(figures)
        selector_overheads = lr.selector_overheads(figures)
        del cases  # the selectors and their stores
        memory = lr.affinity_memory(args.sessions, sizes, record)
        threads = lr.thread_scaling(max(10, sizes.iterations))
        insitu = _insitu(args, guard, results)
        litellm = import_litellm() if args.litellm else None
        if litellm is not None:
            litellm_cases(litellm, sizes, args.sizes["completion"], lr.SIZES, record)
    finally:
        guard.uninstall()

    ratios: dict[str, float | None] = dict(insitu.get("ratios", {}))
    if litellm is not None:
        for tactic, strategy in STRATEGIES.items():
            for n in lr.SIZES:
                ratios[f"select/{tactic}/{n}/health+affinity vs {strategy}"] = _ratio(
                    results.median_us(f"litellm/get_available_deployment/{strategy}/{n}"),
                    results.median_us(f"select/{tactic}/{n}/health+affinity"),
                )
        for n in lr.SIZES:
            ratios[f"selector_execute/random/{n} overhead vs completion_mock"] = _ratio(
                results.median_us(f"litellm/completion_mock/simple-shuffle/{n}"),
                selector_overheads[n],
            )

    mode = "smoke" if args.smoke else "full"
    environment = _environment(litellm)
    derived = {
        "scaling_100_over_10": scaling(results.cases),
        "tactic_scaling_100_over_10": tc.tactic_scaling(results.cases),
        "vs_baseline": vs_baseline(results.cases, mode, environment, args.baseline),
    }
    return {
        "schema": SCHEMA,
        "mode": mode,
        "environment": environment,
        "network_attempts": len(guard.attempts),
        "network_attempt_samples": guard.attempts[:5],
        "cases": results.cases,
        "overheads_us": {
            **{key: round(value, 3) for key, value in execute_overheads.items()},
            **{f"selector_execute_{n}": round(v, 3) for n, v in selector_overheads.items()},
        },
        "ratios": ratios,
        "affinity_memory": memory,
        "threads": threads,
        "insitu": insitu,
        "derived": derived,
        "targets": [
            *_targets(results, execute_overheads, memory, ratios),
            *derived_targets(results.cases, derived),
        ],
        "wall_seconds": round(perf_counter() - started, 1),
    }


def load_baseline(path: Path) -> dict[str, Any] | None:
    """The baseline results at ``path`` (None: no file, or not a results file)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("cases"), dict) else None


def _p50_ratio(cases: dict[str, Any], slow: str, fast: str) -> float | None:
    if slow not in cases or fast not in cases:
        return None
    return _ratio(cases[slow]["median_us"], cases[fast]["median_us"], 2)


def scaling(cases: dict[str, Any]) -> dict[str, float | None]:
    """p50 at 100 services / p50 at 10 services, per ``tactic/variant`` of the select matrix
    measured at both sizes."""
    return {
        f"{tactic}/{variant}": _p50_ratio(
            cases, f"select/{tactic}/100/{variant}", f"select/{tactic}/10/{variant}"
        )
        for tactic, variant in lr.SELECT_PLAN
        if f"select/{tactic}/10/{variant}" in cases
    }


def vs_baseline(
    cases: dict[str, Any], mode: str, environment: dict[str, Any], path: Path
) -> dict[str, Any]:
    """Every case's p50 over its p50 in the baseline results at ``path`` (the cases both
    have), and what the baseline was; no ratios when there is no baseline or it is of
    another mode."""
    commit = BASELINE_COMMIT if path.resolve() == BASELINE else None
    out: dict[str, Any] = {"file": _shown_path(path), "commit": commit}
    baseline = load_baseline(path)
    if baseline is None:
        return {**out, "comparable": False, "why_not": "no baseline results file", "p50": {}}
    theirs = baseline["cases"]
    out["mode"] = baseline.get("mode")
    out["environment"] = baseline.get("environment")
    same = ("python", "implementation", "platform", "cpus")
    env = baseline.get("environment") or {}
    out["same_environment"] = all(env.get(k) == environment.get(k) for k in same)
    if baseline.get("mode") != mode:
        why = f"the baseline is a {baseline.get('mode')} run, this one is {mode}"
        return {**out, "comparable": False, "why_not": why, "p50": {}}
    ratios: dict[str, float | None] = {}
    for key, case in cases.items():
        if key in theirs and theirs[key].get("median_us"):
            ratios[key] = _ratio(case["median_us"], theirs[key]["median_us"], 2)
    return {**out, "comparable": True, "p50": ratios}


def _shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(HERE.parent))
    except ValueError:
        return str(path)


def derived_targets(cases: dict[str, Any], derived: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of the derived figures: scaling (<= 1.5x) per tactic and variant, and
    each select case's p50 against the baseline (<= 1.10x)."""
    scale_rows: list[tuple[str, str, float | None, str, float]] = []
    for name, value in derived["scaling_100_over_10"].items():
        tactic, variant = name.split("/", 1)
        text = f"select() {tactic}, {lr.VARIANT_TEXT[variant]}"
        scale_rows.append((f"scaling/{name}", text, value, "<=", SCALING_LIMIT))
    tactic_rows: list[tuple[str, str, float | None, str, float]] = [
        (
            f"tactic_scaling/{tactic}",
            f"select() {tactic}, figures present",
            value,
            "<=",
            SCALING_LIMIT,
        )
        for tactic, value in derived["tactic_scaling_100_over_10"].items()
    ]
    base = derived["vs_baseline"]
    base_rows: list[tuple[str, str, float | None, str, float]] = []
    for key, case in cases.items():
        if key.startswith(("select/", "smart/")):
            value = base["p50"].get(key)
            base_rows.append((f"vs_baseline/{key}", case["label"], value, "<=", BASELINE_LIMIT))
    return [
        *_target_rows(scale_rows, group="select() p50 at 100 services / p50 at 10 services"),
        *_target_rows(
            tactic_rows,
            group="every tactic, figures present: select() p50 at 100 services / at 10",
        ),
        *_target_rows(
            base_rows,
            group=f"select() p50 / p50 in {base['file']}"
            + (f" (commit {base['commit']}, before the state core)" if base["commit"] else "")
            + ("" if base["comparable"] else f": not compared, {base['why_not']}"),
        ),
    ]


def measure_insitu(args: argparse.Namespace) -> dict[str, Any]:
    """Run the in-situ case alone; return results shaped like :func:`measure`'s, with only
    the in-situ cases, ratios and targets (no ``overheads_us``, memory or threads)."""
    started = perf_counter()
    guard = NetGuard().install()
    results = Results()
    try:
        insitu = _insitu(args, guard, results)
    finally:
        guard.uninstall()
    ratios = dict(insitu.get("ratios", {}))
    return {
        "schema": SCHEMA,
        "mode": "smoke" if args.smoke else "full",
        "environment": _environment(None),
        "network_attempts": len(guard.attempts),
        "network_attempt_samples": guard.attempts[:5],
        "cases": results.cases,
        "ratios": ratios,
        "insitu": insitu,
        "targets": _insitu_targets(ratios),
        "wall_seconds": round(perf_counter() - started, 1),
    }


def merge_insitu(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` results with their in-situ cases, ratios, facts and targets replaced by
    ``new``'s (an :func:`measure_insitu` run); everything else of ``old`` is kept. The
    in-situ facts get the new run's environment, network attempts and wall time."""
    merged = dict(old)
    merged["cases"] = {
        **{k: v for k, v in old["cases"].items() if not k.startswith("insitu/")},
        **new["cases"],
    }
    merged["ratios"] = {
        **{k: v for k, v in old.get("ratios", {}).items() if not k.startswith("insitu/")},
        **new["ratios"],
    }
    merged["insitu"] = {
        **new["insitu"],
        "merged_from_separate_run": {
            "environment": new["environment"],
            "network_attempts": new["network_attempts"],
            "wall_seconds": new["wall_seconds"],
        },
    }
    merged["targets"] = [
        *(t for t in old.get("targets", []) if not t["id"].startswith("insitu_")),
        *new["targets"],
    ]
    return merged


def _targets(
    results: Results,
    execute_overheads: dict[str, float],
    memory: dict[str, Any],
    ratios: dict[str, float | None],
) -> list[dict[str, Any]]:
    """The issue's targets, each with the value reached (None when not measured this run)."""
    sel10 = results.median_us("select/random/10/health+affinity")
    sel100 = results.median_us("select/random/100/health+affinity")
    rows: list[tuple[str, str, float | None, str, float]] = [
        ("select_10_us", "select() 10 services, random, health + affinity: median", sel10, "<=", 5),
        (
            "select_10_vs_litellm",
            "  ... times faster than LiteLLM simple-shuffle",
            ratios.get("select/random/10/health+affinity vs simple-shuffle"),
            ">=",
            15,
        ),
        (
            "select_100_over_10",
            "select() 100 services / 10 services",
            None if sel10 is None or sel100 is None else round(sel100 / sel10, 2),
            "<=",
            2,
        ),
        (
            "smart_50msg_us",
            "smart routing 20 blocks x 2 ops, 50 messages: median",
            results.median_us("smart/20x2/50msg"),
            "<=",
            40,
        ),
        (
            "execute_sync_us",
            "execute() overhead, first succeeds",
            execute_overheads["execute_sync_first_ok"],
            "<=",
            2,
        ),
        (
            "execute_retry_policy_delta_us",
            "execute() overhead with retry=RetryPolicy(), first succeeds, minus without",
            round(
                execute_overheads["execute_sync_first_ok_retry"]
                - execute_overheads["execute_sync_first_ok"],
                3,
            ),
            "<=",
            1,
        ),
        (
            "execute_async_us",
            "aexecute() overhead, first succeeds",
            execute_overheads["execute_async_first_ok"],
            "<=",
            5,
        ),
        (
            "execute_fail_once_us",
            "execute() overhead, first fails once (on top of both calls)",
            execute_overheads["execute_sync_first_fails_once"],
            "<=",
            15,
        ),
        (
            "selector_execute_vs_litellm",
            "selector.execute overhead: times less than LiteLLM mock completion",
            ratios.get("selector_execute/random/10 overhead vs completion_mock"),
            ">=",
            100,
        ),
        (
            "affinity_bytes",
            "affinity bytes per session",
            memory["bytes_per_session"],
            "<=",
            300,
        ),
    ]
    return _target_rows(rows) + _insitu_targets(ratios)


def _insitu_targets(ratios: dict[str, float | None]) -> list[dict[str, Any]]:
    """The in-situ targets (reported, not asserted): llmroute within 2x of the floor."""
    rows: list[tuple[str, str, float | None, str, float]] = [
        (
            "insitu_select_vs_floor",
            "in situ: select() / hand-written select, median",
            ratios.get("insitu/select vs floor"),
            "<=",
            2,
        ),
        (
            "insitu_record_vs_floor",
            "in situ: record() / hand-written record, median",
            ratios.get("insitu/record vs floor"),
            "<=",
            2,
        ),
        (
            "insitu_aexecute_share_vs_floor",
            "in situ: aexecute() own share / hand-written loop's, median",
            ratios.get("insitu/aexecute_share vs floor"),
            "<=",
            2,
        ),
    ]
    return _target_rows(rows)


def _target_rows(
    rows: list[tuple[str, str, float | None, str, float]], group: str | None = None
) -> list[dict[str, Any]]:
    out = []
    for key, text, value, op, limit in rows:
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        shown = None if value is None else round(value, 3)
        row = {"id": key, "text": text, "value": shown, "op": op, "limit": limit, "met": met}
        if group is not None:
            row["group"] = group
        out.append(row)
    return out


def _environment(litellm: object | None) -> dict[str, Any]:
    return {
        "llmroute": llmroute.__version__,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count() or 0,
        "litellm": _version("litellm") if litellm is not None else None,
    }


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


# -- printing ------------------------------------------------------------------------------


def _us(value: float) -> str:
    return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"


def render(data: dict[str, Any]) -> str:
    """The one table of the run, as text."""
    env = data["environment"]
    head = (
        f"llmroute {env['llmroute']} benchmark ({data['mode']}) - {env['implementation']} "
        f"{env['python']}, {env['platform']}, {env['cpus']} CPUs, "
        f"litellm {env['litellm'] or 'not measured'}, "
        f"network attempts: {data['network_attempts']}"
    )
    cases = data["cases"]
    notes = _notes(data)
    width = max((len(c["label"]) for c in cases.values()), default=0)
    width = max(width, 62)
    line = f"{'case':<{width}}  {'median us':>10}  {'p99 us':>10}  {'store r+w':>9}  note"
    rows = [head, "", line, "-" * (len(line) + 34)]
    section = ""
    for key, case in cases.items():
        group = _section(key)
        if group != section:
            section = group
            rows.append(f"[{group}]")
        calls = case.get("store_calls")
        store = "" if calls is None else f"{calls['reads']}+{calls['writes']}"
        rows.append(
            f"{case['label']:<{width}}  {_us(case['median_us']):>10}  "
            f"{_us(case['p99_us']):>10}  {store:>9}  {notes.get(key, '')}".rstrip()
        )
    skipped = data.get("insitu", {}).get("skipped")
    if skipped:
        rows.append(f"[{_section('insitu/')}]")
        rows.append(f"{'not measured: ' + skipped:<{width}}")
    memory = data.get("affinity_memory")
    threads = data.get("threads")
    if memory is not None and threads is not None:
        rows.append("[affinity memory and threads]")
        rows.append(
            f"{'affinity store, bytes per session (tracemalloc)':<{width}}  "
            f"{memory['bytes_per_session']:>10}  {'':>10}  {'':>9}  "
            f"{memory['sessions']:,} sessions, {memory['total_mib']} MiB, "
            f"keys of {memory['session_key_chars']} chars"
        )
        rows.append(
            f"{'4 threads selecting: throughput relative to 1 thread':<{width}}  "
            f"{threads['relative_throughput']:>10}  {'':>10}  {'':>9}  "
            f"{threads['one_thread_per_second']:,}/s on 1 thread, "
            f"{threads['four_threads_per_second']:,}/s on 4"
        )
    rows.append("[targets]")
    targets = data["targets"]
    groups = {t.get("group") for t in targets if t.get("group") is not None}
    unmeasured = {
        g for g in groups if all(t["value"] is None for t in targets if t.get("group") == g)
    }
    group = None
    for target in targets:
        if target.get("group") != group:
            group = target.get("group")
            rows.append(f"[targets: {group}]")
            if group in unmeasured:  # a whole group not measured: one line, not one per row
                count = sum(1 for t in targets if t.get("group") == group)
                rows.append(f"{count} targets, none measured")
        if group in unmeasured:
            continue
        value = "n/a" if target["value"] is None else f"{target['value']:g}"
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        limit = f"{target['op']} {target['limit']}"
        rows.append(f"{target['text']:<{width}}  {value:>10}  {limit:>10}  {verdict}")
    rows.append("")
    rows.append(f"wall time {data['wall_seconds']} s")
    return "\n".join(rows)


def _section(key: str) -> str:
    if key == "floor":
        return "floor"
    if key.startswith("select/"):
        return "select()"
    if key.startswith("tactic/"):
        return "select() per tactic, the figures it reads present (bench/_tactic_cases.py)"
    if key.startswith("smart/"):
        return "smart routing"
    if key.startswith(("execute/", "aexecute/")):
        return "execute() / aexecute()"
    if key.startswith("selector_execute/"):
        return "selector.execute() end to end"
    if key.startswith("affinity/"):
        return "affinity store"
    if key.startswith("insitu/"):
        return "in situ: between real AsyncOpenAI calls to a loopback server (own share)"
    return "LiteLLM Router (same deployments, offline)"


def _notes(data: dict[str, Any]) -> dict[str, str]:
    """The note column: overheads next to wrapped calls, ratios next to LiteLLM's figures."""
    notes = _insitu_notes(data)
    overheads = data.get("overheads_us")
    if overheads is None:  # an in-situ-only run
        return notes
    ratios = data["ratios"]
    notes |= {
        "execute/sync/first_ok": f"overhead {overheads['execute_sync_first_ok']:.2f} us",
        "execute/sync/first_fails_once": (
            f"overhead {overheads['execute_sync_first_fails_once']:.2f} us over both calls"
        ),
        "aexecute/async/first_ok": f"overhead {overheads['execute_async_first_ok']:.2f} us",
        "aexecute/async/first_fails_once": (
            f"overhead {overheads['execute_async_first_fails_once']:.2f} us over both calls"
        ),
    }
    for n in lr.SIZES:
        notes[f"selector_execute/random/{n}"] = (
            f"overhead {overheads[f'selector_execute_{n}']:.2f} us"
        )
    for tactic, strategy in STRATEGIES.items():
        for n in lr.SIZES:
            ratio = ratios.get(f"select/{tactic}/{n}/health+affinity vs {strategy}")
            if ratio is not None:
                notes[f"litellm/get_available_deployment/{strategy}/{n}"] = (
                    f"{ratio:g}x llmroute select() {tactic} (health + affinity)"
                )
    for n in lr.SIZES:
        ratio = ratios.get(f"selector_execute/random/{n} overhead vs completion_mock")
        if ratio is not None:
            notes[f"litellm/completion_mock/simple-shuffle/{n}"] = (
                f"{ratio:g}x llmroute selector.execute overhead"
            )
    return notes


def _insitu_notes(data: dict[str, Any]) -> dict[str, str]:
    """Notes of the in-situ rows: the ratios to the floor, and to the tight-loop figure."""
    insitu = data.get("insitu", {})
    ratios = data["ratios"]
    cases = data["cases"]
    notes: dict[str, str] = {}
    if "insitu/sdk_call" in cases:
        notes["insitu/sdk_call"] = (
            f"{insitu['requests']:,} requests, {insitu['services']} services, new session each; "
            f"{insitu['loopback_connections']} loopback connection(s)"
        )
    tight = cases.get("select/random/10/health+affinity")
    for key, floor in INSITU_PAIRS.items():
        median = ratios.get(f"{key} vs floor")
        if median is None:
            continue
        p99 = ratios.get(f"{key} vs floor (p99)")
        note = f"{median:g}x the floor (p99 {p99:g}x)"
        if key == "insitu/select" and tight is not None and tight["median_us"] > 0:
            note += f"; {cases[key]['median_us'] / tight['median_us']:.1f}x the tight loop"
        notes[key] = note
        notes.setdefault(floor, "hand-written floor")
    return notes


# -- command line --------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: ``--smoke``, ``--litellm`` / ``--no-litellm``, ``--out``,
    ``--sessions``, ``--baseline``, ``--insitu-requests``, ``--insitu-only``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a few iterations of every case")
    parser.add_argument(
        "--litellm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure LiteLLM too (default: when installed, except with --smoke)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json", help="JSON output")
    parser.add_argument("--sessions", type=int, help="affinity sessions for the memory case")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help="results file the select cases are compared with (default: bench/"
        "baseline_results.json, the run of commit 8d43ea7)",
    )
    parser.add_argument(
        "--insitu-requests",
        type=int,
        metavar="N",
        help="timed requests of the in-situ case (default 2000; 20 with --smoke)",
    )
    parser.add_argument(
        "--insitu-only",
        action="store_true",
        help="run only the in-situ case; its figures replace the in-situ ones of --out when "
        "that file holds a run of the same mode, else nothing is written",
    )
    args = parser.parse_args(argv)
    args.sizes = SMOKE if args.smoke else FULL
    if args.litellm is None:
        args.litellm = not args.smoke
    if args.sessions is None:
        args.sessions = args.sizes["sessions"]
    if args.insitu_requests is None:
        args.insitu_requests = args.sizes["insitu"]
    if args.insitu_requests < 1:
        parser.error("--insitu-requests must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, write the JSON; 0 unless the run went online."""
    args = parse_args(argv)
    if args.insitu_only:
        return _main_insitu(args)
    data = measure(args)
    print(render(data))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if data["network_attempts"] else 0


def _main_insitu(args: argparse.Namespace) -> int:
    """``--insitu-only``: run the in-situ case, print its table, merge it into ``--out``
    when that file holds a whole run of the same mode (never a partial file of its own)."""
    data = measure_insitu(args)
    print(render(data))
    if data["network_attempts"]:
        print(f"not written to {args.out}: the run went online")
        return 1
    if data["insitu"].get("skipped"):
        print(f"not written to {args.out}: the in-situ case did not run")
        return 0
    try:
        old = json.loads(args.out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    if not isinstance(old, dict) or old.get("schema") != SCHEMA or "cases" not in old:
        print(f"not written: {args.out} holds no results to merge into (run without --insitu-only)")
        return 0
    if old.get("mode") != data["mode"]:
        print(f"not written: {args.out} holds a {old.get('mode')} run, this one is {data['mode']}")
        return 0
    args.out.write_text(json.dumps(merge_insitu(old, data), indent=2) + "\n", encoding="utf-8")
    print(f"merged the in-situ figures into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
