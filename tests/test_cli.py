"""The ``llmroute`` command line, run as a user runs it: in a subprocess.

Two ways in, both tested: ``python -m llmroute``, and the console script. The console
script is the installed ``llmroute`` when it runs this tree's code; otherwise (this tree is
not the installed one) the entry point pyproject.toml declares is called the way pip's
generated wrapper calls it, so the declaration itself is what is tested.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llmroute import ServiceSelector, load_config
from llmroute.cli._check import EXAMPLE as CHECK_EXAMPLE
from llmroute.cli._explain import EXAMPLE as EXPLAIN_EXAMPLE
from llmroute.cli._faults import ERRORS
from llmroute.cli._simulate import EXAMPLE as SIMULATE_EXAMPLE
from llmroute.failures import FailureKind, classify_error

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
EXAMPLE_CONFIG = ROOT / "examples" / "config.yaml"
ENV = {**os.environ, "PYTHONPATH": str(SRC)}


def _entry_point() -> list[str]:
    declared = re.search(
        r'^\[project\.scripts\]\s*\nllmroute = "([\w.]+):(\w+)"',
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert declared is not None, "pyproject.toml declares no llmroute script"
    module, function = declared.groups()
    wrapper = f"import sys; from {module} import {function}; sys.exit({function}())"
    return [sys.executable, "-c", wrapper]


def _installed_script() -> list[str] | None:
    """The installed ``llmroute`` when it imports this tree's package, else None."""
    script = shutil.which("llmroute")
    if script is None:
        return None
    with open(script, encoding="utf-8", errors="replace") as file:
        first = file.readline()
    interpreter = first[2:].strip().split()[0] if first.startswith("#!") else sys.executable
    probe = "import llmroute.cli; print(llmroute.cli.__file__)"
    found = subprocess.run(
        [interpreter, "-c", probe], env=ENV, capture_output=True, text=True, check=False
    ).stdout.strip()
    return [script] if found.startswith(str(SRC)) else None


SCRIPT = _installed_script()
RUNNERS = {
    "module": [sys.executable, "-m", "llmroute"],
    "script": SCRIPT if SCRIPT is not None else _entry_point(),
}


def llmroute(*args: object, runner: str = "module") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNERS[runner], *map(str, args)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_check_on_the_example_config_exits_0(runner: str) -> None:
    done = llmroute("check", EXAMPLE_CONFIG, runner=runner)
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout and "no warnings" in done.stdout
    assert done.stderr == ""


@pytest.mark.skipif(SCRIPT is None, reason="no installed llmroute script runs this tree")
def test_the_installed_console_script_runs_this_tree() -> None:
    done = llmroute("check", EXAMPLE_CONFIG, runner="script")
    assert done.returncode == 0 and RUNNERS["script"] == SCRIPT


def _doc(**rule: Any) -> dict[str, Any]:
    return {
        "providers": [{"name": "openai", "models": ["gpt-4o"]}],
        "rules": [{"uuid": "r", "services": [{"provider": "openai", "model": "gpt-4o"}], **rule}],
    }


def _ops(*ops: tuple[str, str, str]) -> list[dict[str, str]]:
    return [{"position": p, "operation": o, "value": v} for p, o, v in ops]


_SERVICES = [{"provider": "openai", "model": "gpt-4o"}]
WARNINGS: dict[str, tuple[dict[str, Any], str]] = {
    "model-not-listed": (
        _doc(services=[{"provider": "openai", "model": "gpt-40"}]),
        "rules[0].services[0].model",
    ),
    "unused-provider": (
        {**_doc(), "providers": [{"name": "openai"}, {"name": "spare"}]},
        "providers[1]",
    ),
    "all-weights-zero": (
        _doc(services=[{"provider": "openai", "model": "gpt-4o", "weight": 0}]),
        "rules[0].services",
    ),
    "unreachable-block": (
        _doc(
            smart_enabled=True,
            smart_routing=[
                {"description": "a", "ops": _ops(("token", "gt", "10")), "services": _SERVICES},
                {"description": "b", "ops": _ops(("token", "gt", "99")), "services": _SERVICES},
            ],
        ),
        "rules[0].smart_routing[1]",
    ),
    "smart-disabled": (
        _doc(
            smart_routing=[
                {"description": "a", "ops": _ops(("token", "gt", "10")), "services": _SERVICES}
            ]
        ),
        "rules[0].smart_routing",
    ),
    "tactic-stats": (_doc(lb_tactic={"type": "capacity_based"}), "rules[0].lb_tactic"),
    "ignored-param": (
        _doc(lb_tactic={"type": "speed_based", "params": {"sample_window_size": 5}}),
        "rules[0].lb_tactic.params.sample_window_size",
    ),
}


