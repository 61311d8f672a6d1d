"""Session identity: resolve_session_id's tiers, headers, fingerprints and SessionID keys."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from anthropic.types import (
    AssistantMessageParam,
    MetadataParam,
    TextBlockParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
    UserMessageParam,
)
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming as AnthropicRequest,
)
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import (
    ChatCompletionAssistantMessageParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionDeveloperMessageParam,
    ChatCompletionSystemMessageParam,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming as ChatRequest,
)
from openai.types.responses import EasyInputMessage, EasyInputMessageParam, ResponseInputTextParam
from openai.types.responses.response_create_params import (
    ResponseCreateParamsNonStreaming as ResponsesRequest,
)
from pydantic import BaseModel

from llmroute import RequestContext, SessionID, extract_context, resolve_session_id
from llmroute.affinity import DEFAULT_SESSION_HEADERS

# --- request shapes, each in a first turn and a later turn of the same conversation ---------


def _chat(*later: Any) -> ChatRequest:
    return ChatRequest(
        model="gpt-4o",
        messages=[
            ChatCompletionSystemMessageParam(role="system", content="You review Python."),
            ChatCompletionUserMessageParam(role="user", content="Review my diff"),
            *later,
        ],
    )


CHAT_TURN_1 = _chat()
CHAT_TURN_3 = _chat(
    ChatCompletionAssistantMessageParam(role="assistant", content="Looks fine."),
    ChatCompletionUserMessageParam(role="user", content="And the tests?"),
)


def _responses(*later: Any) -> ResponsesRequest:
    return ResponsesRequest(
        model="gpt-4.1",
        instructions="You review Python.",
        input=[
            EasyInputMessageParam(
                role="user",
                content=[ResponseInputTextParam(type="input_text", text="Review my diff")],
            ),
            *later,
        ],
    )


RESPONSES_TURN_1 = _responses()
RESPONSES_TURN_3 = _responses(
    EasyInputMessageParam(role="assistant", content="Looks fine."),
    EasyInputMessageParam(role="user", content="And the tests?"),
)


def _anthropic(*later: Any) -> AnthropicRequest:
    return AnthropicRequest(
        model="claude-sonnet-4",
        max_tokens=1024,
        system=[TextBlockParam(type="text", text="You review Python.")],
        messages=[UserMessageParam(role="user", content="Review my diff"), *later],
    )


ANTHROPIC_TURN_1 = _anthropic()
ANTHROPIC_TURN_3 = _anthropic(
    AssistantMessageParam(
        role="assistant",
        content=[ToolUseBlockParam(type="tool_use", id="t1", name="read", input={"path": "a.py"})],
    ),
    UserMessageParam(
        role="user",
        content=[ToolResultBlockParam(type="tool_result", tool_use_id="t1", content="x = 1")],
    ),
)

GROWING = [
    pytest.param(CHAT_TURN_1, CHAT_TURN_3, id="openai-chat"),
    pytest.param(RESPONSES_TURN_1, RESPONSES_TURN_3, id="openai-responses"),
    pytest.param(ANTHROPIC_TURN_1, ANTHROPIC_TURN_3, id="anthropic"),
]

# --- priority of the sources ---------------------------------------------------------------

WITH_USER_ID = {"metadata": {"user_id": "u-42"}, "messages": [{"role": "user", "content": "hi"}]}
PLAIN = {"messages": [{"role": "user", "content": "hi"}]}
HEADER = {"X-Session-ID": "s-7"}


@pytest.mark.parametrize(
    ("request_body", "headers", "client_ip", "source", "value"),
    [
        (WITH_USER_ID, HEADER, "10.0.0.1", "user_id", "u-42"),
        (PLAIN, HEADER, "10.0.0.1", "header", "s-7"),
        (PLAIN, None, "10.0.0.1", "fingerprint", None),
        (PLAIN, {"Accept": "*/*"}, "10.0.0.1", "fingerprint", None),
        (PLAIN, None, None, "fingerprint", None),
        ({}, None, None, "none", ""),
        (None, None, None, "none", ""),
        (None, HEADER, None, "header", "s-7"),
        ({"user": "oa-user"}, HEADER, None, "user_id", "oa-user"),
        ({"metadata": {"user_id": ""}, "user": "oa-user"}, None, None, "user_id", "oa-user"),
        ({"metadata": {"user_id": "  "}, "user": "oa-user"}, HEADER, None, "header", "s-7"),
        ({"metadata": {"user_id": 42}}, None, "10.0.0.1", "none", ""),
        (PLAIN, {"X-Session-ID": "  "}, "10.0.0.1", "fingerprint", None),
        (PLAIN, None, "   ", "fingerprint", None),
    ],
    ids=[
        "user-id-beats-header-and-ip",
        "header-beats-ip",
        "fingerprint-beats-ip",
        "unrelated-headers-are-ignored",
        "fingerprint-when-nothing-else",
        "none-for-an-empty-body",
        "none-for-no-request",
        "header-without-a-body",
        "openai-user-is-the-user-id-tier",
        "empty-metadata-user-id-falls-back-to-openai-user",
        "blank-user-id-falls-through",
        "non-text-user-id-is-ignored",
        "blank-header-falls-through",
        "blank-ip-falls-through",
    ],
)
def test_the_strongest_source_present_wins(
    request_body: Any, headers: Any, client_ip: Any, source: str, value: str | None
) -> None:
    session = resolve_session_id(request_body, headers, client_ip)
    assert session.source == source
    if value is not None:
        assert session.value == value


@pytest.mark.parametrize(
    ("request_body", "from_ip", "source"),
    [
        ({}, True, "client_ip"),
        ({}, False, "none"),
        (PLAIN, True, "fingerprint"),  # the conversation is stronger evidence than the ip
        ({"metadata": {"user_id": 42}}, True, "client_ip"),
    ],
    ids=["ip-when-asked-for", "no-ip-by-default", "fingerprint-beats-ip", "ip-last"],
)
def test_the_client_ip_is_a_session_only_when_asked_for(
    request_body: Any, from_ip: bool, source: str
) -> None:
    session = resolve_session_id(request_body, None, "10.0.0.1", from_ip=from_ip)
    assert (session.source, session.ip_backup) == (source, "10.0.0.1")


def test_anthropic_metadata_user_id_beats_openai_user() -> None:
    body = {"metadata": {"user_id": "anthropic-user"}, "user": "openai-user"}
    assert resolve_session_id(body).value == "anthropic-user"


def test_values_are_stripped() -> None:
    assert resolve_session_id({"user": " u1 \n"}).value == "u1"
    assert resolve_session_id(None, {"X-Session-ID": " s1 "}).value == "s1"
    assert resolve_session_id(None, None, " 10.0.0.1 ", from_ip=True).value == "10.0.0.1"


# --- the client ip is always kept ----------------------------------------------------------


@pytest.mark.parametrize(
    ("request_body", "headers", "source"),
    [(WITH_USER_ID, HEADER, "user_id"), (PLAIN, HEADER, "header"), (PLAIN, None, "fingerprint")],
)
def test_ip_backup_holds_the_client_ip_whatever_the_source(
    request_body: Any, headers: Any, source: str
) -> None:
    session = resolve_session_id(request_body, headers, "192.0.2.9")
    assert (session.source, session.ip_backup) == (source, "192.0.2.9")


@pytest.mark.parametrize("request_body", [WITH_USER_ID, PLAIN, None])
def test_ip_backup_is_empty_without_a_client_ip(request_body: Any) -> None:
    assert resolve_session_id(request_body, HEADER).ip_backup == ""


def test_an_ipaddress_object_is_read_as_its_text() -> None:
    session = resolve_session_id(None, None, ipaddress.ip_address("2001:db8::1"), from_ip=True)
    assert (session.source, session.value, session.ip_backup) == (
        "client_ip",
        "2001:db8::1",
        "2001:db8::1",
    )


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["X-Session-ID", "x-session-id", "X-SESSION-ID", "x-Session-Id", "X-Tingly-Session-ID",
     "x-tingly-session-id"],
)  # fmt: skip
def test_session_headers_match_in_any_letter_case(name: str) -> None:
    session = resolve_session_id(None, {name: "abc"})
    assert (session.source, session.value) == ("header", "abc")


def test_the_first_configured_header_name_wins() -> None:
    headers = {"x-tingly-session-id": "second", "X-Session-Id": "first"}
    assert resolve_session_id(None, headers).value == "first"


def test_a_later_header_name_is_used_when_the_first_is_blank() -> None:
    headers = {"X-Session-ID": "", "X-Tingly-Session-ID": "second"}
    assert resolve_session_id(None, headers).value == "second"


def test_custom_header_names_replace_the_defaults() -> None:
    headers = {"X-Session-ID": "default", "x-conversation": "custom"}
    session = resolve_session_id(None, headers, header_names=("X-Conversation",))
    assert session.value == "custom"
    assert resolve_session_id(None, {"X-Session-ID": "d"}, header_names=["X-Other"]).source == (
        "none"
    )


class CaseInsensitiveHeaders(Mapping[str, str]):
    """A framework-style header mapping: lookups ignore case, iteration keeps the spelling."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = {k.lower(): (k, v) for k, v in items.items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(CaseInsensitiveHeaders({"x-SESSION-id": "abc"}), id="case-insensitive-map"),
        pytest.param([("Accept", "*/*"), ("x-session-id", "abc")], id="list-of-pairs"),
        pytest.param(((b"x-session-id", b"abc"),), id="asgi-bytes-pairs"),
        pytest.param({b"x-session-id": b"abc"}, id="bytes-keys"),
        pytest.param({"X-Session-ID": ["", "abc"]}, id="multi-valued"),
        pytest.param(iter([("X-Session-Id", "abc")]), id="iterator-of-pairs"),
    ],
)
def test_headers_may_come_in_many_shapes(headers: Any) -> None:
    session = resolve_session_id(None, headers)
    assert (session.source, session.value) == ("header", "abc")


