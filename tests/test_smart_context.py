"""Request-context extraction: fields, shapes, token estimates, extractors and robustness."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from llmroute import RequestContext, extract_context
from llmroute.request import estimate_tokens
from llmroute.smart import register_extractor

# --- estimate_tokens ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("abc", 0),
        ("abcd", 1),
        ("hello world", 2),
        ("é" * 4, 2),  # 8 UTF-8 bytes
        ("日本語", 2),  # 9 UTF-8 bytes
        ("🙂" * 3, 3),  # 12 UTF-8 bytes
    ],
)
def test_estimate_tokens_is_utf8_bytes_over_four(text: str, tokens: int) -> None:
    assert estimate_tokens(text) == tokens


def test_estimate_tokens_rejects_bytes() -> None:
    with pytest.raises(TypeError, match="takes a str"):
        estimate_tokens(b"hello")  # type: ignore[arg-type]


def test_estimated_tokens_count_every_text_the_model_reads() -> None:
    body = {
        "system": "sys",
        "messages": [
            {"role": "user", "content": "question"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "name": "f", "input": {"a": 1}}],
            },
            {"role": "user", "content": [{"type": "tool_result", "content": "answer"}]},
        ],
    }
    joined = "\n".join(["sys", "question", json.dumps({"a": 1}), "answer"])
    assert extract_context(body).estimated_tokens == estimate_tokens(joined)


def test_images_do_not_count_as_text_tokens() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}
    body = {"messages": [{"role": "user", "content": [image]}]}
    assert extract_context(body).estimated_tokens == 0


def test_token_counter_is_given_the_joined_text() -> None:
    seen: list[str] = []

    def counter(text: str) -> int:
        seen.append(text)
        return 7

    body = {"system": "a", "messages": [{"role": "user", "content": "b"}]}
    ctx = extract_context(body, token_counter=counter)
    assert (ctx.estimated_tokens, seen) == (7, ["a\nb"])


def test_tokens_are_counted_once_and_only_when_read() -> None:
    calls: list[str] = []

    def counter(text: str) -> int:
        calls.append(text)
        return len(text)

    ctx = extract_context({"messages": [{"role": "user", "content": "hi"}]}, counter)
    assert calls == []
    assert (ctx.estimated_tokens, ctx.estimated_tokens, calls) == (2, 2, ["hi"])


def test_token_counter_must_be_callable() -> None:
    with pytest.raises(TypeError, match="token_counter must be callable"):
        extract_context({}, token_counter=4)  # type: ignore[arg-type]


# --- fields -------------------------------------------------------------------------------


def test_text_parts_of_a_user_turn_are_joined_with_newlines() -> None:
    parts = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    ctx = extract_context({"messages": [{"role": "user", "content": parts}]})
    assert ctx.user_messages == ("one\ntwo",)


def test_a_tool_result_only_turn_is_not_a_user_message() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "content": "out"}]},
    ]
    ctx = extract_context({"messages": messages})
    assert ctx.user_messages == ("first",)
    assert (ctx.latest_user_text, ctx.latest_content_type) == ("", "")  # "first" is stale


def test_a_hand_built_context_reads_its_last_user_message_as_the_latest() -> None:
    ctx = RequestContext(user_messages=["one", "two"])
    assert ctx.latest_user_text == "two"
    assert RequestContext(user_messages=["one"], latest_user_text="").latest_user_text == ""


def test_a_turn_with_tool_results_and_text_is_a_user_message() -> None:
    content = [{"type": "tool_result", "content": "out"}, {"type": "text", "text": "and now?"}]
    messages = [
        {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]},
        {"role": "user", "content": content},
    ]
    ctx = extract_context({"messages": messages})
    assert (ctx.user_messages, ctx.tool_uses) == (("and now?",), ())


@pytest.mark.parametrize(
    ("messages", "role"),
    [
        ([{"role": "user", "content": "q"}], "user"),
        ([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "assistant"),
        ([{"role": "tool", "tool_call_id": "1", "content": "r"}], "tool"),
        ([{"type": "function_call_output", "call_id": "1", "output": "r"}], "tool"),
        ([{"type": "function_call", "call_id": "1", "name": "f", "arguments": "{}"}], "assistant"),
        ([], ""),
    ],
)
def test_latest_role_is_the_role_of_the_last_message(
    messages: list[dict[str, Any]], role: str
) -> None:
    assert extract_context({"messages": messages}).latest_role == role


def test_latest_content_type_is_empty_without_a_user_message() -> None:
    ctx = extract_context({"messages": [{"role": "system", "content": "s"}]})
    assert ctx.latest_content_type == ""


@pytest.mark.parametrize(
    ("parts", "kind"),
    [
        ([{"type": "text", "text": "t"}], "text"),
        ([{"type": "input_audio", "input_audio": {}}, {"type": "image_url"}], "image"),
        ([{"type": "file", "file": {}}, {"type": "input_audio"}], "audio"),
        ([{"type": "document", "source": {}}, {"type": "input_file"}], "file"),
        ([{"type": "document", "source": {}}], "document"),
        ([{"type": "input_image", "image_url": "u"}], "image"),
    ],
)
def test_latest_content_type_names_the_richest_part(parts: list[Any], kind: str) -> None:
    ctx = extract_context({"messages": [{"role": "user", "content": parts}]})
    assert ctx.latest_content_type == kind


def test_developer_and_system_messages_are_both_system_messages() -> None:
    messages = [
        {"role": "system", "content": "a"},
        {"role": "developer", "content": [{"type": "text", "text": "b"}]},
    ]
    assert extract_context({"messages": messages}).system_messages == ("a", "b")


def test_anthropic_system_blocks_are_one_system_message() -> None:
    system = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert extract_context({"system": system, "messages": []}).system_messages == ("a\nb",)


def test_responses_instructions_are_a_system_message() -> None:
    ctx = extract_context({"instructions": "be brief", "input": "hi"})
    assert (ctx.system_messages, ctx.user_messages) == (("be brief",), ("hi",))


def test_tool_uses_are_the_calls_of_the_latest_assistant_turn() -> None:
    messages = [
        {"role": "assistant", "tool_calls": [{"function": {"name": "old", "arguments": "{}"}}]},
        {"role": "tool", "content": "r"},
        {
            "role": "assistant",
            "tool_calls": [
                {"type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
                {"type": "custom", "custom": {"name": "b", "input": "raw"}},
            ],
        },
    ]
    ctx = extract_context({"messages": messages})
    assert (ctx.tool_uses, ctx.tool_arguments) == (("a", "b"), ('{"x": 1}', "raw"))


def test_consecutive_responses_calls_are_one_turn() -> None:
    items = [
        {"role": "user", "content": "go"},
        {"type": "reasoning", "summary": []},
        {"type": "function_call", "call_id": "1", "name": "a", "arguments": "{}"},
        {"type": "function_call", "call_id": "2", "name": "b", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "1", "output": "r1"},
        {"type": "function_call_output", "call_id": "2", "output": "r2"},
    ]
    assert extract_context({"input": items}).tool_uses == ("a", "b")


def test_a_responses_call_after_outputs_starts_a_new_turn() -> None:
    items = [
        {"type": "function_call", "call_id": "1", "name": "a", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "1", "output": "r1"},
        {"type": "function_call", "call_id": "2", "name": "b", "arguments": "{}"},
    ]
    assert extract_context({"input": items}).tool_uses == ("b",)


def test_an_assistant_reply_ends_the_tool_use() -> None:
    messages = [
        {"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": "{}"}}]},
        {"role": "tool", "content": "r"},
        {"role": "assistant", "content": "done"},
    ]
    assert extract_context({"messages": messages}).tool_uses == ()


@pytest.mark.parametrize(
    ("body", "enabled"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, True),
        ({"thinking": {"type": "adaptive"}}, True),
        ({"thinking": {"type": "disabled"}}, False),
        ({"reasoning_effort": "minimal"}, True),
        ({"reasoning_effort": "none"}, False),
        ({"reasoning_effort": None}, False),
        ({"reasoning": {"effort": "low"}}, True),
        ({"reasoning": {"effort": None, "summary": "auto"}}, False),
        ({}, False),
    ],
)
def test_thinking_enabled(body: dict[str, Any], enabled: bool) -> None:
    assert extract_context(body).thinking_enabled is enabled


@pytest.mark.parametrize(
    ("body", "user_id"),
    [
        ({"metadata": {"user_id": "u-1"}, "user": "other"}, "u-1"),
        ({"user": "end-user-7"}, "end-user-7"),
        ({"metadata": {"user_id": None}}, ""),
        ({}, ""),
    ],
)
def test_user_id_prefers_anthropic_metadata(body: dict[str, Any], user_id: str) -> None:
    assert extract_context(body).user_id == user_id


class Thinking(BaseModel):
    type: str
    budget_tokens: int = 1024


def test_nested_settings_may_be_pydantic_objects() -> None:
    assert extract_context({"thinking": Thinking(type="enabled")}).thinking_enabled is True


def test_the_model_is_empty_when_missing_or_not_text() -> None:
    assert extract_context({"model": 4}).model == ""


# --- no copies, lazy joins ----------------------------------------------------------------


def test_extraction_keeps_the_request_strings_by_reference() -> None:
    text = "a long user message " * 50
    ctx = extract_context({"messages": [{"role": "user", "content": text}]})
    assert ctx.user_messages[0] is text


def test_combined_user_text_is_joined_once() -> None:
    ctx = extract_context({"messages": [{"role": "user", "content": c} for c in "abc"]})
    assert ctx.user_text == "a\nb\nc"
    assert ctx.user_text is ctx.user_text


def test_extraction_does_not_mutate_the_request() -> None:
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
    }
    before = json.dumps(body)
    extract_context(body)
    assert json.dumps(body) == before


# --- shapes -------------------------------------------------------------------------------


class ChatBody(BaseModel):
    model: str
    messages: list[dict[str, Any]]


def test_a_pydantic_request_is_read_through_its_dump() -> None:
    ctx = extract_context(ChatBody(model="m", messages=[{"role": "user", "content": "hi"}]))
    assert (ctx.model, ctx.user_messages) == ("m", ("hi",))


def test_any_mapping_is_read() -> None:
    body = MappingProxyType({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    assert extract_context(body).user_messages == ("hi",)


def test_a_bare_message_list_is_read() -> None:
    assert extract_context([{"role": "user", "content": "hi"}]).user_messages == ("hi",)


def test_none_gives_an_empty_context() -> None:
    assert extract_context(None) == RequestContext()


def test_a_context_passes_through_unchanged() -> None:
    ctx = RequestContext(model="m")
    assert extract_context(ctx) is ctx


def test_an_unknown_body_gives_what_could_be_read() -> None:
    ctx = extract_context({"model": "m", "prompt": "old completions API"})
    assert (ctx.model, ctx.user_messages, ctx.latest_role) == ("m", (), "")


@pytest.mark.parametrize("request_body", ['{"model": "m"}', b"{}", 42, 1.5, True, object()])
def test_other_types_are_a_type_error(request_body: Any) -> None:
    with pytest.raises(TypeError, match="cannot read a request context"):
        extract_context(request_body)


def test_a_hand_built_context_estimates_its_own_tokens() -> None:
    ctx = RequestContext(system_messages=["abcd"], user_messages=["efgh"])
    assert ctx.estimated_tokens == estimate_tokens("abcd\nefgh")


def test_a_hand_built_context_refuses_a_string_for_a_list() -> None:
    with pytest.raises(TypeError, match="user_messages takes an iterable of strings"):
        RequestContext(user_messages="hello")


def test_a_hand_built_context_keeps_given_tokens() -> None:
    assert RequestContext(user_messages=["x" * 100], estimated_tokens=3).estimated_tokens == 3


# --- register_extractor -------------------------------------------------------------------


class Envelope:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class SubEnvelope(Envelope):
    pass


@pytest.fixture
def envelope_extractor() -> Iterator[None]:
    register_extractor(Envelope, lambda request: request.body)
    yield
    register_extractor(Envelope, None)


@pytest.mark.usefixtures("envelope_extractor")
def test_a_registered_extractor_may_return_a_body() -> None:
    ctx = extract_context(Envelope({"model": "m", "messages": []}))
    assert ctx.model == "m"


@pytest.mark.usefixtures("envelope_extractor")
def test_a_registered_extractor_serves_subclasses() -> None:
    assert extract_context(SubEnvelope({"model": "sub"})).model == "sub"


def test_a_registered_extractor_may_return_a_context() -> None:
    register_extractor(Envelope, lambda request: RequestContext(model="direct"))
    try:
        assert extract_context(Envelope({})).model == "direct"
    finally:
        register_extractor(Envelope, None)


def test_an_extractor_returning_something_else_is_a_type_error() -> None:
    register_extractor(Envelope, lambda request: 42)
    try:
        with pytest.raises(TypeError, match="expected a RequestContext or a mapping"):
            extract_context(Envelope({}))
    finally:
        register_extractor(Envelope, None)


def test_removing_an_extractor_restores_the_default() -> None:
    register_extractor(Envelope, lambda request: request.body)
    register_extractor(Envelope, None)
    with pytest.raises(TypeError):
        extract_context(Envelope({}))


@pytest.mark.parametrize(("cls", "fn"), [("Envelope", lambda r: r), (Envelope, "not callable")])
def test_register_extractor_checks_its_arguments(cls: Any, fn: Any) -> None:
    with pytest.raises(TypeError):
        register_extractor(cls, fn)


# --- robustness ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
KEYS = st.sampled_from(
    ["role", "content", "type", "text", "name", "input", "arguments", "tool_calls", "function",
     "custom", "function_call", "output", "image_url", "source", "effort", "user_id"]
)  # fmt: skip
VALUES = st.sampled_from(
    ["user", "assistant", "system", "developer", "tool", "function", "text", "image",
     "image_url", "input_text", "input_image", "tool_use", "tool_result", "function_call",
     "function_call_output", "reasoning", "document", "enabled", "none", "refusal"]
)  # fmt: skip
SHAPED = st.recursive(
    VALUES | JSON,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=40,
)
BODIES = st.dictionaries(
    st.sampled_from(
        ["model", "messages", "input", "system", "instructions", "thinking", "reasoning",
         "reasoning_effort", "metadata", "user"]
    ),
    SHAPED,
    max_size=6,
) | st.dictionaries(st.text(max_size=10), JSON, max_size=5)  # fmt: skip


def _read_everything(ctx: RequestContext) -> None:
    assert isinstance(ctx.estimated_tokens, int)
    assert isinstance(ctx.user_text, str)
    assert isinstance(ctx.system_text, str)
    assert isinstance(ctx.latest_user_text, str)
    assert all(isinstance(t, str) for t in (*ctx.tool_uses, *ctx.tool_arguments))
    repr(ctx)


@given(BODIES)
def test_extraction_never_raises_on_json_like_bodies(body: dict[str, Any]) -> None:
    _read_everything(extract_context(body))


@given(st.lists(SHAPED, max_size=6))
def test_extraction_never_raises_on_json_like_message_lists(messages: list[Any]) -> None:
    _read_everything(extract_context(messages))
