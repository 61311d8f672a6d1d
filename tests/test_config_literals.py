"""The literals every match of a regex contains, and the regex ops that test them first."""

from __future__ import annotations

import pickle
import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmroute.config import compile_op
from llmroute.config._literals import MAX_LITERALS, required_literals
from llmroute.config._ops import _system_regex, _user_regex
from llmroute.request import RequestContext


def literals_of(source: str, flags: int = 0) -> tuple[str, ...] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "possible nested set"
        return required_literals(re.compile(source, flags))


# --- what is extracted --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # the bench's patterns
        (r"\bticket-7\d+\b", ("ticket-7",)),
        (r"(?:invoice|order)#7", ("#7",)),
        # runs, escapes and what breaks a run
        ("debug", ("debug",)),
        (r"\bfix\b", ("fix",)),
        (r"error: \d+ failed", ("error: ",)),
        (r"\.txt$", (".txt",)),
        (r"^Traceback \(most", ("Traceback (most",)),
        (r"a\*b\\c", ("a*b\\c",)),
        (r"\n\tab", ("\n\tab",)),
        (r"\é", ("é",)),
        ("ab.cde", ("cde",)),
        (r"key\s*=\s*value", ("value",)),
        ("[xyz]abc[]q]de", ("abc",)),
        (r"[\]]zz", ("zz",)),
        ("[[:alpha:]]zz", ("]zz",)),  # re reads a class "[[:alpha:]" then "]zz"
        # quantifiers
        ("ab?c", ("a",)),
        ("abc?", ("ab",)),
        ("ab*cd", ("cd",)),
        ("ab+cde", ("cde",)),
        ("ab+cd", ("ab",)),
        ("abc+d", ("abc",)),
        ("a{2}bcd", ("bcd",)),
        ("xab{3,5}", ("xab",)),
        ("xy{0,3}z", ("x",)),
        ("xy{,3}zw", ("zw",)),
        ("ab*?cde", ("cde",)),
        ("ab{1,2}?c", ("ab",)),
        # alternation and groups
        ("foo|bar", ("foo", "bar")),
        (r"foo|ba\d", ("foo", "ba")),
        ("(foo|bar)", ("foo", "bar")),
        ("(?:foo|bar)+x", ("x",)),
        ("(?:foo|bar)(?:bazz|quxx)", ("bazz", "quxx")),
        ("(?P<word>hello)", ("hello",)),
        ("((ab|cd)|ef)", ("ab", "cd", "ef")),
        ("a|a", ("a",)),
    ],
)
def test_the_literals_of_a_pattern(source: str, expected: tuple[str, ...]) -> None:
    assert literals_of(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "",
        "foo|",  # the empty alternative matches anywhere
        "(ab)?",
        "(ab)*",
        "(?:x|)",
        r"\d+",
        "[abc]",
        ".*",
        "a?",
        "a{0}",
        "(a|b|c|d|e|f|g|h|i)",  # more than MAX_LITERALS
        # not understood
        "(?i)abc",
        "(?i:abc)",
        "(?x)a b c",
        "(?s)abc",
        "abc(?=d)",
        "abc(?!d)",
        "(?<=a)bcd",
        "(?<!a)bcd",
        r"(ab)\1",
        "(?P<w>ab)(?P=w)",
        "(a)?(?(1)bc|de)",
        "abc(?#comment)",
        "(?>abc)",
        r"\x41bc",
        r"\u0041bc",
        r"\N{LATIN SMALL LETTER A}bc",
        r"\101bc",
        "abc{x}",
        "x{2",
        "{abc}",
    ],
)
def test_a_pattern_without_known_literals(source: str) -> None:
    assert literals_of(source) is None


def test_braces_re_reads_as_a_literal_only_weaken_the_literals() -> None:
    assert literals_of("a{}bc") == ("bc",)  # "a{}bc" would be exact; "bc" is still required


def test_case_insensitive_and_verbose_patterns_have_no_literals() -> None:
    assert literals_of("abc", re.IGNORECASE) is None
    assert literals_of("abc", re.VERBOSE) is None
    assert literals_of("abc", re.MULTILINE | re.DOTALL) == ("abc",)