def test_malformed_header_pairs_are_skipped() -> None:
    headers: list[Any] = [("only-one",), 42, (1, "x"), ("X-Session-ID", "abc")]
    assert resolve_session_id(None, headers).value == "abc"


def test_a_mapping_with_odd_keys_is_still_read() -> None:
    headers: dict[Any, Any] = {1: "x", ("a", "b"): "y", "x-session-id": "abc"}
    assert resolve_session_id(None, headers).value == "abc"


def test_the_default_header_names() -> None:
    assert DEFAULT_SESSION_HEADERS == ("X-Session-ID", "X-Tingly-Session-ID")


# --- fingerprints --------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "later"), GROWING)
def test_a_fingerprint_is_stable_as_the_conversation_grows(first: Any, later: Any) -> None:
    session = resolve_session_id(first)
    assert session.source == "fingerprint"
    assert resolve_session_id(later) == session


@pytest.mark.parametrize(("first", "_later"), GROWING)
def test_a_fingerprint_is_sixteen_hex_digits(first: Any, _later: Any) -> None:
    value = resolve_session_id(first).value
    assert len(value) == 16
    int(value, 16)


def test_the_same_conversation_has_the_same_fingerprint_in_every_api() -> None:
    fingerprints = {resolve_session_id(r).value for r in (CHAT_TURN_1, RESPONSES_TURN_1)}
    fingerprints.add(resolve_session_id(ANTHROPIC_TURN_1).value)
    assert len(fingerprints) == 1


