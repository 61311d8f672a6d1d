"""Tactic state: current service and streak per rule, atomic advance, concurrent exactness."""

from __future__ import annotations

import threading
from collections import Counter

from tactic_helpers import A, B, C, D, Env, make_rule

from llmroute import InMemoryTacticState, ServiceID, TacticCursor, TacticState

RULE = "rule-1"
SA, SB = A.service_id, B.service_id


def test_in_memory_state_satisfies_the_protocol() -> None:
    assert isinstance(InMemoryTacticState(), TacticState)


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


def test_advance_passes_the_cursor_to_the_step_and_records_its_choice() -> None:
    state = InMemoryTacticState()
    seen: list[tuple[ServiceID | None, int]] = []

    def step(current: ServiceID | None, streak: int) -> ServiceID:
        seen.append((current, streak))
        return SA

    assert state.advance(RULE, step) == (SA, 1)
    assert state.advance(RULE, step) == (SA, 2)
    assert seen == [(None, 0), (SA, 1)]


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
    # 80,000 picks are 4,000 whole cycles of 4 x 5: the turn is back at the start.
    assert env.state.cursor(rule.uuid) == TacticCursor(D.service_id, 5)


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
