"""Every bad document is a ConfigError at load that names its path (or, for a file, the file
and what is wrong with it): never a TypeError, RecursionError, OverflowError, ValueError or
UnicodeDecodeError, and never a document that loads and then fails at request time."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmroute import ConfigError, RoutingConfig, load_config
from llmroute.config import MAX_DEPTH


def svc(**fields: Any) -> dict[str, Any]:
    return {"provider": "p", "model": "m", **fields}


def rule(**fields: Any) -> dict[str, Any]:
    return {"uuid": "r1", "services": [svc()], **fields}


def doc(*rules: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"rules": list(rules), **fields}


def op(position: str, operation: str, value: Any) -> dict[str, Any]:
    block = {"description": "d", "ops": [{"position": position, "operation": operation}]}
    block["ops"][0]["value"] = value
    block["services"] = [svc()]
    return doc(rule(smart_routing=[block]))


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


OP_VALUE = "rules[0].smart_routing[0].ops[0].value"
BAD_DOCUMENTS = [
    # keys that are not strings (YAML's on:, dates, numbers)
    ({"health": {True: 1}}, "health", "key True is not a string"),
    (doc(rule(flags={datetime.date(2026, 1, 2): 1})), "rules[0].flags", "is not a string"),
    (doc({1: "x"}), "rules[0]", "key 1 is not a string"),
    # patterns too deep or repeated too often for re
    (op("context_user", "regex", "(" * 1500 + "a" + ")" * 1500), OP_VALUE, "nests groups"),
    (op("context_system", "regex", "a{99999999999999999999}"), OP_VALUE, "not a valid regex"),
    (op("model", "glob", "{" * 1500 + "a" + "}" * 1500), OP_VALUE, "nest more than"),
    (op("token", "ge", "9" * 5000), OP_VALUE, "out of range"),
    # nesting, huge and non-finite numbers, bytes
    (doc(rule(flags=nested(MAX_DEPTH + 5))), "rules[0].flags", "nested more than"),
    (doc(rule(flags={"n": 10**5000})), "rules[0].flags.n", "is too large"),
    (doc(rule(flags={"n": math.inf})), "rules[0].flags.n", "not a finite number"),
    (doc(rule(flags={"b": b"\xff"})), "rules[0].flags.b", "binary data"),
    # numbers past their documented bounds
    (doc(rule(services=[svc(weight=10**30)])), "rules[0].services[0].weight", "<= 1000000"),
    (doc(rule(services=[svc(model_capacity=10**9)])), "services[0].model_capacity", "<="),
    (doc(rule(services=[svc(time_window=10**12)])), "rules[0].services[0].time_window", "<="),
    (doc(rule(session_affinity=10**12)), "rules[0].session_affinity", "<= 2592000"),
    (doc(rule(current_service_index=-1)), "rules[0].current_service_index", ">= 0"),
    ({"providers": [{"name": "p", "timeout": 10**9}]}, "providers[0].timeout", "<= 86400"),
    (
        {"health": {"consecutive_error_threshold": 10**12}},
        "health.consecutive_error_threshold",
        "<=",
    ),
    ({"health": {"recovery_timeout_seconds": 1e300}}, "health.recovery_timeout_seconds", "<="),
    ({"health": {"promotion_hold_seconds": math.nan}}, "health.promotion_hold_seconds", "finite"),
    (
        doc(rule(lb_tactic={"type": "round_robin", "params": {"request_threshold": 10**10}})),
        "rules[0].lb_tactic.params.request_threshold",
        "<=",
    ),
    (
        doc(rule(lb_tactic={"type": "adaptive", "params": {"latency_weight": 1e9}})),
        "rules[0].lb_tactic.params.latency_weight",
        "<=",
    ),
    (
        doc(rule(lb_tactic={"type": "least_latency", "params": {"decay_seconds": 1e9}})),
        "rules[0].lb_tactic.params.decay_seconds",
        "<=",
    ),
    (
        doc(rule(lb_tactic={"type": "latency_based", "params": {"latency_threshold_ms": 10**10}})),
        "rules[0].lb_tactic.params.latency_threshold_ms",
        "<=",
    ),
    (doc(rule(services=[svc(weight=1e308)])), "rules[0].services[0].weight", "too large"),
    (op("context_user", "regex", "a{" + "9" * 5000 + "}"), OP_VALUE, "repetition number is too"),
    # YAML's booleans and dates where text is meant
    (doc(rule(services=[svc(model=True)])), "services[0].model", "unquoted yes/no/on/off"),
    (doc(dict(rule(), uuid=datetime.date(2026, 1, 2))), "rules[0].uuid", "got the date 2026-01-02"),
    # booleans where numbers are meant
    (doc(rule(session_affinity=True)), "rules[0].session_affinity", "seconds, e.g. 300"),
    (doc(rule(flags={"session_affinity": True})), "rules[0].session_affinity", "e.g. 300"),
    (doc(rule(services=[svc(weight=True)])), "rules[0].services[0].weight", "not true"),
    # shapes
    ({"rules": "abc"}, "rules", "must be a list, got 'abc'"),
    (doc(rule(services={"provider": "p"})), "rules[0].services", "must be a list, got a mapping"),
    ({"health": [1, 2]}, "health", "must be a mapping, got a list"),
    (doc(rule(lb_tactc={})), "rules[0].lb_tactc", "did you mean 'lb_tactic'?"),
    (doc(rule(services=[svc(wieght=2)])), "rules[0].services[0].wieght", "did you mean 'weight'?"),
    ({"helth": {}}, "helth", "did you mean 'health'?"),
    # rules with no usable service
    (doc(rule(services=[])), "rules[0].services", "no usable service: it has no services"),
    (doc(rule(services=[svc(active=False)])), "rules[0].services", "none of its services"),
    (
        {"providers": [{"name": "p", "enabled": False}], "rules": [rule()]},
        "rules[0].services",
        "providers of its services are disabled (p)",
    ),
    (
        {"providers": [{"name": "q"}], "rules": [rule()]},
        "rules[0].services",
        "providers of its services are missing (p)",
    ),
    (
        {
            "providers": [{"name": "p", "enabled": False}],
            "rules": [rule(services=[svc(), svc(provider="x")])],
        },
        "rules[0].services",
        "providers of its services are missing (x) or disabled (p)",
    ),
]


@pytest.mark.parametrize("document, path, message", BAD_DOCUMENTS)
def test_a_bad_document_is_a_config_error_naming_its_path(
    document: Any, path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(document)
    matching = [(p, m) for p, m in info.value.problems if path in p and message in m]
    assert matching, info.value.problems


def test_a_list_error_never_says_valid_tuple() -> None:
    for document in ({"rules": 5}, {"providers": "x"}, doc(rule(services=3))):
        with pytest.raises(ConfigError) as info:
            RoutingConfig.model_validate(document)
        assert "tuple" not in str(info.value)


def test_an_inactive_rule_may_have_no_usable_service() -> None:
    config = RoutingConfig.model_validate(doc(rule(services=[], active=False)))
    assert config.rules[0].active is False


def test_a_smart_block_service_makes_a_rule_usable_when_smart_routing_is_on() -> None:
    block = {
        "description": "images",
        "ops": [{"position": "latest_user", "operation": "type", "value": "image"}],
        "services": [svc(model="vision")],
    }
    doc_ = doc(rule(services=[], smart_enabled=True, smart_routing=[block]))
    assert RoutingConfig.model_validate(doc_).rules[0].smart_routing
    with pytest.raises(ConfigError, match="no usable service"):
        RoutingConfig.model_validate(doc(rule(services=[], smart_routing=[block])))


def test_a_yaml_alias_bomb_is_refused_without_expanding_it() -> None:
    value: Any = ["x"] * 10
    for _ in range(9):  # 10**9 values when written out
        value = [value] * 10
    with pytest.raises(ConfigError, match="holds more than 1,000,000 values"):
        RoutingConfig.model_validate(doc(rule(flags={"bomb": value})))


def test_a_recursive_structure_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ConfigError, match="refers to itself"):
        RoutingConfig.model_validate(doc(rule(flags={"loop": loop})))


# --- files -------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.json", "", "the file is empty"),
        ("blank.yaml", "  \n\n", "the file is empty"),
        ("comments.yaml", "# nothing yet\n", "the file is empty"),
        ("latin1.json", b'{"rules": [{"uuid": "caf\xe9"}]}', "not UTF-8 text (byte 0xe9"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("deep.yaml", "[" * 100_000 + "]" * 100_000, "nested"),
        ("digits.json", '{"health": {"consecutive_error_threshold": ' + "9" * 5000 + "}}", "5000"),
        ("digits.yaml", "health:\n  consecutive_error_threshold: " + "9" * 5000 + "\n", "5000"),
        ("on.yaml", "health:\n  on: 1\n", "key True is not a string"),
        ("date.yaml", "rules:\n- uuid: r\n  flags:\n    2026-01-02: x\n", "not a string"),
        ("baddate.yaml", "health:\n  x: 2026-13-45\n", "invalid YAML"),
        ("nan.json", '{"health": {"recovery_timeout_seconds": NaN}}', "not a finite number"),
        ("list.json", "[1, 2]", "must be a mapping"),
        ("tuple.yaml", "rules: abc\n", "must be a list, got 'abc'"),
    ],
)
def test_a_bad_file_is_a_config_error_naming_the_file(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    path = write(tmp_path, name, content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(path))
    assert message in str(info.value)


def test_a_file_that_cannot_be_read_is_a_config_error_with_the_os_error_as_cause(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="cannot read the file") as info:
        load_config(tmp_path / "missing.json")
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.json", b"\xef\xbb\xbf" + json.dumps(doc(rule())).encode())
    assert load_config(path).rules[0].uuid == "r1"


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "twice.json",
            '{"rules": [{"uuid": "r1", "services": [{"provider": "p", "model": "m",'
            ' "weight": 2, "weight": 0}]}]}',
            "rules[0].services[0].weight: the key appears more than once",
        ),
        ("twice.json", '{"health": {}, "health": {}}', "health: the key appears more than once"),
        (
            "twice.yaml",
            "rules:\n- uuid: r1\n  services: []\n  active: false\n  active: true\n",
            "invalid YAML at line 5 column 3: the key 'active' appears twice",
        ),
    ],
)
def test_a_key_written_twice_is_a_config_error(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    if name.endswith(".yaml"):
        pytest.importorskip("yaml")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, name, content))
    assert message in str(info.value)


def test_a_yaml_key_may_override_one_merged_in(tmp_path: Path) -> None:
    pytest.importorskip("yaml")
    content = (
        "base: &base {consecutive_error_threshold: 2, recovery_timeout_seconds: 5}\n"
        "health:\n  <<: *base\n  consecutive_error_threshold: 4\n"
    )
    with pytest.raises(ConfigError) as info:  # only the unknown top-level "base" is wrong
        load_config(write(tmp_path, "merge.yaml", content))
    assert info.value.problems == (("base", "unknown field"),)


def test_a_numbers_path_is_named_in_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "d.json", json.dumps(doc(rule(services=[svc(weight=10**7)]))))
    with pytest.raises(ConfigError, match=r"rules\[0\]\.services\[0\]\.weight: must be <="):
        load_config(path)


# --- anything at all: only ConfigError ---------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(
        [
            "providers",
            "rules",
            "health",
            "scenarios",
            "uuid",
            "services",
            "provider",
            "model",
            "weight",
            "lb_tactic",
            "type",
            "params",
            "flags",
            "smart_routing",
            "ops",
            "value",
            "position",
            "operation",
            "session_affinity",
            "name",
            "token",
            "time_window",
        ]
    ),
    st.text(max_size=8),
)
NON_STRING_KEYS = st.one_of(st.booleans(), st.integers(), st.none(), st.dates(), st.floats())
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**90, max_value=10**6000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.dates(),
    st.sampled_from(["random", "round_robin", "(" * 60, "{" * 60, "${NOT_SET_ANYWHERE}", "p"]),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, NON_STRING_KEYS), inner, max_size=4),
    ),
    max_leaves=30,
)


def deep_document(depth: int) -> Any:
    return {"rules": [{"uuid": "r", "flags": nested(depth)}]}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(DOCUMENTS, st.integers(0, 3000).map(deep_document)))
def test_model_validate_of_anything_raises_nothing_but_config_error(document: Any) -> None:
    with contextlib.suppress(ConfigError):
        RoutingConfig.model_validate(document)


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.integers(min_value=10**90, max_value=10**6000),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=30,
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=JSON_VALUES, junk=st.binary(max_size=12))
def test_load_config_of_any_json_file_raises_nothing_but_config_error(
    tmp_path: Path, document: Any, junk: bytes
) -> None:
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # to write the huge integers out
    try:
        text = json.dumps(document)
    finally:
        sys.set_int_max_str_digits(old)
    for content in (text.encode(), text.encode()[: len(text) // 2] + junk):
        path = write(tmp_path, "doc.json", content)
        with contextlib.suppress(ConfigError):
            load_config(path)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=DOCUMENTS)
def test_load_config_of_any_yaml_file_raises_nothing_but_config_error(
    tmp_path: Path, document: Any
) -> None:
    yaml = pytest.importorskip("yaml")
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        text = yaml.safe_dump(document, allow_unicode=True)
    except yaml.YAMLError:
        return  # a value yaml itself cannot write out
    finally:
        sys.set_int_max_str_digits(old)
    path = write(tmp_path, "doc.yaml", text)
    with contextlib.suppress(ConfigError):
        load_config(path)


TINGLY = json.loads((Path(__file__).parent / "data" / "tingly_typed.json").read_text())


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths(item, (*prefix, i))
    return found


TINGLY_PATHS = paths(TINGLY)[1:]


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(document, dict):
        return {**document, head: replaced(document[head], rest, value)}
    copy = list(document)
    copy[head] = replaced(copy[head], rest, value)
    return copy


@settings(max_examples=200, deadline=None)
@given(path=st.sampled_from(TINGLY_PATHS), value=DOCUMENTS)
def test_a_valid_document_with_any_one_value_replaced_raises_only_config_error(
    path: tuple[Any, ...], value: Any
) -> None:
    with contextlib.suppress(ConfigError):
        RoutingConfig.model_validate(replaced(TINGLY, path, value))