@pytest.mark.parametrize(
    "other",
    [
        pytest.param(
            {"messages": [{"role": "system", "content": "You review Python."},
                          {"role": "user", "content": "Review my other diff"}]},
            id="different-first-user-message",
        ),
        pytest.param(
            {"messages": [{"role": "system", "content": "You review Go."},
                          {"role": "user", "content": "Review my diff"}]},
            id="different-system-message",
        ),
        pytest.param(
            {"messages": [{"role": "user", "content": "Review my diff"}]}, id="no-system-message"
        ),
        pytest.param(
            {"messages": [{"role": "system", "content": "You review Python.Review my diff"}]},
            id="texts-moved-between-messages",
        ),
    ],
)  # fmt: skip
def test_different_conversations_have_different_fingerprints(other: dict[str, Any]) -> None:
    assert resolve_session_id(other) != resolve_session_id(CHAT_TURN_1)


def test_a_long_first_message_is_fingerprinted_by_its_head_tail_and_length() -> None:
    body = "x" * 50_000

    def fingerprint(text: str) -> str:
        return resolve_session_id({"messages": [{"role": "user", "content": text}]}).value

    assert fingerprint("head" + body + "tail") == fingerprint("head" + body + "tail")
    assert fingerprint("head" + body + "tail") != fingerprint("head" + body + "TAIL")
    assert fingerprint("head" + body + "tail") != fingerprint("HEAD" + body + "tail")
    assert fingerprint("head" + body + "tail") != fingerprint("head" + body + "xtail")


