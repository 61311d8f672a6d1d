"""The examples run: the quickstart as the README runs it, and the SDK examples against the
local fake server with a failing primary, so their failover is visible."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from fake_llm_server import FakeLLMServer, rate_limited, server_error

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` (the examples are scripts, not a package)."""
    module_name = f"llmroute_example_{name}"
    loaded = sys.modules.get(module_name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


openai_sdk = load_example("openai_sdk")
anthropic_sdk = load_example("anthropic_sdk")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine running the tests leaks into the examples."""
    for name in (*openai_sdk.ENV_VARS, *anthropic_sdk.ENV_VARS):
        monkeypatch.delenv(name, raising=False)


def endpoints(server: FakeLLMServer, prefix: str) -> dict[str, str]:
    """The base-URL variables pointing the primary and the backup at the fake server."""
    return {
        f"{prefix}_BASE_URL": server.url("primary"),
        f"{prefix}_BACKUP_BASE_URL": server.url("backup"),
    }


# --- examples/openai_sdk.py ----------------------------------------------------------------


def openai_env(monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-primary")
    monkeypatch.setenv("LLMROUTE_OPENAI_BASE_URL", server.url("primary"))
    monkeypatch.setenv("LLMROUTE_OPENAI_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("LLMROUTE_OPENAI_BACKUP_BASE_URL", server.url("backup"))
    monkeypatch.setenv("LLMROUTE_OPENAI_BACKUP_API_KEY", "sk-test-backup")
    monkeypatch.setenv("LLMROUTE_OPENAI_BACKUP_MODEL", "gpt-4.1-mini")


def test_openai_example_fails_over_to_the_backup_sync_async_and_streamed(
    monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    openai_env(monkeypatch, server)
    server.script("primary", [server_error()] * 3)
    assert openai_sdk.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "rule 'chat': primary:gpt-4o-mini, backup:gpt-4.1-mini",
        "sync   backup:gpt-4.1-mini (after primary:gpt-4o-mini: server): 'hello from backup'",
        "async  backup:gpt-4.1-mini (after primary:gpt-4o-mini: server): 'hello from backup'",
        "stream backup:gpt-4.1-mini (after primary:gpt-4o-mini: server): 'hello from backup'",
    ]
    assert (server.calls("primary"), server.calls("backup")) == (3, 3)
    bodies = [r.body for r in server.requests("backup")]
    assert [b["model"] for b in bodies] == ["gpt-4.1-mini"] * 3
    assert [bool(b.get("stream")) for b in bodies] == [False, False, True]


def test_openai_example_uses_the_primary_while_it_is_healthy(server: FakeLLMServer) -> None:
    env = {"OPENAI_API_KEY": "k", **endpoints(server, "LLMROUTE_OPENAI")}
    selector = openai_sdk.ServiceSelector.from_config(openai_sdk.routing_config(env))
    outcomes = openai_sdk.run(selector)
    assert [(o.mode, o.served, o.failed) for o in outcomes] == [
        ("sync", "primary:gpt-4o-mini", ()),
        ("async", "primary:gpt-4o-mini", ()),
        ("stream", "primary:gpt-4o-mini", ()),
    ]
    assert server.calls("backup") == 0


def test_openai_example_without_a_backup_routes_to_the_primary_alone() -> None:
    config = openai_sdk.routing_config({"OPENAI_API_KEY": "k"})
    assert [p.api_base for p in config.providers] == ["https://api.openai.com/v1"]
    assert [s.service_id for s in config.rules[0].services] == ["primary:gpt-4o-mini"]


# --- examples/anthropic_sdk.py -------------------------------------------------------------


def test_anthropic_example_fails_over_on_a_429_and_keeps_off_the_primary_until_retry_after(
    monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("LLMROUTE_ANTHROPIC_BASE_URL", server.url("primary"))
    monkeypatch.setenv("LLMROUTE_ANTHROPIC_BACKUP_BASE_URL", server.url("backup"))
    server.script("primary", [rate_limited(retry_after=30)])
    assert anthropic_sdk.main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "rule 'assistant': primary:claude-haiku-4-5, backup:claude-haiku-4-5",
        "sync   backup:claude-haiku-4-5 (after primary:claude-haiku-4-5: rate_limit): "
        "'hello from backup'",
        "async  backup:claude-haiku-4-5: 'hello from backup'",
        "stream backup:claude-haiku-4-5: 'hello from backup'",
    ]
    # one 429, then the primary cools down for its Retry-After: no more calls to it
    assert (server.calls("primary"), server.calls("backup")) == (1, 3)
    body = server.requests("backup")[0].body
    assert body["metadata"] == {"user_id": anthropic_sdk.USER_ID}
    assert body["messages"] == [{"role": "user", "content": "What is a load balancer?"}]


def test_anthropic_example_uses_the_primary_while_it_is_healthy(server: FakeLLMServer) -> None:
    env = {"ANTHROPIC_API_KEY": "k", **endpoints(server, "LLMROUTE_ANTHROPIC")}
    selector = anthropic_sdk.ServiceSelector.from_config(anthropic_sdk.routing_config(env))
    outcomes = anthropic_sdk.run(selector)
    assert [(o.mode, o.served, o.text) for o in outcomes] == [
        ("sync", "primary:claude-haiku-4-5", "hello from primary"),
        ("async", "primary:claude-haiku-4-5", "hello from primary"),
        ("stream", "primary:claude-haiku-4-5", "hello from primary"),
    ]
    assert server.calls("backup") == 0


def test_anthropic_example_exits_1_when_every_endpoint_fails(
    monkeypatch: pytest.MonkeyPatch, server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("LLMROUTE_ANTHROPIC_BASE_URL", server.url("primary"))
    server.script("primary", [server_error()])
    assert anthropic_sdk.main() == 1
    assert "every endpoint failed" in capsys.readouterr().err


# --- both ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("example", "variable"),
    [(openai_sdk, "OPENAI_API_KEY"), (anthropic_sdk, "ANTHROPIC_API_KEY")],
    ids=["openai", "anthropic"],
)
def test_sdk_examples_exit_2_naming_the_missing_key(
    example: ModuleType, variable: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert example.main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{variable} is not set" in captured.err


# --- examples/quickstart.py ----------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart_runs() -> list[subprocess.CompletedProcess[str]]:
    """Two runs of the README's command (after the install), from the repository root."""
    command = [sys.executable, str(EXAMPLES / "quickstart.py")]
    return [
        subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        for _ in range(2)
    ]


def test_quickstart_runs_cleanly_and_deterministically(
    quickstart_runs: list[subprocess.CompletedProcess[str]],
) -> None:
    first, second = quickstart_runs
    assert (first.returncode, first.stderr) == (0, "")
    assert second.stdout == first.stdout


def test_quickstart_output_fits_a_100_column_terminal(
    quickstart_runs: list[subprocess.CompletedProcess[str]],
) -> None:
    lines = quickstart_runs[0].stdout.splitlines()
    assert len(lines) > 30
    assert max(map(len, lines)) <= 100


def test_quickstart_shows_smart_routing_failover_health_and_an_explanation(
    quickstart_runs: list[subprocess.CompletedProcess[str]],
) -> None:
    out = quickstart_runs[0].stdout
    # the rows smart routing decides (each block's backup has weight 0, so no draw matters)
    for row in (
        "openai chat: image in last turn  assistant  openai:gpt-4o                smart_routing #0",
        "anthropic: thinking on           assistant  anthropic:claude-opus-4-1    smart_routing #1",
        "anthropic: 25k-token contract    assistant  google:gemini-2.5-pro        smart_routing #2",
        "openai chat: 24k-token log       assistant  google:gemini-2.5-pro        smart_routing #2",
    ):
        assert row in out
    # a 429 with Retry-After, a 500 streak, cooldowns that start and end
    assert "-> fallback anthropic:claude-sonnet-4-5 after 429 from openai:gpt-4o\n" in out
    assert "-> fallback anthropic:claude-sonnet-4-5 after 500 from google:gemini-2.5-pro\n" in out
    assert "health: openai:gpt-4o ejected for 20s (rate limited, as Retry-After said)" in out
    assert "health: google:gemini-2.5-pro ejected for 30s (2 server errors in a row)" in out
    assert "openai:gpt-4o not tried: cooling down, 5s left" in out
    assert "health: openai:gpt-4o back in rotation" in out
    assert "health: google:gemini-2.5-pro back in rotation" in out
    # the affinity rule: a session sticks
    assert "anthropic: user u-1042 (2/3)     chat" in out
    assert "affinity\n" in out
    # the explanation of request 11
    explanation = out.split("SelectionResult.explain():\n", 1)[1]
    assert explanation.startswith(
        "rule 'assistant' -> anthropic:claude-sonnet-4-5 (by smart_routing)\n"
    )
    assert "smart_routing: block 0 ('image in the latest user turn') matched" in explanation
    assert "smart_routing: dropped the block's unhealthy openai:gpt-4o" in explanation


# --- examples/workers.py -------------------------------------------------------------------


def run_workers(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    command = [sys.executable, str(EXAMPLES / "workers.py")]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def test_workers_example_says_so_and_exits_0_without_redis() -> None:
    run = run_workers({"LLMROUTE_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("no Redis reachable at redis://127.0.0.1:1/0")


def test_workers_example_keeps_sessions_on_one_service_and_the_fleet_fails_about_3_calls() -> None:
    import redis_support

    if not redis_support.reachable():
        pytest.skip(f"no Redis reachable at {redis_support.URL}")
    run = run_workers({})
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "400 requests of 40 sessions over 4 worker processes"
    spread = next(line for line in lines if line.startswith("sessions by services"))
    assert spread.startswith("sessions by services that served them: 1: ")
    assert int(spread.split("1: ")[1].split(",")[0]) >= 36  # a session moves only on a failure
    failing = next(line for line in lines if line.startswith("failing calls"))
    assert int(failing.split(": ")[1].split()[0]) <= 3 + 3


def test_the_readmes_minimal_routing_yaml_loads_and_routes_over_both_providers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import re

    from llmroute import ServiceSelector, load_config

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"A minimal `routing.yaml`.*?```yaml\n(.*?)```", readme, re.S)
    assert found is not None, "the README's minimal routing.yaml"
    path = tmp_path / "routing.yaml"
    path.write_text(found.group(1), encoding="utf-8")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-a")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-b")
    config = load_config(path)
    assert [p.api_style for p in config.providers] == ["openai", "anthropic"]
    selector = ServiceSelector.from_config(config)
    body = {"model": "assistant", "messages": [{"role": "user", "content": "hi"}]}
    served = {selector.execute("assistant", body, lambda s, p: {}).service_id for _ in range(2)}
    assert served == {"openai:gpt-4o-mini", "anthropic:claude-haiku-4-5"}
