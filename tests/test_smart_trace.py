"""The per-op trace of explain() (issue 15): each block tried up to the one that matched, each
op with its value, a snippet of what it saw and whether it matched; lazy and secret-free."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmroute import Provider, Rule, ServiceSelector, SmartRouter
from llmroute.smart import snippet_of
from llmroute.testing import FakeClock


def _rule(*blocks: dict[str, Any]) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [{"provider": "p", "model": "base"}],
            "smart_enabled": True,
            "smart_routing": list(blocks),
        }
    )


def _block(description: str, *ops: tuple[str, str, str], model: str = "m") -> dict[str, Any]:
    return {
        "description": description,
        "ops": [{"position": p, "operation": o, "value": v} for p, o, v in ops],
        "services": [{"provider": "p", "model": model}],
    }


RULE = _rule(
    _block("long", ("token", "ge", "5000"), model="long"),
    _block("code", ("model", "contains", "gpt"), ("latest_user", "contains", "refactor")),
    _block("cats", ("latest_user", "contains", "cats"), model="cats"),
    _block("never reached", ("model", "contains", "gpt"), model="late"),
)
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "tell me about cats"}]}


def _explain(rule: Rule, body: Any, **kwargs: Any) -> list[str]:
    selector = ServiceSelector([Provider(name="p")], **kwargs)
    return selector.select(rule, body).explain().splitlines()


def test_the_trace_shows_each_op_of_the_blocks_tried_up_to_the_match() -> None:
    lines = _explain(RULE, BODY)
    start = lines.index("  2. smart_routing: block 2 ('cats') matched -> p:cats")
    assert lines[start + 1 : start + 8] == [
        "     block 0 'long': no match",
        "       token ge '5000': no (saw 4 estimated tokens)",
        "     block 1 'code': no match",
        "       model contains 'gpt': yes (saw 'gpt-4o')",
        "       latest_user contains 'refactor': no (saw 'tell me about cats')",
        "     block 2 'cats': matched",
        "       latest_user contains 'cats': yes (saw 'tell me about cats')",
    ]
    assert not any("never reached" in line for line in lines)  # blocks after the match


def test_a_block_stops_at_its_first_failing_op_cheapest_first() -> None:
    rule = _rule(_block("b", ("context_user", "contains", "x"), ("model", "equals", "other")))
    lines = _explain(rule, BODY)
    assert "       model equals 'other': no (saw 'gpt-4o')" in lines
    assert not any("context_user" in line for line in lines)  # never evaluated


def test_text_snippets_are_cut_at_80_characters_around_what_matched() -> None:
    text = "a" * 300 + " the needle here " + "b" * 300
    body = {"messages": [{"role": "user", "content": text}]}
    rule = _rule(_block("b", ("context_user", "contains", "needle")))
    line = next(x for x in _explain(rule, body) if "context_user contains" in x)
    seen = line.split("(saw ", 1)[1][:-1]
    assert "needle" in seen
    assert seen.startswith("'...") and seen.endswith("...'")
    assert len(seen) <= 80 + len("''......")


@pytest.mark.parametrize(
    "secret",
    ["sk-live-0123456789abcdefghij", "Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "api_key=hunter2x"],
)
def test_snippets_never_show_secrets(secret: str) -> None:
    body = {"messages": [{"role": "user", "content": f"please use {secret} for the call"}]}
    rule = _rule(_block("b", ("latest_user", "contains", "please")))
    text = "\n".join(_explain(rule, body))
    assert secret not in text and "***" in text


def test_a_secret_cut_by_the_window_edge_is_masked_whole() -> None:
    secret = "sk-" + "q" * 60
    text = "x" * 30 + " " + secret + " needle " + "y" * 200
    shown = snippet_of(text, "needle", False)
    assert "qqqqqq" not in shown and "***" in shown


def test_live_ops_show_the_figures_they_saw() -> None:
    clock = FakeClock(1_780_000_000.0)  # 2026-05-28 20:26:40 UTC
    rule = _rule(
        {
            "description": "night",
            "ops": [
                {
                    "position": "time_range",
                    "operation": "within",
                    "value": "22:00-06:00",
                    "meta": {"timezone": "Europe/Berlin"},
                },
                {"position": "service_ttft", "operation": "avg_le", "value": "500"},
            ],
            "services": [{"provider": "p", "model": "cheap"}],
        }
    )
    lines = _explain(rule, {}, clock=clock)
    assert "       time_range within '22:00-06:00': yes (saw 22:26 Europe/Berlin)" in lines
    assert "       service_ttft avg_le '500': no (saw no TTFT samples yet)" in lines


def test_select_never_builds_the_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = SmartRouter.trace

    def counting(self: SmartRouter, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SmartRouter, "trace", counting)
    selector = ServiceSelector([Provider(name="p")])
    results = [selector.select(RULE, BODY) for _ in range(5)]
    results.append(asyncio.run(selector.aselect(RULE, BODY)))
    assert calls == []  # the hot path records nothing
    assert all(r.matched_smart_rule_index == 2 for r in results)
    results[0].explain()
    assert calls == [1]


def test_embeddings_selections_show_no_op_trace() -> None:
    selector = ServiceSelector([Provider(name="p")])
    text = selector.select_for_embeddings(RULE, BODY).explain()
    assert "skipped for embeddings" in text and "block 0" not in text