def test_a_lone_surrogate_in_a_message_does_not_raise() -> None:
    body = {"messages": [{"role": "user", "content": "broken \ud800 text"}]}
    assert resolve_session_id(body).source == "fingerprint"


SHAPES = [
    pytest.param(CHAT_TURN_3, id="openai-chat"),
    pytest.param(RESPONSES_TURN_3, id="openai-responses"),
    pytest.param(ANTHROPIC_TURN_3, id="anthropic"),
    pytest.param({"input": "just a question"}, id="responses-string-input"),
    pytest.param({"system": "be brief", "messages": []}, id="system-only"),
    pytest.param(
        {"messages": [{"role": "developer", "content": [{"type": "text", "text": "a"},
                                                         {"type": "text", "text": "b"}]},
                      {"role": "user", "content": [{"type": "text", "text": "c"},
                                                    {"type": "image_url", "image_url": {}},
                                                    {"type": "text", "text": "d"}]}]},
        id="multi-part-texts",
    ),
    pytest.param(
        {"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "r"}]},
                      {"role": "user", "content": "the real first user message"}]},
        id="tool-result-only-turn-is-not-the-first-user-message",
    ),
    pytest.param(
        {"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}],
         "system": "describe"},
        id="image-only-user-turn",
    ),
    pytest.param(
        {"system": 42, "messages": [{"role": "system", "content": None},
                                    {"role": "user", "content": None}]},
        id="odd-contents",
    ),
    pytest.param(
        [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
        id="bare-message-list",
    ),
    pytest.param(
        {"input": [EasyInputMessage(role="user", content="from a model", type="message")],
         "instructions": "i"},
        id="sdk-model-items",
    ),
    pytest.param(
        ChatRequest(
            model="gpt-4o",
            messages=[
                ChatCompletionDeveloperMessageParam(
                    role="developer",
                    content=[ChatCompletionContentPartTextParam(type="text", text="dev")],
                ),
                ChatCompletionUserMessageParam(role="user", content="u"),
            ],
        ),
        id="openai-developer-typeddict",
    ),
]  # fmt: skip


@pytest.mark.parametrize("request_body", SHAPES)
def test_the_fingerprint_read_from_a_request_equals_the_one_from_its_context(
    request_body: Any,
) -> None:
    context = extract_context(request_body)
    assert resolve_session_id(request_body) == resolve_session_id(None, context=context)


# --- what is read, and from where ----------------------------------------------------------


def test_a_given_context_is_used_instead_of_the_request() -> None:
    context = RequestContext(user_id="from-context")
    session = resolve_session_id({"metadata": {"user_id": "from-body"}}, context=context)
    assert session.value == "from-context"


def test_a_given_context_is_fingerprinted_by_its_first_messages() -> None:
    context = RequestContext(system_messages=["s", "t"], user_messages=["u", "v"])
    same = RequestContext(system_messages=["s"], user_messages=["u", "w", "x"])
    assert resolve_session_id(None, context=context) == resolve_session_id(None, context=same)


def test_a_request_context_may_be_passed_as_the_request() -> None:
    context = extract_context(WITH_USER_ID)
    assert resolve_session_id(context) == resolve_session_id(WITH_USER_ID)


def test_sdk_typeddicts_carry_the_user_id() -> None:
    request = AnthropicRequest(
        model="claude-sonnet-4",
        max_tokens=10,
        messages=[UserMessageParam(role="user", content="hi")],
        metadata=MetadataParam(user_id="sdk-user"),
    )
    assert resolve_session_id(request).value == "sdk-user"


class Metadata(BaseModel):
    user_id: str | None = None


class Message(BaseModel):
    role: str
    content: str | list[dict[str, Any]]


class MyRequest(BaseModel):
    model: str = "m"
    system: str | None = None
    messages: list[Message] = []
    metadata: Metadata | None = None
    user: str | None = None


@pytest.mark.parametrize(
    ("model", "source", "value"),
    [
        (MyRequest(metadata=Metadata(user_id="pm-user")), "user_id", "pm-user"),
        (MyRequest(user="oa-user"), "user_id", "oa-user"),
        (MyRequest(), "none", ""),
    ],
)
def test_a_pydantic_request_is_read_through_its_attributes(
    model: MyRequest, source: str, value: str
) -> None:
    session = resolve_session_id(model)
    assert (session.source, session.value) == (source, value)


