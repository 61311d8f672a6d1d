"""The benchmark runs end to end in its smoke mode, so it cannot rot (timings not checked)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def test_the_benchmark_runs_in_smoke_mode_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    # A smoke-mode baseline (the committed one is a full run, never compared with a smoke
    # run): one case at 1 us, so its ratio is the new median in us.
    baseline = tmp_path / "baseline.json"
    key = "select/random/10/health+affinity"
    baseline.write_text(
        json.dumps({"schema": 1, "mode": "smoke", "cases": {key: {"median_us": 1.0}}}),
        encoding="utf-8",
    )
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH), "--smoke", "--no-litellm"),
            *("--out", str(out), "--baseline", str(baseline)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "[targets]" in done.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["mode"] == "smoke"
    assert data["network_attempts"] == 0
    assert {"floor", "select/random/10/health+affinity", "smart/20x2/50msg"} <= data["cases"].keys()
    assert {"execute/sync/first_ok", "aexecute/async/first_fails_once"} <= data["cases"].keys()
    assert all(case["iterations"] > 0 for case in data["cases"].values())
    assert data["affinity_memory"]["sessions"] > 0
    assert data["threads"]["relative_throughput"] > 0
    assert {target["id"] for target in data["targets"]} >= {"select_10_us", "affinity_bytes"}
    # One select and one record: one store read, one write.
    select_cases = [c for k, c in data["cases"].items() if k.startswith(("select/", "smart/"))]
    assert all(c["store_calls"] == {"reads": 1, "writes": 1} for c in select_cases)
    assert data["cases"]["selector_execute/random/10"]["store_calls"] == {"reads": 1, "writes": 1}
    targets = {target["id"]: target for target in data["targets"]}
    assert targets["scaling/random/health+affinity"]["value"] is not None
    assert targets["scaling/random/health+affinity"]["limit"] == 1.5
    assert data["derived"]["vs_baseline"]["comparable"] is True
    ratio = data["derived"]["vs_baseline"]["p50"][key]
    assert ratio == round(data["cases"][key]["median_us"], 2)
    assert targets[f"vs_baseline/{key}"]["value"] == ratio
    assert targets[f"vs_baseline/{key}"]["limit"] == 1.1
    assert targets["vs_baseline/select/random/2/bare"]["value"] is None  # not in the baseline
    if importlib.util.find_spec("openai") is not None:  # the in-situ case needs the SDK
        insitu = {"insitu/select", "insitu/select/floor", "insitu/aexecute_share"}
        insitu |= {"insitu/aexecute_share/floor", "insitu/record", "insitu/record/floor"}
        assert insitu | {"insitu/aselect"} <= data["cases"].keys()
        assert data["ratios"]["insitu/select vs floor"] is not None
        assert data["ratios"]["insitu/record vs floor"] is not None
        assert data["insitu"]["loopback_connections"] >= 1


def test_the_baseline_is_the_full_run_before_the_state_core() -> None:
    baseline = json.loads((BENCH.parent / "baseline_results.json").read_text(encoding="utf-8"))
    assert baseline["mode"] == "full"
    cases = baseline["cases"]
    assert {"select/random/10/health+affinity", "select/adaptive/100/bare"} <= cases.keys()
    assert all(case["median_us"] > 0 for case in cases.values())
