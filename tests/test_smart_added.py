"""The ops tingly-box added (issue 15): messages has_image, agent claude_code, time_range,
service_ttft and service_capacity, each as a table of matching and non-matching inputs."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from llmroute import ConfigError, Provider, Rule, Service, ServiceSelector, SmartRouter
from llmroute.affinity import AffinityEntry
from llmroute.config import claude_code_kind
from llmroute.smart import extract_context
from llmroute.state import StateSnapshot
from llmroute.testing import FakeClock, RecordingStore

BASE = Service(provider="p", model="base")
FAST = {"provider": "p", "model": "fast"}
SLOW = {"provider": "p", "model": "slow"}


def _rule(*ops: dict[str, Any], services: list[dict[str, Any]] | None = None) -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [BASE.model_dump()],
            "smart_enabled": True,
            "smart_routing": [
                {"description": "the block", "ops": list(ops), "services": services or [FAST]}
            ],
        }
    )


def _op(position: str, operation: str, value: Any, **meta: str) -> dict[str, Any]:
    return {"position": position, "operation": operation, "value": value, "meta": meta}


def _matches(rule: Rule, body: Any, selector: ServiceSelector | None = None) -> bool:
    selector = selector or ServiceSelector([Provider(name="p")])
    return selector.select(rule, body).matched_smart_rule_index == 0


# -- messages has_image ---------------------------------------------------------------------

_PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
IMAGE_EARLIER_OPENAI = {
    "model": "gpt-4o",
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        },
        {"role": "assistant", "content": "A cat."},
        {"role": "user", "content": "and its breed?"},
    ],
}
IMAGE_IN_TOOL_RESULT = {
    "model": "claude-sonnet-4-5",
    "messages": [
        {"role": "user", "content": "take a screenshot"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "screenshot", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "image", "source": _PNG}],
                }
            ],
        },
    ],
}
IMAGE_LATEST_ANTHROPIC = {
    "messages": [{"role": "user", "content": [{"type": "image", "source": _PNG}]}]
}
IMAGE_RESPONSES = {
    "input": [
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": "https://example.com/a.png"}],
        },
        {"role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"role": "user", "content": [{"type": "input_text", "text": "more"}]},
    ]
}
TEXT_ONLY = {"messages": [{"role": "user", "content": "hello"}]}


@pytest.mark.parametrize(
    ("body", "has_image"),
    [
        (IMAGE_EARLIER_OPENAI, True),
        (IMAGE_IN_TOOL_RESULT, True),
        (IMAGE_LATEST_ANTHROPIC, True),
        (IMAGE_RESPONSES, True),
        (TEXT_ONLY, False),
        ({}, False),
    ],
    ids=["openai-earlier", "tool-result", "anthropic-latest", "responses", "text", "empty"],
)
@pytest.mark.parametrize("value", ["true", "false", ""])
def test_has_image_reads_every_message(body: dict[str, Any], has_image: bool, value: str) -> None:
    expected = has_image if value in ("true", "") else not has_image
    assert _matches(_rule(_op("messages", "has_image", value)), body) is expected


def test_latest_user_type_still_reads_only_the_latest_turn() -> None:
    assert not _matches(_rule(_op("latest_user", "type", "image")), IMAGE_EARLIER_OPENAI)
    assert _matches(_rule(_op("messages", "has_image", "true")), IMAGE_EARLIER_OPENAI)


# -- agent claude_code: real-shaped Claude Code bodies ---------------------------------------

_IDENTITY = {
    "type": "text",
    "text": "You are Claude Code, Anthropic's official CLI for Claude.",
    "cache_control": {"type": "ephemeral"},
}


def _tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"The {name} tool.",
        "input_schema": {"type": "object", "properties": {}},
    }


_MAIN_TOOLS = [_tool(n) for n in ("Task", "Bash", "Glob", "Grep", "Read", "Edit", "TodoWrite")]
_SUB_TOOLS = [_tool(n) for n in ("Bash", "Glob", "Grep", "Read")]
_METADATA = {"user_id": "user_3f2a_account__session_9b1c2d"}

MAIN_LOOP = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "stream": True,
    "metadata": _METADATA,
    "system": [
        _IDENTITY,
        {
            "type": "text",
            "text": "\nYou are an interactive CLI tool that helps users with software "
            "engineering tasks. Use the instructions below and the tools available to you "
            "to assist the user.\n\n# Tone and style\nYou should be concise...",
            "cache_control": {"type": "ephemeral"},
        },
    ],
    "tools": _MAIN_TOOLS,
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\nAs you answer...</system-reminder>"},
                {"type": "text", "text": "fix the failing test in tests/test_app.py"},
            ],
        }
    ],
}
SUB_AGENT = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "metadata": _METADATA,
    "system": [
        _IDENTITY,
        {
            "type": "text",
            "text": "You are an agent for Claude Code, Anthropic's official CLI for Claude. "
            "Given the user's message, you should use the tools available to complete the "
            "task. Do what has been asked; nothing more, nothing less.",
        },
    ],
    "tools": _SUB_TOOLS,
    "messages": [{"role": "user", "content": "Find every caller of parse_config in src/"}],
}
CUSTOM_SUB_AGENT = {
    **SUB_AGENT,
    "system": [
        _IDENTITY,
        {"type": "text", "text": "You are a meticulous code reviewer. Review the diff."},
    ],
}
COMPACTION = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 20000,
    "metadata": _METADATA,
    "system": [
        _IDENTITY,
        {
            "type": "text",
            "text": "You are a helpful AI assistant tasked with summarizing conversations.",
        },
    ],
    "messages": [
        {"role": "user", "content": "fix the failing test"},
        {"role": "assistant", "content": [{"type": "text", "text": "Fixed it."}]},
        {
            "role": "user",
            "content": "Your task is to create a detailed summary of the conversation so far, "
            "paying close attention to the user's explicit requests and your previous actions.",
        },
    ],
}
OTHER_CLIENT = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "write a haiku"},
    ],
    "tools": [{"type": "function", "function": {"name": "search", "parameters": {}}}],
}
KINDS = {
    "main": MAIN_LOOP,
    "subagent": SUB_AGENT,
    "custom-subagent": CUSTOM_SUB_AGENT,
    "compaction": COMPACTION,
    "other": OTHER_CLIENT,
}
EXPECTED_KIND = {
    "main": "main",
    "subagent": "subagent",
    "custom-subagent": "subagent",
    "compaction": "compaction",
    "other": "",
}


@pytest.mark.parametrize("name", list(KINDS))
def test_the_claude_code_kind_of_real_shaped_bodies(name: str) -> None:
    assert claude_code_kind(extract_context(KINDS[name])) == EXPECTED_KIND[name]


@pytest.mark.parametrize("name", list(KINDS))
@pytest.mark.parametrize("value", ["main", "subagent", "compaction"])
def test_the_agent_op_matches_its_kind_only(name: str, value: str) -> None:
    rule = _rule(_op("agent", "claude_code", value))
    assert _matches(rule, KINDS[name]) is (EXPECTED_KIND[name] == value)


def test_tinglys_compact_spelling_is_read_as_compaction() -> None:
    assert _matches(_rule(_op("agent", "claude_code", "compact")), COMPACTION)


def test_a_compaction_without_the_compaction_system_prompt_is_found_by_its_user_message() -> None:
    body = {**COMPACTION, "system": [_IDENTITY]}
    assert claude_code_kind(extract_context(body)) == "compaction"


def test_the_offered_tools_are_read_from_each_shape() -> None:
    assert extract_context(MAIN_LOOP).offered_tools[:2] == ("Task", "Bash")
    assert extract_context(OTHER_CLIENT).offered_tools == ("search",)
    responses = {"input": "hi", "tools": [{"type": "function", "name": "lookup"}]}
    assert extract_context(responses).offered_tools == ("lookup",)


def test_an_unknown_agent_kind_fails_at_load() -> None:
    with pytest.raises(ConfigError, match=r"ops\[0\]\.value: value 'helper' is not one of"):
        _rule(_op("agent", "claude_code", "helper"))


# -- time_range -------------------------------------------------------------------------------


def _at(text: str) -> float:
    """An ISO instant in UTC as clock seconds."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