def test_a_pydantic_request_is_fingerprinted_like_its_dump() -> None:
    model = MyRequest(
        system="sys",
        messages=[Message(role="user", content=[{"type": "text", "text": "hello"}])],
    )
    assert resolve_session_id(model) == resolve_session_id(model.model_dump())


def test_a_registered_request_type_is_read_through_extract_context() -> None:
    from llmroute.smart import register_extractor

    class Envelope:
        def __init__(self, body: dict[str, Any]) -> None:
            self.body = body

    register_extractor(Envelope, lambda e: e.body)
    try:
        assert resolve_session_id(Envelope(WITH_USER_ID)).value == "u-42"
    finally:
        register_extractor(Envelope, None)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["role", "content", "type", "text", "user_id", "system", "x"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=30,
)
ROLES = st.sampled_from(["user", "system", "developer", "assistant", "tool", None, 3])
MESSAGES = st.lists(st.fixed_dictionaries({"role": ROLES, "content": JSON}) | JSON, max_size=5)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "messages": MESSAGES | JSON,
        "input": MESSAGES | JSON,
        "system": JSON,
        "instructions": JSON,
        "metadata": JSON,
        "user": JSON,
    },
)


@given(BODIES)
def test_odd_bodies_never_raise_and_agree_with_their_context(body: dict[str, Any]) -> None:
    session = resolve_session_id(body)
    assert session.source in {"user_id", "fingerprint", "none"}
    assert session == resolve_session_id(None, context=extract_context(body))


# --- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("request_body", ["a body as text", b"bytes", 42])
def test_a_request_of_an_unreadable_type_is_a_type_error(request_body: Any) -> None:
    with pytest.raises(TypeError, match="cannot read a request context"):
        resolve_session_id(request_body)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"headers": 42}, TypeError, "headers takes a mapping"),
        ({"headers": "X-Session-ID: a"}, TypeError, "headers takes a mapping"),
        ({"client_ip": ("10.0.0.1", 5000)}, TypeError, "client_ip takes the address"),
        ({"header_names": "X-Session-ID"}, TypeError, "not one string"),
        ({"header_names": ["X-A", ""]}, ValueError, "non-empty string"),
        ({"context": {"user_id": "u"}}, TypeError, "context must be a RequestContext"),
    ],
)
def test_bad_arguments_are_clear_errors(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        resolve_session_id(None, **kwargs)


# --- SessionID -----------------------------------------------------------------------------


def test_the_none_session_is_falsy_and_has_no_key() -> None:
    none = resolve_session_id(None)
    assert not none
    assert none == SessionID()
    assert none.key == ""


@pytest.mark.parametrize("source", ["user_id", "header", "client_ip", "fingerprint"])
def test_a_session_from_any_source_is_truthy(source: Any) -> None:
    assert SessionID(source, "v")


def test_keys_are_source_prefixed_so_sources_never_collide() -> None:
    keys = {SessionID(s, "10.0.0.1").key for s in ("user_id", "header", "client_ip")}
    assert keys == {"user:10.0.0.1", "hdr:10.0.0.1", "ip:10.0.0.1"}
    assert SessionID("fingerprint", "0123456789abcdef").key == "fp:0123456789abcdef"


def test_a_long_value_is_keyed_by_a_fixed_size_digest() -> None:
    long_id = "user_" + "a" * 200
    key = SessionID("user_id", long_id).key
    assert key.startswith("user#")
    assert len(key) == len("user#") + 32
    assert key == SessionID("user_id", long_id).key
    assert key != SessionID("user_id", long_id + "b").key


def test_a_session_id_is_immutable_and_hashable() -> None:
    session = SessionID("header", "abc", "10.0.0.1")
    with pytest.raises(AttributeError):
        session.value = "other"  # type: ignore[misc]
    assert {session: 1}[SessionID("header", "abc", "10.0.0.1")] == 1


def test_resolved_and_built_session_ids_are_equal() -> None:
    resolved = resolve_session_id(None, HEADER, "10.0.0.1")
    assert resolved == SessionID("header", "s-7", "10.0.0.1")
    assert hash(resolved) == hash(SessionID("header", "s-7", "10.0.0.1"))


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("cookie", "v"), ValueError),
        (("none", "v"), ValueError),
        (("header", ""), ValueError),
        (("header", 42), TypeError),
        (("header", "v", None), TypeError),
    ],
)
def test_an_invalid_session_id_is_refused(args: tuple[Any, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        SessionID(*args)
