"""SmartRouter: block order, first match, short-circuit, no compiling at request time."""

from __future__ import annotations

import pickle
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmroute import ConfigError, RequestContext, Rule, SmartRouter, SmartRouting, extract_context
from llmroute.config import compile_op
from llmroute.smart import SmartMatch


def block(description: str, *ops: tuple[str, str, str], model: str = "m") -> dict[str, Any]:
    return {
        "description": description,
        "ops": [{"position": p, "operation": o, "value": v} for p, o, v in ops],
        "services": [{"provider": "p", "model": model}],
    }


CLAUDE = block("claude", ("model", "contains", "claude"), model="claude-target")
GPT = block("gpt", ("model", "contains", "gpt"), model="gpt-target")
ANY_GPT = block("any gpt", ("model", "glob", "gpt*"), model="second-gpt-target")


def request(model: str, text: str = "hello") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


def test_the_matching_block_is_returned_with_its_index_and_services() -> None:
    match = SmartRouter([CLAUDE, GPT]).evaluate(extract_context(request("gpt-4o")))
    assert match is not None
    assert (match.index, match.block.description) == (1, "gpt")
    assert [s.model for s in match.services] == ["gpt-target"]


def test_the_first_matching_block_wins() -> None:
    match = SmartRouter([GPT, ANY_GPT]).evaluate(request("gpt-4o"))
    assert match is not None and match.index == 0


def test_no_matching_block_gives_none() -> None:
    assert SmartRouter([CLAUDE, GPT]).evaluate(request("gemini-2.5-pro")) is None


def test_no_blocks_match_nothing() -> None:
    assert SmartRouter([]).evaluate(request("gpt-4o")) is None


def test_an_empty_context_matches_no_content_op() -> None:
    router = SmartRouter([CLAUDE, block("user", ("context_user", "contains", "x"))])
    assert router.evaluate(RequestContext()) is None


def test_evaluate_reads_a_raw_request() -> None:
    assert SmartRouter([GPT]).evaluate(request("gpt-4o")) is not None


def test_the_same_match_object_is_returned_every_time() -> None:
    router = SmartRouter([GPT])
    first = router.evaluate(request("gpt-4o"))
    assert first is router.evaluate(request("gpt-5"))
    assert isinstance(first, SmartMatch)


def test_a_router_is_built_from_a_rules_blocks() -> None:
    rule = Rule.model_validate({"uuid": "r", "smart_routing": [CLAUDE, GPT]})
    router = SmartRouter(rule.smart_routing)
    assert len(router) == 2
    assert router.blocks == rule.smart_routing


def test_validated_blocks_are_used_as_they_are() -> None:
    blocks = (SmartRouting.model_validate(GPT),)
    assert SmartRouter(blocks).blocks[0] is blocks[0]


def test_document_blocks_are_validated_with_their_index() -> None:
    bad = block("bad", ("token", "ge", "lots"))
    with pytest.raises(ConfigError) as exc:
        SmartRouter([GPT, bad])
    assert str(exc.value) == "[1].ops[0].value: value 'lots' is not an int"


@pytest.mark.parametrize("blocks", ["gpt", GPT, 42])
def test_blocks_must_be_an_iterable_of_blocks(blocks: Any) -> None:
    with pytest.raises(TypeError, match="iterable of blocks"):
        SmartRouter(blocks)


class ExplodingContext(RequestContext):
    """A context whose combined user text must never be read."""

    __slots__ = ()

    @property
    def user_text(self) -> str:
        raise AssertionError("the op after a failing op was evaluated")


def test_a_failing_op_stops_its_block() -> None:
    both = block("both", ("model", "contains", "claude"), ("context_user", "contains", "x"))
    assert SmartRouter([both]).evaluate(ExplodingContext(model="gpt-4o")) is None


def test_cheap_ops_run_first_whatever_their_order_in_the_block() -> None:
    costly_first = block("costly", ("context_user", "regex", "x"), ("model", "equals", "claude"))
    assert SmartRouter([costly_first]).evaluate(ExplodingContext(model="gpt-4o")) is None


def test_evaluation_compiles_no_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    router = SmartRouter(
        [
            block("re", ("context_user", "regex", r"\bdeploy\b")),
            block("sys", ("context_system", "regex", "^You")),
            block("glob", ("model", "glob", "gpt-{4,5}*")),
        ]
    )

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("compiled at request time")

    monkeypatch.setattr(re, "compile", refuse)
    monkeypatch.setattr(re, "_compile", refuse)
    match = router.evaluate(request("gpt-5", "please deploy it"))
    assert match is not None and match.index == 0