def test_at_most_max_literals() -> None:
    words = [f"w{i}" for i in range(MAX_LITERALS)]
    assert literals_of("|".join(words)) == tuple(words)
    assert literals_of("|".join([*words, "extra"])) is None


# --- every match holds a literal ----------------------------------------------------------

_ATOMS = st.sampled_from(
    ["a", "b", "c", "ab", "-", "#", " ", "é", "]", "}", ",",
     r"\.", r"\-", r"\#", r"\*", r"\(", r"\\", r"\n", r"\t", r"\é",
     r"\d", r"\w", r"\s", r"\D", r"\W", r"\S", ".", "[ab]", "[^a]", "[]a]", "[a-c]", r"[\]b]",
     "^", "$", r"\b", r"\B", r"\A", r"\Z",
     "(?i)", "(?=a)", "(?!b)", "(?<=a)", r"\x61", "(?#c)", "a{}", "{", "{1}"]
)  # fmt: skip
_QUANTIFIERS = st.sampled_from(
    ["?", "*", "+", "{2}", "{0,2}", "{1,}", "{,2}", "{1,2}", "??", "*?", "+?", "*+", "{2}?"]
)
_GROUPS = st.sampled_from(["(", "(?:", "(?P<g>", "(?>"])


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.lists(inner, min_size=2, max_size=3).map("|".join),
        st.tuples(_GROUPS, inner).map(lambda pair: f"{pair[0]}{pair[1]})"),
        st.tuples(inner, _QUANTIFIERS).map("".join),
    )


PATTERNS = st.recursive(_ATOMS, _compound, max_leaves=12)
TEXTS = st.text(alphabet="abc-#. \n\té]},1", max_size=40)


def _compiled(source: str) -> re.Pattern[str] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return re.compile(source)
        except (re.error, OverflowError):
            return None


def _assert_every_match_holds_a_literal(pattern: re.Pattern[str], text: str) -> None:
    literals = required_literals(pattern)
    if literals is None:
        return
    assert all(literals), literals
    for match in pattern.finditer(text):
        assert any(literal in match.group() for literal in literals), (match, literals)
    if pattern.search(text) is not None:
        assert any(literal in text for literal in literals)


@settings(max_examples=400)
@given(PATTERNS, st.lists(TEXTS, max_size=3))
def test_every_match_holds_a_literal(source: str, texts: list[str]) -> None:
    pattern = _compiled(source)
    if pattern is None:
        return
    for text in texts:
        _assert_every_match_holds_a_literal(pattern, text)


@settings(max_examples=400)
@given(PATTERNS, st.data())
def test_every_match_of_a_text_built_to_match_holds_a_literal(
    source: str, data: st.DataObject
) -> None:
    pattern = _compiled(source)
    if pattern is None or required_literals(pattern) is None:
        return
    try:
        text = data.draw(st.from_regex(pattern))
    except Exception:  # a construct from_regex cannot generate for
        return
    assert pattern.search(text) is not None
    _assert_every_match_holds_a_literal(pattern, text)


# --- the regex ops test the literals first --------------------------------------------------


def test_a_regex_op_with_literals_skips_texts_without_them() -> None:
    user = compile_op("context_user", "regex", r"\bticket-7\d+\b")
    system = compile_op("context_system", "regex", r"(?:invoice|order)#7")
    assert user.func is not _user_regex and system.func is not _system_regex  # type: ignore[attr-defined]
    long = "deploy the service " * 500
    ctx = RequestContext(system_messages=[long, "order#7"], user_messages=[long + "ticket-71 "])
    assert user(ctx) and system(ctx)
    missing = RequestContext(system_messages=[long, "invoice#"], user_messages=[long + "ticket-7"])
    assert not user(missing) and not system(missing)


def test_a_regex_op_without_literals_searches_as_before() -> None:
    user = compile_op("context_user", "regex", r"(?i)ticket")
    assert user.func is _user_regex  # type: ignore[attr-defined]
    assert user(RequestContext(user_messages=["TICKET-1"]))


def test_a_filtered_regex_op_pickles() -> None:
    op = compile_op("context_user", "regex", r"\bfix\b")
    copy = pickle.loads(pickle.dumps(op))
    assert copy(RequestContext(user_messages=["a fix here"]))
    assert not copy(RequestContext(user_messages=["prefix"]))
