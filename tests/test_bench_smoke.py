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
    done = subprocess.run(
        [sys.executable, str(BENCH), "--smoke", "--no-litellm", "--out", str(out)],
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
    if importlib.util.find_spec("openai") is not None:  # the in-situ case needs the SDK
        insitu = {"insitu/select", "insitu/select/floor", "insitu/aexecute_share"}
        assert insitu | {"insitu/aexecute_share/floor"} <= data["cases"].keys()
        assert data["ratios"]["insitu/select vs floor"] is not None
        assert data["insitu"]["loopback_connections"] >= 1
