"""The ops registry, op and block validation (at load and on demand), globs and regexes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from llmroute import ConfigError, RoutingConfig, Rule, SmartRouting
from llmroute.config import (
    OPERATIONS,
    POSITIONS,
    SmartOp,
    SmartOpSpec,
    compile_glob,
    compile_op,
    glob_to_regex,
)
from llmroute.config._added import ADDED_POSITIONS
from llmroute.config._ops import _MATCHERS, _parse_value
from llmroute.request import RequestContext
from llmroute.smart import validate_smart_op, validate_smart_routing

SERVICE = {"provider": "p", "model": "m"}


def op(position: str, operation: str, value: Any = "") -> dict[str, Any]:
    return {"position": position, "operation": operation, "value": value}


def block_doc(*ops: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": "a block",
        "ops": list(ops) or [op("model", "contains", "gpt")],
        "services": [SERVICE],
    }
    doc.update(overrides)
    return doc


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> list[tuple[str, str]]:
    return list(exc.value.problems)


# --- the registry -------------------------------------------------------------------------


def test_registry_lists_the_positions_of_the_issue() -> None:
    assert POSITIONS == (
        "model",
        "thinking",
        "context_system",
        "context_user",
        "latest_user",
        "tool_use",
        "token",
        "messages",
        "agent",
        "time_range",
        "service_ttft",
        "service_capacity",
    )


@pytest.mark.parametrize(
    ("position", "operations"),
    [
        ("model", {"contains", "glob", "equals"}),
        ("thinking", {"enabled", "disabled"}),
        ("context_system", {"contains", "regex"}),
        ("context_user", {"contains", "regex"}),
        ("latest_user", {"contains", "type"}),
        ("tool_use", {"equals", "contains"}),
        ("token", {"ge", "gt", "le", "lt"}),
        ("messages", {"has_image"}),
        ("agent", {"claude_code"}),
        ("time_range", {"within", "outside"}),
        ("service_ttft", {"avg_le", "avg_ge", "max_le", "max_ge"}),
        ("service_capacity", {"util_le", "util_ge", "util_lt", "util_gt"}),
    ],
)
def test_registry_lists_the_operations_of_each_position(
    position: str, operations: set[str]
) -> None:
    assert {o for p, o in OPERATIONS if p == position} == operations


def test_every_registered_pair_has_a_matcher() -> None:
    added = {pair for pair in OPERATIONS if pair[0] in ADDED_POSITIONS}  # compiled in _added
    assert _MATCHERS.keys() == OPERATIONS.keys() - added


@pytest.mark.parametrize(("pair", "spec"), list(OPERATIONS.items()))
def test_every_spec_describes_itself(pair: tuple[str, str], spec: Any) -> None:
    assert (spec.position, spec.operation) == pair
    assert spec.description
    assert spec.value_type in ("string", "int", "bool", "float")


def test_token_ops_take_ints() -> None:
    assert {s.value_type for (p, _), s in OPERATIONS.items() if p == "token"} == {"int"}


def test_the_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        OPERATIONS["x", "y"] = OPERATIONS["model", "contains"]  # type: ignore[index]


# --- op validation messages ---------------------------------------------------------------


def test_an_unknown_position_is_invalid() -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_op(op("X", "contains", "a"))
    [(path, message)] = problems(exc)
    assert path == "position"
    assert message.startswith("invalid position: X")


def test_an_operation_of_another_position_is_invalid() -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_op(op("model", "regex", "a"))
    [(path, message)] = problems(exc)
    assert path == "operation"
    assert message.startswith("operation 'regex' is not valid for position 'model'")


def test_a_token_value_must_be_an_int() -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_op(op("token", "ge", "abc"))
    assert problems(exc) == [("value", "value 'abc' is not an int")]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (op("token", "gt", "1.5"), "value '1.5' is not an int"),
        (op("thinking", "enabled", "maybe"), "value 'maybe' is not a bool (true or false)"),
        (op("model", "contains", ""), "value cannot be empty"),
        (op("latest_user", "type", "video"), "value 'video' is not one of:"),
        (op("model", "glob", "gpt-[45"), "value 'gpt-[45' is not a valid glob: unterminated '['"),
        (op("model", "glob", "{a,b"), "value '{a,b' is not a valid glob: unterminated '{'"),
        (op("context_user", "regex", "(unclosed"), "value '(unclosed' is not a valid regex"),
        (op("context_system", "regex", "*"), "value '*' is not a valid regex"),
    ],
)
def test_bad_values_are_reported_at_the_value(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_op(document)
    [(path, text)] = problems(exc)
    assert path == "value"
    assert text.startswith(message)


@pytest.mark.parametrize(
    "document",
    [
        op("token", "ge", 20000),
        op("token", "lt", " 100 "),
        op("thinking", "enabled"),
        op("thinking", "disabled", False),
        op("thinking", "enabled", "TRUE"),
        op("latest_user", "type", "document"),
        op("model", "glob", "claude-{opus,sonnet}-*"),
        op("context_user", "regex", r"\bfix\b"),
    ],
)
def test_good_ops_validate(document: dict[str, Any]) -> None:
    assert isinstance(validate_smart_op(document), SmartOp)


def test_validate_smart_op_rechecks_a_model_built_without_validation() -> None:
    unchecked = SmartOp.model_construct(position="token", operation="ge", value="abc")
    with pytest.raises(ConfigError, match="value: value 'abc' is not an int"):
        validate_smart_op(unchecked)


def test_validate_smart_op_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="takes a SmartOp or a mapping"):
        validate_smart_op("model contains gpt")  # type: ignore[arg-type]


# --- block validation messages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"description": ""}, "description cannot be empty"),
        ({"description": "   "}, "description cannot be empty"),
        ({"ops": []}, "ops cannot be empty"),
        ({"ops": None}, "ops cannot be empty"),
        ({"services": []}, "services cannot be empty"),
    ],
)
def test_an_empty_part_of_a_block_is_an_error(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_routing(block_doc(**overrides))
    assert str(exc.value) == message


def test_every_empty_part_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        validate_smart_routing({"description": "", "ops": [], "services": []})
    assert [m for _, m in problems(exc)] == [
        "description cannot be empty",
        "ops cannot be empty",
        "services cannot be empty",
    ]


def test_a_service_without_a_model_is_named_by_its_index() -> None:
    doc = block_doc(services=[SERVICE, {"provider": "p", "model": ""}])
    with pytest.raises(ConfigError) as exc:
        validate_smart_routing(doc)
    assert problems(exc) == [("services[1].model", "cannot be empty")]


def test_a_bad_op_is_prefixed_with_its_index() -> None:
    doc = block_doc(op("model", "contains", "a"), op("token", "ge", "1"), op("token", "le", "x"))
    with pytest.raises(ConfigError) as exc:
        validate_smart_routing(doc)
    assert str(exc.value) == "ops[2].value: value 'x' is not an int"


def test_validate_smart_routing_returns_the_block() -> None:
    assert validate_smart_routing(block_doc()).description == "a block"


def test_validate_smart_routing_rechecks_a_model_built_without_validation() -> None:
    unchecked = SmartRouting.model_construct(description="", ops=(), services=())
    with pytest.raises(ConfigError, match="ops cannot be empty"):
        validate_smart_routing(unchecked)


def test_validate_smart_routing_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="takes a SmartRouting or a mapping"):
        validate_smart_routing([block_doc()])  # type: ignore[arg-type]


def test_an_unvalidated_op_inside_a_block_fails_when_the_block_loads() -> None:
    unchecked = SmartOp.model_construct(position="nowhere", operation="contains", value="a")
    with pytest.raises(ConfigError) as exc:
        SmartRouting(description="d", ops=(unchecked,), services=(SERVICE,))  # type: ignore[arg-type]
    assert problems(exc)[0][0] == "ops[0].position"


# --- a bad op fails the load of a rule and a document -------------------------------------


def test_a_rule_with_a_bad_op_fails_at_load() -> None:
    doc = {"uuid": "r", "smart_routing": [block_doc(op("token", "ge", "abc"))]}
    with pytest.raises(ConfigError) as exc:
        Rule.model_validate(doc)
    assert str(exc.value) == "smart_routing[0].ops[0].value: value 'abc' is not an int"


def test_a_document_names_the_full_path_of_a_bad_op() -> None:
    blocks = [block_doc(), block_doc(op("token", "ge", "abc"))]
    doc = {"rules": [{"uuid": "r", "smart_enabled": True, "smart_routing": blocks}]}
    with pytest.raises(ConfigError) as exc:
        RoutingConfig.model_validate(doc)
    assert str(exc.value) == "rules[0].smart_routing[1].ops[0].value: value 'abc' is not an int"


def test_blocks_are_validated_even_when_smart_routing_is_off() -> None:
    doc = {"uuid": "r", "smart_enabled": False, "smart_routing": [block_doc(op("nope", "x"))]}
    with pytest.raises(ConfigError, match=r"smart_routing\[0\]\.ops\[0\]\.position"):
        Rule.model_validate(doc)


def test_an_empty_block_is_named_by_its_path() -> None:
    doc = {"uuid": "r", "smart_routing": [block_doc(), block_doc(ops=[])]}
    with pytest.raises(ConfigError) as exc:
        Rule.model_validate(doc)
    assert str(exc.value) == "smart_routing[1]: ops cannot be empty"


def test_load_config_reports_a_bad_regex_with_the_file(tmp_path: Path) -> None:
    doc = {"rules": [{"uuid": "r", "smart_routing": [block_doc(op("context_user", "regex", "("))]}]}
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as exc:
        RoutingConfig.model_validate_json(path.read_text())
    assert problems(exc)[0][0] == "rules[0].smart_routing[0].ops[0].value"


def test_a_loaded_rule_equals_its_round_trip() -> None:
    doc = {"uuid": "r", "smart_routing": [block_doc(op("context_user", "regex", r"\bfix\b"))]}
    rule = Rule.model_validate(doc)
    assert Rule.model_validate(rule.model_dump()) == rule


# --- globs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("gpt-*", "gpt-4o", True),
        ("gpt-*", "chatgpt-4o", False),
        ("gpt-?o", "gpt-4o", True),
        ("gpt-?o", "gpt-4.1o", False),
        ("claude-{opus,sonnet}-4*", "claude-opus-4-1", True),
        ("claude-{opus,sonnet}-4*", "claude-haiku-4-5", False),
        ("x{a,{b,c}}", "xc", True),
        ("[abc]1", "b1", True),
        ("[a-c]1", "d1", False),
        ("[!a-c]1", "d1", True),
        ("[!a-c]1", "a1", False),
        ("[]]", "]", True),
        ("[a-]", "-", True),
        (r"a\*b", "a*b", True),
        (r"a\*b", "axb", False),
        ("a.b", "axb", False),
        ("a,b", "a,b", True),
        ("a}b", "a}b", True),
        ("*", "multi\nline", True),
        ("openai/*", "openai/gpt-4o", True),
    ],
)
def test_glob_matching(pattern: str, text: str, expected: bool) -> None:
    assert (compile_glob(pattern).match(text) is not None) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("[abc", "unterminated '[' at position 0"),
        ("a{b,c", "unterminated '{' at position 1"),
        ("a\\", "trailing '\\' at position 1"),
        ("[z-a]", "bad character range z-a"),
    ],
)
def test_malformed_globs_raise(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        compile_glob(pattern)


def test_glob_translation_is_anchored() -> None:
    assert glob_to_regex("a*").startswith("\\A") and glob_to_regex("a*").endswith("\\Z")


# A glob and the plain backtracking regex it means (stars as ".*", braces as groups): the
# reference the linear translation must agree with, on texts short enough to backtrack over.
_GLOB_PIECES = st.sampled_from(
    [("a", "a"), ("b", "b"), ("*", ".*"), ("?", "."), ("[ab]", "[ab]"), ("[!a]", "[^a]")]
)


def _glob_and_regex(depth: int = 2) -> st.SearchStrategy[tuple[str, str]]:
    item = _GLOB_PIECES
    if depth:
        options = st.lists(_glob_and_regex(depth - 1), min_size=1, max_size=3)
        braces = options.map(
            lambda opts: (
                "{" + ",".join(g for g, _ in opts) + "}",
                "(?:" + "|".join(r for _, r in opts) + ")",
            )
        )
        item = st.one_of(_GLOB_PIECES, braces)
    return st.lists(item, max_size=6).map(
        lambda items: ("".join(g for g, _ in items), "".join(r for _, r in items))
    )


@given(_glob_and_regex(), st.lists(st.text(alphabet="abc", max_size=8), max_size=5))
def test_a_glob_matches_what_its_plain_translation_matches(
    glob_regex: tuple[str, str], texts: list[str]
) -> None:
    glob, plain = glob_regex
    try:
        compiled = compile_glob(glob)
    except ValueError as exc:  # nested braces can multiply past the bound
        assume("expand to more than" not in str(exc))
        raise
    for text in texts:
        expected = re.fullmatch(plain, text, re.DOTALL) is not None
        assert (compiled.match(text) is not None) is expected, (glob, plain, text)


def test_a_glob_of_many_stars_matches_a_long_name_without_backtracking() -> None:
    # ".*" per star backtracked over C(200, 20) ways to place the stars: it never returned
    # (eight stars on a 40-character name took 3 s). A subprocess bounds the wait.
    glob = "*a" * 20 + "*b"
    code = (
        "from llmroute.config import compile_glob; "
        f"print(compile_glob({glob!r}).match('a' * 200) is None)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "True"


def test_a_glob_whose_braces_expand_too_far_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(
            {"rules": [{"uuid": "r", "services": [SERVICE], "smart_routing": [
                block_doc(op("model", "glob", "{a,b}" * 11))]}]}
        )  # fmt: skip
    assert info.value.problems == (
        (
            "rules[0].smart_routing[0].ops[0].value",
            "value '{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}' is not a valid "
            "glob: '{' alternatives expand to more than 1,000 forms",
        ),
    )


# --- regex ops are plain searches --------------------------------------------------------

PIECES = st.sampled_from(
    ["a", "b", "ab", "ba", r"\b", ".", "[ab]", "(a|b)", "(ab|ba)", "a*", "b+", "(?:ab)?",
     "(?i:a)", "x", "|", "a{2}", r"\s", "(?=a)", "b?", "^", "$"]
)  # fmt: skip


@given(
    st.lists(PIECES, min_size=1, max_size=6),
    st.lists(st.text(alphabet="abxAB \n", max_size=30), max_size=3),
)
def test_a_regex_op_matches_where_the_regex_searches(pieces: list[str], texts: list[str]) -> None:
    try:
        pattern = re.compile("".join(pieces))
    except re.error:
        return
    ctx = RequestContext(system_messages=texts, user_messages=texts)
    system = compile_op("context_system", "regex", pattern.pattern)
    user = compile_op("context_user", "regex", pattern.pattern)
    assert system(ctx) is any(pattern.search(text) is not None for text in texts)
    assert user(ctx) is (pattern.search("\n".join(texts)) is not None)


# --- value types the registry may use -----------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("0.5", 0.5), (" 2 ", 2.0), ("-1e3", -1000.0)])
def test_a_float_value_is_parsed(text: str, value: float) -> None:
    spec = SmartOpSpec("x", "y", "float", "a float op")
    assert _parse_value(spec, text) == value


@pytest.mark.parametrize("text", ["abc", "nan", "inf", ""])
def test_a_float_value_must_be_a_finite_number(text: str) -> None:
    spec = SmartOpSpec("x", "y", "float", "a float op")
    with pytest.raises(ConfigError, match="is not a float"):
        _parse_value(spec, text)