def _in_window(window: str, instant: str, zone: str = "", operation: str = "within") -> bool:
    meta = {"timezone": zone} if zone else {}
    rule = _rule(_op("time_range", operation, window, **meta))
    selector = ServiceSelector([Provider(name="p")], clock=FakeClock(_at(instant)))
    return _matches(rule, {}, selector)


@pytest.mark.parametrize(
    ("window", "instant", "expected"),
    [
        ("09:00-17:00", "2026-06-01T09:00:00", True),  # the start is inside
        ("09:00-17:00", "2026-06-01T16:59:59", True),
        ("09:00-17:00", "2026-06-01T17:00:00", False),  # the end is not
        ("09:00-17:00", "2026-06-01T08:59:00", False),
        ("22:00-06:00", "2026-06-01T22:00:00", True),  # across midnight
        ("22:00-06:00", "2026-06-01T23:59:00", True),
        ("22:00-06:00", "2026-06-02T00:00:00", True),
        ("22:00-06:00", "2026-06-02T05:59:00", True),
        ("22:00-06:00", "2026-06-02T06:00:00", False),
        ("22:00-06:00", "2026-06-01T12:00:00", False),
        ("22:00-06:00", "2026-06-01T21:59:00", False),
    ],
)
def test_time_range_in_utc_by_default(window: str, instant: str, expected: bool) -> None:
    assert _in_window(window, instant) is expected
    assert _in_window(window, instant, operation="outside") is not expected