@pytest.mark.parametrize("code", sorted(WARNINGS))
def test_check_exits_1_and_prints_each_warning(tmp_path: Path, code: str) -> None:
    doc, path = WARNINGS[code]
    done = llmroute("check", write(tmp_path / "routing.json", doc))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{path}: " in done.stdout and f"[{code}]" in done.stdout
    assert done.stdout.count("\n") == 2  # the head line and this one warning


def test_check_json_lists_the_warnings(tmp_path: Path) -> None:
    doc, path = WARNINGS["model-not-listed"]
    done = llmroute("check", write(tmp_path / "routing.json", doc), "--json")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["status"] == "warnings" and report["errors"] == []
    assert [(w["code"], w["path"]) for w in report["warnings"]] == [("model-not-listed", path)]
    assert "gpt-40" in report["warnings"][0]["message"]


def test_check_exits_2_with_the_config_error(tmp_path: Path) -> None:
    doc = _doc(services=[{"provider": "openai", "model": "gpt-4o", "weight": -1}])
    config = write(tmp_path / "routing.json", doc)
    with pytest.raises(ValueError) as caught:
        load_config(config)
    done = llmroute("check", config)
    assert done.returncode == 2
    assert str(caught.value) in done.stderr
    assert "rules[0].services[0].weight: must be >= 0" in done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(llmroute("check", config, "--json").stdout)
    assert report["status"] == "error"
    assert report["errors"] == [
        {"path": "rules[0].services[0].weight", "message": "must be >= 0, got -1"}
    ]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["check", "missing.yaml"], "missing.yaml: cannot read the file"),
        (["check", "{dir}/latin1.json"], "latin1.json"),
        (["explain", EXAMPLE_CONFIG, "{dir}/bad.json"], "invalid JSON at line 1"),
        (["explain", EXAMPLE_CONFIG, "{dir}/request.json", "--rule", "nope"], "no rule 'nope'"),
        (["explain", EXAMPLE_CONFIG, "{dir}/request.json", "--header", "X"], "expected K=V"),
        (["simulate", EXAMPLE_CONFIG, "--fault", "nope:m=server@0.5"], "unknown service"),
        (["simulate", EXAMPLE_CONFIG, "--fault", "openai=melted@0.5"], "unknown failure kind"),
        (["simulate", EXAMPLE_CONFIG, "--fault", "openai=server@2"], "from 0 to 1"),
        (["simulate", EXAMPLE_CONFIG, "--fault", "openai=server@0.5,9-3"], "is empty"),
        (["simulate", EXAMPLE_CONFIG, "--rule", "nope"], "no rule 'nope'"),
        (["simulate", EXAMPLE_CONFIG, "--requests", "0"], "--requests"),
    ],
)
def test_bad_input_is_a_clear_message_and_exit_2(
    tmp_path: Path, args: list[object], said: str
) -> None:
    (tmp_path / "latin1.json").write_bytes(b'{"rules": [{"uuid": "caf\xe9"}]}')
    (tmp_path / "bad.json").write_text("{nope", encoding="utf-8")
    write(tmp_path / "request.json", {"model": "chat", "messages": []})
    done = llmroute(*(str(a).format(dir=tmp_path) for a in args))
    assert done.returncode == 2
    assert said in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("command", ["explain", "simulate"])
def test_with_json_an_error_is_a_json_object_too(tmp_path: Path, command: str) -> None:
    args = [tmp_path / "missing.json"] if command == "explain" else ["--rule", "nope"]
    done = llmroute(command, EXAMPLE_CONFIG, *args, "--json")
    assert done.returncode == 2 and done.stderr == ""
    assert set(json.loads(done.stdout)) == {"error"}


CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hello"}], "user": "alice"}
ASSISTANT_IMAGE = {
    "model": "assistant",
    "messages": [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}],
        }
    ],
}


