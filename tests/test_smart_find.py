"""The fast substring test of smart routing's "contains" ops agrees with ``in``."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmroute.config._find import Needle, occurs

PROSE = "deploy the service to the cluster, then check latency and the error budget. " * 40


@pytest.mark.parametrize(
    "value",
    ["cluster", "error budget", "latency-7", "#42", "the", "e", "zzz", "budget. deploy", "\n"],
)
def test_occurs_agrees_with_in_on_long_prose(value: str) -> None:
    needle = Needle(value)
    for text in (PROSE, PROSE + value, value + PROSE, PROSE[:100], ""):
        assert occurs(needle, text) is (value in text)


def test_the_rarest_character_is_searched_for() -> None:
    assert Needle("project-42").rare == "2"
    assert Needle("deploy").rare == "y"


def test_a_common_rare_character_falls_back_to_the_plain_test() -> None:
    text = "a1 " * 500 + "a1b"
    assert occurs(Needle("1b"), text)
    assert not occurs(Needle("1c"), text)


def test_a_needle_pickles() -> None:
    needle = pickle.loads(pickle.dumps(Needle("cluster")))
    assert (needle.value, needle.rare, needle.offset) == ("cluster", "u", 2)


TEXTS = st.text(alphabet="ab1 é\n", max_size=40).map(lambda t: t * 12)


@given(st.text(alphabet="ab1 é\n", min_size=1, max_size=5), TEXTS)
def test_occurs_is_in(value: str, text: str) -> None:
    assert occurs(Needle(value), text) is (value in text)