@pytest.mark.parametrize(
    ("window", "instant", "expected"),
    [
        # spring forward, 2026-03-29 02:00 CET -> 03:00 CEST: the window follows the wall clock
        ("01:00-04:00", "2026-03-28T02:30:00", True),  # 03:30 CET
        ("01:00-04:00", "2026-03-29T00:30:00", True),  # 01:30 CET
        ("01:00-04:00", "2026-03-29T01:30:00", True),  # 03:30 CEST
        ("01:00-04:00", "2026-03-29T02:30:00", False),  # 04:30 CEST (the day before: 03:30)
        # fall back, 2026-10-25 03:00 CEST -> 02:00 CET, across midnight
        ("22:00-06:00", "2026-10-24T19:59:00", False),  # 21:59 CEST
        ("22:00-06:00", "2026-10-24T20:00:00", True),  # 22:00 CEST
        ("22:00-06:00", "2026-10-25T00:30:00", True),  # 02:30 CEST, the first 02:30
        ("22:00-06:00", "2026-10-25T01:30:00", True),  # 02:30 CET, the second
        ("22:00-06:00", "2026-10-25T04:59:00", True),  # 05:59 CET
        ("22:00-06:00", "2026-10-25T05:00:00", False),  # 06:00 CET
        ("22:00-06:00", "2026-10-24T04:00:00", False),  # 06:00 CEST, a day earlier
    ],
)
def test_time_range_across_dst_changes_in_berlin(window: str, instant: str, expected: bool) -> None:
    assert _in_window(window, instant, "Europe/Berlin") is expected


def test_time_range_reads_the_injected_clock_at_each_selection() -> None:
    clock = FakeClock(_at("2026-06-01T21:00:00"))
    selector = ServiceSelector([Provider(name="p")], clock=clock)
    rule = _rule(_op("time_range", "within", "22:00-06:00"))
    assert not _matches(rule, {}, selector)
    clock.advance(3600)
    assert _matches(rule, {}, selector)