@pytest.mark.parametrize(
    ("body", "args", "rule", "select_kwargs"),
    [
        (CHAT, [], "chat", {}),
        (ASSISTANT_IMAGE, [], "assistant", {}),
        (CHAT, ["--rule", "assistant", "--seed", "3"], "assistant", {}),
        (
            {"model": "chat", "messages": [{"role": "user", "content": "Hi"}]},
            ["--header", "X-Session-ID=abc", "--seed", "5"],
            "chat",
            {"headers": {"X-Session-ID": "abc"}},
        ),
        (CHAT, ["--session", "s-1"], "chat", {"session_id": "s-1"}),
    ],
    ids=["model-names-rule", "smart-block", "rule-flag", "header", "session"],
)
def test_explain_prints_what_explain_prints_in_process(
    tmp_path: Path, body: Any, args: list[str], rule: str, select_kwargs: dict[str, Any]
) -> None:
    request = write(tmp_path / "request.json", body)
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    selector = ServiceSelector.from_config(load_config(EXAMPLE_CONFIG), rng=random.Random(seed))
    expected = selector.select(rule, body, **select_kwargs).explain()
    done = llmroute("explain", EXAMPLE_CONFIG, request, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected + "\n"


def test_explain_json_carries_the_selection(tmp_path: Path) -> None:
    request = write(tmp_path / "request.json", ASSISTANT_IMAGE)
    result = ServiceSelector.from_config(load_config(EXAMPLE_CONFIG), rng=random.Random(0)).select(
        "assistant", ASSISTANT_IMAGE
    )
    done = llmroute("explain", EXAMPLE_CONFIG, request, "--json")
    assert done.returncode == 0, done.stderr
    as_json = json.loads(done.stdout)
    assert as_json["explain"] == result.explain()
    assert as_json["rule"] == "assistant"
    assert as_json["service"] == result.service_id
    assert as_json["source"] == result.source == "smart_routing"
    assert as_json["matched_smart_rule_index"] == 0
    assert as_json["fallbacks"] == [s.service_id for s in result.fallbacks]
    assert [step["stage"] for step in as_json["trace"]] == [t[0] for t in result.trace]


def test_explain_without_a_rule_the_request_names_lists_the_rules(tmp_path: Path) -> None:
    request = write(tmp_path / "request.json", {"model": "gpt-5", "messages": []})
    done = llmroute("explain", EXAMPLE_CONFIG, request)
    assert done.returncode == 2
    assert "'gpt-5' names no rule" in done.stderr
    assert "assistant (request_model assistant), chat (request_model chat)" in done.stderr


def test_explain_takes_the_only_rule_when_the_request_names_none(tmp_path: Path) -> None:
    config = write(tmp_path / "routing.json", _doc())
    request = write(tmp_path / "request.json", {"messages": [{"role": "user", "content": "x"}]})
    done = llmroute("explain", config, request)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rule 'r' -> openai:gpt-4o")


FAULTS = ["--fault", "openai:gpt-4o-mini=server@0.6,40-120", "--fault", "google=rate_limit@0.2"]


def test_simulate_with_a_seed_prints_the_same_table_twice() -> None:
    first = llmroute("simulate", EXAMPLE_CONFIG, "--seed", "11", *FAULTS)
    second = llmroute("simulate", EXAMPLE_CONFIG, "--seed", "11", *FAULTS)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert "openai:gpt-4o-mini" in first.stdout and "ejections" in first.stdout
    others = {llmroute("simulate", EXAMPLE_CONFIG, "--seed", s, *FAULTS).stdout for s in "12"}
    assert len(others | {first.stdout}) > 1  # another seed draws other choices


def test_simulate_json_adds_up_and_shows_the_fault_in_the_timeline() -> None:
    done = llmroute(
        "simulate", EXAMPLE_CONFIG, "--requests", "100", "--width", "10", "--rule", "chat",
        "--fault", "openai:gpt-4o-mini=server@1,31-60", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    totals = report["totals"]
    assert totals["served"] + totals["failed"] + totals["unavailable"] == 100
    services = {s["service"]: s for s in report["services"]}
    assert sum(s["picks"] for s in services.values()) == 100 - totals["unavailable"]
    assert sum(s["served"] for s in services.values()) == totals["served"]
    broken = services["openai:gpt-4o-mini"]
    assert broken["failures"] >= 2 and broken["ejections"] >= 1
    timeline = broken["timeline"]
    assert len(timeline) == report["buckets"] == 10
    assert set(timeline[:3]) == {"."}  # requests 1-30: healthy, no failures
    assert "#" in timeline[3:7] or "x" in timeline[3:7]  # ejected during the fault
    assert set(report["legend"]) == {".", "!", "x", "#"}
    healthy = services["anthropic:claude-haiku-4-5"]
    assert healthy["failures"] == 0 and set(healthy["timeline"]) == {"."}


def test_simulate_probes_answer_from_the_faults(tmp_path: Path) -> None:
    doc = {
        "providers": [{"name": "a"}, {"name": "b"}],
        "rules": [
            {
                "uuid": "r",
                "lb_tactic": {"type": "round_robin", "params": {"request_threshold": 1}},
                "services": [{"provider": "a", "model": "m"}, {"provider": "b", "model": "m"}],
            }
        ],
        "health": {
            "probe_enabled": True,
            "consecutive_error_threshold": 2,
            "recovery_timeout_seconds": 10,
            "max_recovery_timeout_seconds": 40,
        },
    }
    config = write(tmp_path / "routing.json", doc)
    args = ("simulate", config, "--fault", "a:m=server@1,20-60", "--width", "200", "--json")
    first, second = llmroute(*args), llmroute(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout  # probes run on threads, awaited: still deterministic
    broken = json.loads(first.stdout)["services"][0]
    # ejected after its second failure in a row; the probes due at 10 s and 20 s later fail
    # (the fault still runs), the one 40 s after that succeeds: three ejections in all
    assert broken["ejections"] == 3
    timeline = broken["timeline"]
    assert timeline.index("#") < 25 < 60 < timeline.rindex("#") < 100
    assert set(timeline[100:]) == {"."}


def test_simulate_without_faults_fails_nothing() -> None:
    report = json.loads(llmroute("simulate", EXAMPLE_CONFIG, "--json").stdout)
    assert report["totals"]["failed"] == 0 and report["totals"]["served"] == 200
    assert all(s["failures"] == 0 and s["ejections"] == 0 for s in report["services"])


@pytest.mark.parametrize(
    ("command", "example"),
    [("check", CHECK_EXAMPLE), ("explain", EXPLAIN_EXAMPLE), ("simulate", SIMULATE_EXAMPLE)],
)
def test_each_commands_help_shows_its_example(command: str, example: str) -> None:
    done = llmroute(command, "--help")
    assert done.returncode == 0
    assert f"example:\n  {example}\n" in done.stdout
    assert "--json" in done.stdout


def test_the_top_level_help_shows_every_example() -> None:
    done = llmroute("--help")
    assert done.returncode == 0
    for example in (CHECK_EXAMPLE, EXPLAIN_EXAMPLE, SIMULATE_EXAMPLE):
        assert example in done.stdout


@pytest.mark.parametrize("kind", sorted(ERRORS, key=lambda k: k.value))
def test_each_simulated_kind_is_classified_as_that_kind(kind: FailureKind) -> None:
    assert classify_error(ERRORS[kind]()).kind is kind


def _scenario_doc() -> dict[str, Any]:
    service = {"provider": "openai", "model": "gpt-4o"}
    return {
        "providers": [{"name": "openai", "models": ["gpt-4o", "gpt-4o-mini"]}],
        "scenarios": [{"scenario": "opencode", "flags": {"separate": True}}],
        "rules": [
            {"uuid": "plain", "services": [service]},
            {
                "uuid": "oc-mini",
                "scenario": "opencode",
                "request_model": "mini",
                "services": [{"provider": "openai", "model": "gpt-4o-mini"}],
            },
        ],
    }


def test_explain_scenario_finds_the_rule_as_select_does(tmp_path: Path) -> None:
    config = write(tmp_path / "routing.json", _scenario_doc())
    body = {"model": "mini", "messages": [{"role": "user", "content": "x"}]}
    request = write(tmp_path / "request.json", body)
    done = llmroute("explain", config, request, "--scenario", "opencode")
    assert done.returncode == 0, done.stderr
    expected = ServiceSelector.from_config(load_config(config), rng=random.Random(0))
    assert done.stdout == expected.select(None, body, scenario="opencode").explain() + "\n"
    assert "scenario 'opencode' (separate): rule 'oc-mini' serves model 'mini'" in done.stdout


def test_explain_scenario_miss_and_with_rule_are_errors(tmp_path: Path) -> None:
    config = write(tmp_path / "routing.json", _scenario_doc())
    request = write(tmp_path / "request.json", {"model": "gpt-5", "messages": []})
    missed = llmroute("explain", config, request, "--scenario", "opencode")
    assert missed.returncode == 2
    assert "no rule for scenario 'opencode' and model 'gpt-5'" in missed.stderr
    both = llmroute("explain", config, request, "--scenario", "opencode", "--rule", "plain")
    assert both.returncode == 2 and "give one" in both.stderr
