"""Tactic state: current service and streak per rule, atomic turns, concurrent exactness."""

from __future__ import annotations

import threading
from collections import Counter

from tactic_helpers import A, B, C, D, Env, make_rule

from llmroute.state import InMemoryTacticState, TacticCursor

RULE = "rule-1"
SA, SB = A.service_id, B.service_id


def test_a_rule_never_picked_has_no_current_service() -> None:
    state = InMemoryTacticState()
    assert state.current(RULE) is None
    assert state.cursor(RULE) == TacticCursor(None, 0)


def test_record_sets_the_current_service_with_a_streak_of_one() -> None:
    state = InMemoryTacticState()
    state.record(RULE, SA)
    assert state.cursor(RULE) == TacticCursor(SA, 1)


def test_recording_the_same_service_again_grows_the_streak() -> None:
    state = InMemoryTacticState()
    for _ in range(3):
        state.record(RULE, SA)
    assert state.cursor(RULE) == TacticCursor(SA, 3)


def test_recording_another_service_restarts_the_streak() -> None:
    state = InMemoryTacticState()
    state.record(RULE, SA)
    state.record(RULE, SA)
    state.record(RULE, SB)
    assert state.cursor(RULE) == TacticCursor(SB, 1)


def test_a_rule_never_picked_is_at_turn_zero() -> None:
    state = InMemoryTacticState()
    assert (state.peek_turn(RULE), state.take_turn(RULE)) == (0, 0)


def test_take_turn_hands_out_consecutive_turns() -> None:
    state = InMemoryTacticState()
    assert [state.take_turn(RULE) for _ in range(4)] == [0, 1, 2, 3]
    assert state.peek_turn(RULE) == 4


def test_peek_turn_does_not_take_it() -> None:
    state = InMemoryTacticState()
    state.take_turn(RULE)
    assert [state.peek_turn(RULE) for _ in range(3)] == [1, 1, 1]
    assert state.take_turn(RULE) == 1


def test_turns_are_per_rule_and_apart_from_the_cursor() -> None:
    state = InMemoryTacticState()
    state.take_turn("one")
    state.take_turn("one")
    state.record("two", SA)
    assert (state.peek_turn("one"), state.peek_turn("two")) == (2, 0)
    assert (state.current("one"), state.current("two")) == (None, SA)


def test_reset_forgets_a_rules_turn_too() -> None:
    state = InMemoryTacticState()
    for rule in ("one", "two"):
        state.take_turn(rule)
        state.record(rule, SA)
    state.reset("one")
    assert (state.peek_turn("one"), state.cursor("one")) == (0, TacticCursor())
    assert (state.peek_turn("two"), state.cursor("two")) == (1, TacticCursor(SA, 1))
    state.reset()
    assert state.peek_turn("two") == 0


def test_eight_threads_taking_turns_get_each_turn_once() -> None:
    state = InMemoryTacticState()
    barrier = threading.Barrier(8)
    taken: list[list[int]] = []

    def work() -> None:
        barrier.wait()
        taken.append([state.take_turn(RULE) for _ in range(5_000)])

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(turn for turns in taken for turn in turns) == list(range(40_000))
    assert state.peek_turn(RULE) == 40_000


def test_eight_threads_recording_lose_no_streak() -> None:
    state = InMemoryTacticState()
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait()
        for _ in range(5_000):
            state.record(RULE, SA)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.cursor(RULE) == TacticCursor(SA, 40_000)


def test_reset_forgets_one_rule() -> None:
    state = InMemoryTacticState()
    state.record("one", SA)
    state.record("two", SB)
    state.reset("one")
    assert (state.current("one"), state.current("two")) == (None, SB)


def test_reset_without_a_rule_forgets_every_rule() -> None:
    state = InMemoryTacticState()
    state.record("one", SA)
    state.record("two", SB)
    state.reset()
    assert (state.current("one"), state.current("two")) == (None, None)


def test_eight_threads_of_round_robin_give_exact_counts() -> None:
    env = Env()
    rule = make_rule((A, B, C, D), "round_robin", request_threshold=5)
    barrier = threading.Barrier(8)
    results: list[Counter[str]] = []
    errors: list[BaseException] = []

    def work() -> None:
        counts: Counter[str] = Counter()
        try:
            barrier.wait()
            for _ in range(10_000):
                counts[env.lb.select(rule).model] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        results.append(counts)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results, Counter()) == Counter({"a": 20_000, "b": 20_000, "c": 20_000, "d": 20_000})
    # 80,000 picks took 80,000 turns: 4,000 whole cycles of 4 x 5, so the next goes to a.
    assert env.state.peek_turn(rule.uuid) == 80_000
    assert env.lb.select(rule) == A


def test_eight_threads_of_random_selection_raise_nothing() -> None:
    env = Env()
    rule = make_rule((A, B, C, D), "random")
    barrier = threading.Barrier(8)
    totals: list[int] = []

    def work() -> None:
        barrier.wait()
        totals.append(sum(1 for _ in range(2_000) if env.lb.select(rule) in (A, B, C, D)))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert totals == [2_000] * 8