@pytest.mark.parametrize(
    ("value", "meta", "path"),
    [
        ("22:00", {}, r"ops\[0\]\.value: value '22:00' is not a daily window"),
        ("24:00-06:00", {}, r"ops\[0\]\.value: value '24:00-06:00' is not a daily window"),
        ("10:60-11:00", {}, r"ops\[0\]\.value: .* is not a daily window"),
        ("08:00-08:00", {}, r"ops\[0\]\.value: .* start and end must differ"),
        ("08:00-09:00", {"timezone": "Mars/Olympus"}, r"ops\[0\]\.meta\.timezone: unknown time"),
    ],
)
def test_a_bad_time_range_fails_at_load_naming_the_field(
    value: str, meta: dict[str, str], path: str
) -> None:
    with pytest.raises(ConfigError, match=path):
        _rule(_op("time_range", "within", value, **meta))


def test_only_time_range_ops_take_a_time_zone() -> None:
    with pytest.raises(ConfigError, match=r"ops\[0\]\.meta\.timezone: only time_range ops"):
        _rule(_op("model", "contains", "gpt", timezone="UTC"))


def test_a_router_without_a_snapshot_matches_no_live_op() -> None:
    router = SmartRouter(_rule(_op("time_range", "within", "00:00-23:59")).smart_routing)
    assert router.evaluate({}) is None
    assert router.evaluate({}, StateSnapshot(now=_at("2026-06-01T12:00:00"))) is not None


# -- service_ttft and service_capacity: figures through the one state read -------------------


def _ttft_selector(samples: dict[str, list[float]]) -> tuple[ServiceSelector, RecordingStore]:
    clock = FakeClock(1000.0)
    store = RecordingStore(clock=clock)
    for model, values in samples.items():
        for ms in values:
            store.inner.stats.record_ttft(Service(provider="p", model=model), ms)
    return ServiceSelector([Provider(name="p")], state=store, clock=clock), store


# fast: 100 and 300 ms (mean 200); slow: 800 ms; the block's mean over all samples is 400
TTFT_CASES = [
    ("avg_le", 400, True),
    ("avg_le", 399, False),
    ("avg_ge", 400, True),
    ("avg_ge", 401, False),
    ("max_le", 800, True),
    ("max_le", 799, False),
    ("max_ge", 800, True),
    ("max_ge", 801, False),
]


@pytest.mark.parametrize(("operation", "value", "expected"), TTFT_CASES)
def test_service_ttft_reads_the_blocks_services_figures(
    operation: str, value: float, expected: bool
) -> None:
    selector, store = _ttft_selector({"fast": [100, 300], "slow": [800], "base": [5000]})
    rule = _rule(_op("service_ttft", operation, value), services=[FAST, SLOW])
    assert _matches(rule, {}, selector) is expected
    assert store.reads == 1 and store.queries[0].stats  # the plan asked for the figures


@pytest.mark.parametrize("operation", ["avg_le", "avg_ge", "max_le", "max_ge"])
def test_a_block_whose_services_have_no_ttft_yet_is_skipped(operation: str) -> None:
    selector, _ = _ttft_selector({"base": [100]})  # only the rule's own service has samples
    rule = _rule(_op("service_ttft", operation, 0), services=[FAST, SLOW])
    result = selector.select(rule, {})
    assert result.matched_smart_rule_index == -1
    assert "no TTFT samples yet" in result.explain()


def test_a_rule_without_figure_ops_does_not_ask_for_figures() -> None:
    selector, store = _ttft_selector({})
    selector.select(_rule(_op("model", "contains", "gpt")), {"model": "gpt-4o"})
    assert not store.queries[0].stats and not store.queries[0].sessions