def test_a_rule_with_regex_and_glob_ops_survives_pickling() -> None:
    rule = Rule.model_validate(
        {
            "uuid": "r",
            "smart_routing": [
                block("re", ("context_user", "regex", r"\bdeploy\b")),
                block("glob", ("model", "glob", "gpt-{4,5}*")),
            ],
        }
    )
    again = pickle.loads(pickle.dumps(rule))
    assert again == rule
    match = SmartRouter(again.smart_routing).evaluate(request("gpt-5"))
    assert match is not None and match.index == 1


def test_a_router_survives_pickling() -> None:
    router = SmartRouter([block("re", ("context_user", "regex", r"\bdeploy\b")), GPT])
    again = pickle.loads(pickle.dumps(router))
    match = again.evaluate(request("claude", "deploy now"))
    assert match is not None and match.index == 0


def test_a_copied_rule_still_matches() -> None:
    rule = Rule.model_validate({"uuid": "r", "smart_routing": [GPT]})
    copy = rule.model_copy(deep=True)
    assert SmartRouter(copy.smart_routing).evaluate(request("gpt-4o")) is not None


def test_a_rule_copied_with_new_blocks_routes_by_the_new_blocks() -> None:
    rule = Rule.model_validate({"uuid": "r", "smart_routing": [GPT]})
    copy = rule.model_copy(update={"smart_routing": (SmartRouting.model_validate(CLAUDE),)})
    match = SmartRouter(copy.smart_routing).evaluate(request("claude-sonnet-4-5"))
    assert match is not None and match.block.description == "claude"


def test_an_op_copied_with_a_new_value_matches_the_new_value() -> None:
    op = SmartRouting.model_validate(GPT).ops[0]
    copy = op.model_copy(update={"value": "claude"})
    matcher = compile_op(copy.position, copy.operation, copy.value)
    assert matcher(extract_context(request("claude-sonnet-4-5")))


def test_the_configuration_keeps_no_compiled_ops() -> None:
    rule = Rule.model_validate({"uuid": "r", "smart_routing": [GPT]})
    SmartRouter(rule.smart_routing).evaluate(request("gpt-4o"))
    op = rule.smart_routing[0].ops[0]
    assert not hasattr(rule, "smart_router")
    assert not hasattr(rule.smart_routing[0], "matches")
    assert set(vars(op)) <= set(type(op).model_fields)


# --- determinism --------------------------------------------------------------------------

ROUTER = SmartRouter(
    [
        block("vision", ("latest_user", "type", "image")),
        block("think", ("thinking", "enabled", ""), ("model", "glob", "claude-*")),
        block("long", ("token", "ge", "50")),
        block("code", ("context_user", "regex", r"\b(def|class)\b")),
        block("tool", ("tool_use", "contains", "search")),
        block("gpt", ("model", "contains", "gpt")),
    ]
)
MESSAGES = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["user", "assistant", "system", "tool"]),
            "content": st.text(alphabet="defclasgpt ()\n", max_size=60)
            | st.lists(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["text", "image_url"]), "text": st.text(max_size=20)}
                ),
                max_size=3,
            ),
        }
    ),
    max_size=8,
)
BODIES = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "o3", ""]),
        "messages": MESSAGES,
        "thinking": st.sampled_from([{"type": "enabled"}, {"type": "disabled"}]),
    }
)


def _index(body: dict[str, Any]) -> int:
    match = ROUTER.evaluate(extract_context(body))
    return -1 if match is None else match.index


@given(BODIES)
def test_evaluation_is_deterministic(body: dict[str, Any]) -> None:
    assert _index(body) == _index(body)
    ctx = extract_context(body)
    assert ROUTER.evaluate(ctx) is ROUTER.evaluate(ctx)


@given(BODIES)
def test_the_router_agrees_with_the_blocks_one_by_one(body: dict[str, Any]) -> None:
    ctx = extract_context(body)
    expected = next((i for i, b in enumerate(ROUTER.blocks) if _all_ops_match(b, ctx)), -1)
    assert _index(body) == expected


def _all_ops_match(block: SmartRouting, ctx: RequestContext) -> bool:
    return all(compile_op(op.position, op.operation, op.value)(ctx) for op in block.ops)