def _capacity_selector(sessions: dict[str, int]) -> tuple[ServiceSelector, RecordingStore]:
    clock = FakeClock(1000.0)
    store = RecordingStore(clock=clock)
    for model, count in sessions.items():
        for i in range(count):
            entry = AffinityEntry(f"p:{model}", "", 1000.0, 2000.0)
            store.inner.affinity.pin("other-rule", f"session-{model}-{i}", entry)
    return ServiceSelector([Provider(name="p")], state=store, clock=clock), store


CAPACITY = [{**FAST, "model_capacity": 4}, {**SLOW, "model_capacity": 4}]


@pytest.mark.parametrize(
    ("operation", "value", "sessions", "expected"),
    [
        ("util_le", 0.5, {"fast": 3, "slow": 1}, True),  # 4 of 8
        ("util_le", 0.5, {"fast": 3, "slow": 2}, False),  # 5 of 8
        ("util_lt", 0.5, {"fast": 3, "slow": 1}, False),
        ("util_lt", 0.5, {"fast": 2, "slow": 1}, True),
        ("util_ge", 0.75, {"fast": 4, "slow": 2}, True),  # 6 of 8
        ("util_ge", 0.75, {"fast": 4, "slow": 1}, False),
        ("util_gt", 0.75, {"fast": 4, "slow": 2}, False),
        ("util_gt", 1.0, {"fast": 5, "slow": 4}, True),  # over capacity: 9 of 8
        ("util_le", 0.0, {}, True),  # no live session: 0 of 8
    ],
)
def test_service_capacity_reads_live_sessions_over_model_capacity(
    operation: str, value: float, sessions: dict[str, int], expected: bool
) -> None:
    selector, store = _capacity_selector(sessions)
    rule = _rule(_op("service_capacity", operation, value), services=CAPACITY)
    assert _matches(rule, {}, selector) is expected
    assert store.reads == 1 and store.queries[0].sessions


def test_a_block_whose_services_have_no_capacity_is_skipped() -> None:
    selector, _ = _capacity_selector({"fast": 1})
    rule = _rule(_op("service_capacity", "util_le", 1), services=[FAST, SLOW])
    result = selector.select(rule, {})
    assert result.matched_smart_rule_index == -1
    assert "no service with a model_capacity" in result.explain()


def test_services_without_a_capacity_do_not_count() -> None:
    selector, _ = _capacity_selector({"fast": 1, "slow": 50})
    rule = _rule(
        _op("service_capacity", "util_le", 0.25), services=[{**FAST, "model_capacity": 4}, SLOW]
    )
    assert _matches(rule, {}, selector)  # 1 of 4: slow's 50 sessions have no capacity to fill


@pytest.mark.parametrize("position", ["service_ttft", "service_capacity"])
def test_a_negative_figure_fails_at_load(position: str) -> None:
    operation = "avg_le" if position == "service_ttft" else "util_le"
    with pytest.raises(ConfigError, match=r"ops\[0\]\.value: value -1\.0 must be a number >= 0"):
        _rule(_op(position, operation, -1))


def test_an_odd_part_type_in_a_tool_result_is_no_image_and_no_error() -> None:
    # a list where a type name belongs (hypothesis found it): read as no image, never raised
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": [{"type": ["image"]}]}
                ],
            }
        ]
    }
    assert extract_context(body).has_image is False


def test_another_clients_request_for_a_summary_is_no_compaction() -> None:
    # The /compact wording alone, from a client that is not Claude Code, is a user's own
    # request: it must not route as Claude Code's compaction.
    body = {
        **OTHER_CLIENT,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": "Your task is to create a detailed summary of the conversation so far.",
            },
        ],
    }
    assert claude_code_kind(extract_context(body)) == ""
    assert not _matches(_rule(_op("agent", "claude_code", "compaction")), body)


def test_the_compaction_system_prompt_alone_is_a_compaction() -> None:
    body = {**COMPACTION, "system": [COMPACTION["system"][1]]}
    assert claude_code_kind(extract_context(body)) == "compaction"
