"""execute(): the fallback, primary_only and round_robin strategies, cooldown, exemptions,
fallback_on, the errors, hooks, logging and the provider forms (sync; no sleeps)."""

from __future__ import annotations

import logging
import pickle
import threading
from collections import Counter
from typing import Any

import pytest
from execute_helpers import BareTracker, Recorder, cool_down, monitor
from hypothesis import given
from hypothesis import strategies as st

from llmroute import (
    AllProvidersFailedError,
    ConfigError,
    ExecuteResult,
    FailureKind,
    HealthMonitor,
    LLMRouteError,
    NoProvidersError,
    Provider,
    Service,
    execute,
)
from llmroute.execute import RoundRobinCounter, Strategy, default_fallback_on
from llmroute.testing import FakeAPIError, ScriptedProvider

K = FailureKind


def call(provider: ScriptedProvider) -> Any:
    return provider()


def scripted(**steps: Any) -> list[ScriptedProvider]:
    return [ScriptedProvider(name, step) for name, step in steps.items()]


# -- fallback: the seed semantics ----------------------------------------------------------


def test_first_available_provider_serves_and_nothing_else_is_called() -> None:
    a, b = scripted(a="A", b="B")
    result = execute([a, b], call)
    assert (result.response, result.provider, result.attempt_num) == ("A", "a", 1)
    assert (result.was_terminus, result.attempts, result.skipped) == (False, (), ())
    assert isinstance(result.latency, float)
    assert b.calls == 0


def test_providers_in_cooldown_are_skipped_and_the_terminus_serves_as_attempt_one() -> None:
    a, b, c = scripted(a="A", b="B", c="C")
    health = monitor()
    cool_down(health, "a", "b")
    result = execute([a, b, c], call, cooldown=health)
    assert (result.provider, result.attempt_num, result.was_terminus) == ("c", 1, True)
    assert [skip.provider for skip in result.skipped] == ["a", "b"]
    assert [skip.cooldown_remaining for skip in result.skipped] == [30.0, 30.0]
    assert (a.calls, b.calls, c.calls) == (0, 0, 1)


def test_a_failing_first_provider_falls_back_to_the_terminus() -> None:
    error = FakeAPIError(503)
    a, b = scripted(a=error, b="B")
    result = execute([a, b], call)
    assert (result.provider, result.attempt_num, result.was_terminus) == ("b", 2, True)
    (attempt,) = result.attempts
    assert (attempt.provider, attempt.error, attempt.kind) == ("a", error, K.SERVER)
    assert attempt.failure.status_code == 503
    assert isinstance(attempt.latency, float)


def test_the_terminus_is_tried_even_when_it_is_cooling_down() -> None:
    a, b = scripted(a="A", b="B")
    health = monitor()
    cool_down(health, "a", "b")
    result = execute([a, b], call, cooldown=health)
    assert (result.provider, result.attempt_num, b.calls) == ("b", 1, 1)
    assert [skip.provider for skip in result.skipped] == ["a"]


def test_a_failure_puts_the_provider_into_cooldown_so_the_next_call_skips_it() -> None:
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=20), "A")
    b = ScriptedProvider("b", "B")
    health = monitor()
    execute([a, b], call, cooldown=health)
    assert health.cooldown_remaining("a") == 20.0
    result = execute([a, b], call, cooldown=health)
    assert (result.provider, a.calls) == ("b", 1)


def test_an_exempt_provider_that_fails_is_not_put_in_cooldown() -> None:
    a, b = scripted(a=FakeAPIError(429, retry_after=20), b="B")
    health = monitor()
    result = execute([a, b], call, cooldown=health, exempt={"a"})
    assert result.provider == "b"
    assert health.is_available("a")
    assert health.get_health("a").error_count == 0


def test_exempt_accepts_provider_objects_and_a_single_name() -> None:
    a, b = scripted(a=FakeAPIError(500), b="B")
    for exempt in ([a], "a"):
        health = monitor()
        execute([a, b], call, cooldown=health, exempt=exempt)
        assert health.is_available("a"), exempt


def test_a_request_scoped_failure_is_not_recorded_against_the_provider() -> None:
    a, b = scripted(a=FakeAPIError(400, code="context_length_exceeded"), b="B")
    health = monitor()
    result = execute([a, b], call, cooldown=health)
    assert (result.provider, result.attempts[0].kind) == ("b", K.CONTEXT_LENGTH)
    assert health.get_health("a").error_count == 0


def test_the_tracker_receives_the_classified_failure() -> None:
    a, b = scripted(a=FakeAPIError(500), b="B")
    tracker = BareTracker()
    execute([a, b], call, cooldown=tracker)
    ((name, failure),) = tracker.failures
    assert (name, failure.kind, failure.status_code) == ("a", K.SERVER, 500)


def test_a_success_resets_the_error_count_of_the_tracker() -> None:
    a = ScriptedProvider("a", FakeAPIError(500), "A")
    b = ScriptedProvider("b", "B")
    health = monitor(threshold=3)
    execute([a, b], call, cooldown=health)
    assert health.get_health("a").consecutive_errors == 1
    execute([a, b], call, cooldown=health)
    assert health.get_health("a").consecutive_errors == 0


def test_a_tracker_without_report_success_is_fine() -> None:
    a, b = scripted(a="A", b="B")
    tracker = BareTracker(cooling={"a"})
    result = execute([a, b], call, cooldown=tracker)
    assert result.provider == "b"


def test_without_a_tracker_nothing_is_skipped() -> None:
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=20), "A")
    b = ScriptedProvider("b", "B")
    execute([a, b], call)
    assert execute([a, b], call).provider == "a"


# -- what falls over -----------------------------------------------------------------------


def test_a_plain_bad_request_stops_the_chain() -> None:
    error = FakeAPIError(400, "temperature must be <= 2")
    a, b, c = scripted(a=error, b="B", c="C")
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b, c], call)
    assert (b.calls, c.calls) == (0, 0)
    assert caught.value.__cause__ is error
    assert caught.value.untried == ("b", "c")
    assert "bad_request" in str(caught.value) and "not tried: b, c" in str(caught.value)


def test_a_context_length_bad_request_falls_over() -> None:
    a, b = scripted(a=FakeAPIError(400, "maximum context length is 8192 tokens"), b="B")
    assert execute([a, b], call).provider == "b"


def test_a_content_policy_refusal_falls_over() -> None:
    a, b = scripted(a=FakeAPIError(400, code="content_policy_violation"), b="B")
    result = execute([a, b], call)
    assert (result.provider, result.attempts[0].kind) == ("b", K.CONTENT_POLICY)


@pytest.mark.parametrize(
    ("error", "falls_over"),
    [
        (FakeAPIError(429), True),
        (FakeAPIError(401), True),
        (FakeAPIError(404), True),
        (FakeAPIError(500), True),
        (FakeAPIError(529), True),
        (TimeoutError(), True),
        (ConnectionError(), True),
        (RuntimeError("something odd"), True),
        (FakeAPIError(400, code="context_length_exceeded"), True),
        (FakeAPIError(400, code="content_filter"), True),
        (FakeAPIError(400), False),
        (FakeAPIError(422), False),
        (FakeAPIError(499), False),
    ],
)
def test_default_fallback_on(error: Exception, falls_over: bool) -> None:
    assert default_fallback_on(error) is falls_over


def test_a_custom_fallback_on_replaces_the_default() -> None:
    a, b = scripted(a=FakeAPIError(400), b="B")
    assert execute([a, b], call, fallback_on=lambda error: True).provider == "b"
    c, d = scripted(c=FakeAPIError(500), d="D")
    with pytest.raises(AllProvidersFailedError):
        execute([c, d], call, fallback_on=lambda error: False)
    assert d.calls == 0


def test_fallback_on_sees_the_original_error() -> None:
    error = FakeAPIError(500)
    seen: list[BaseException] = []
    a, b = scripted(a=error, b="B")
    execute([a, b], call, fallback_on=lambda e: seen.append(e) is None)
    assert seen == [error]


# -- the errors ----------------------------------------------------------------------------


def test_all_failed_carries_every_attempt_and_the_last_error_as_cause() -> None:
    first, last = FakeAPIError(500), FakeAPIError(429, retry_after=20)
    a, b = scripted(a=first, b=last)
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call)
    error = caught.value
    assert [(x.provider, x.error, x.kind) for x in error.attempts] == [
        ("a", first, K.SERVER),
        ("b", last, K.RATE_LIMIT),
    ]
    assert error.__cause__ is last and error.last_error is last
    assert error.last_failure is not None and error.last_failure.kind is K.RATE_LIMIT
    assert str(error) == (
        "all 2 providers failed: a -> server (HTTP 500): FakeAPIError: Error code: 500, "
        "b -> rate_limit (HTTP 429, retry after 20s): FakeAPIError: Error code: 429"
    )
    assert error.retry_after == 20.0
    assert isinstance(error, LLMRouteError)


def test_the_message_names_the_providers_that_were_cooling_down() -> None:
    a, b = scripted(a="A", b=FakeAPIError(500))
    health = monitor()
    cool_down(health, "a", seconds=12)
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call, cooldown=health)
    assert str(caught.value) == (
        "no provider served the call: b -> server (HTTP 500): FakeAPIError: Error code: 500; "
        "cooling down: a (12.0s left)"
    )
    assert caught.value.retry_after == 12.0


def test_when_every_provider_is_cooling_down_the_message_says_for_how_long() -> None:
    a, b, c = scripted(a="A", b="B", c="C")
    health = monitor()
    cool_down(health, "a", seconds=12)
    cool_down(health, "b", seconds=30)
    cool_down(health, "c", seconds=5)
    counter = RoundRobinCounter()
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b, c], call, strategy="round_robin", counter=counter, cooldown=health)
    error = caught.value
    assert str(error) == (
        "all 3 providers are cooling down: a (12.0s left), b (30.0s left), c (5.0s left)"
    )
    assert (error.attempts, error.last_error, error.__cause__) == ((), None, None)
    assert error.retry_after == 5.0
    assert (a.calls, b.calls, c.calls) == (0, 0, 0)


def test_all_failed_survives_pickling() -> None:
    a, b = scripted(a=RuntimeError("x"), b=RuntimeError("y"))
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert [x.provider for x in copy.attempts] == ["a", "b"]


@pytest.mark.parametrize("providers", [[], (), iter([])])
def test_no_providers_raises_no_providers_error(providers: Any) -> None:
    with pytest.raises(NoProvidersError):
        execute(providers, call)
    assert issubclass(NoProvidersError, ValueError)


def test_an_unknown_strategy_raises_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown execute strategy 'fastest'.*fallback"):
        execute(["a"], lambda p: p, strategy="fastest")
    with pytest.raises(ConfigError):
        execute(["a"], lambda p: p, strategy=None)  # type: ignore[arg-type]


def test_strategy_members_and_names_are_equivalent() -> None:
    for strategy in (Strategy.FALLBACK, "fallback", Strategy.PRIMARY_ONLY, "primary_only"):
        assert execute(["a", "b"], lambda p: p, strategy=strategy).provider == "a"


# -- primary_only and round_robin ----------------------------------------------------------


def test_primary_only_calls_only_the_first_and_wraps_its_error() -> None:
    error = FakeAPIError(500)
    a, b = scripted(a=error, b="B")
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call, strategy="primary_only")
    assert b.calls == 0
    assert caught.value.__cause__ is error
    assert (
        str(caught.value) == "provider a failed: server (HTTP 500): FakeAPIError: Error code: 500"
    )


def test_primary_only_calls_the_primary_even_when_cooling_down() -> None:
    a, b = scripted(a="A", b="B")
    health = monitor()
    cool_down(health, "a")
    result = execute([a, b], call, strategy=Strategy.PRIMARY_ONLY, cooldown=health)
    assert (result.provider, result.was_terminus, result.skipped) == ("a", False, ())


def test_round_robin_needs_a_counter() -> None:
    with pytest.raises(ConfigError, match="counter=RoundRobinCounter"):
        execute(["a", "b"], lambda p: p, strategy="round_robin")


def test_round_robin_rotates_one_provider_per_call() -> None:
    counter = RoundRobinCounter()
    served = [
        execute(["a", "b", "c"], lambda p: p, strategy="round_robin", counter=counter).provider
        for _ in range(6)
    ]
    assert served == ["a", "b", "c", "a", "b", "c"]


def test_round_robin_does_not_fall_back_and_wraps_the_error() -> None:
    error = FakeAPIError(500)
    a, b = scripted(a=error, b="B")
    with pytest.raises(AllProvidersFailedError) as caught:
        execute([a, b], call, strategy="round_robin", counter=RoundRobinCounter())
    assert (caught.value.__cause__, b.calls, caught.value.untried) == (error, 0, ())


def test_round_robin_passes_a_cooling_providers_turn_to_the_next() -> None:
    health = monitor()
    cool_down(health, "b")
    counter = RoundRobinCounter()
    served = [
        execute(
            ["a", "b", "c"], lambda p: p, strategy="round_robin", counter=counter, cooldown=health
        ).provider
        for _ in range(3)
    ]
    assert served == ["a", "c", "c"]


def test_round_robin_with_a_shared_counter_spreads_exactly_across_threads() -> None:
    providers = ["a", "b", "c"]
    counter = RoundRobinCounter()
    served: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        for _ in range(75):
            result = execute(providers, lambda p: p, strategy="round_robin", counter=counter)
            with lock:
                served[result.provider] += 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert served == {"a": 100, "b": 100, "c": 100}
    assert counter.value == 300


@given(st.integers(min_value=1, max_value=7), st.integers(min_value=0, max_value=50))
def test_round_robin_counter_is_exact(n: int, calls: int) -> None:
    counter = RoundRobinCounter()
    picks = Counter(counter.next(n) for _ in range(calls))
    assert set(picks) <= set(range(n))
    assert max(picks.values(), default=0) - min((picks[i] for i in range(n)), default=0) <= 1


def test_round_robin_counter_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        RoundRobinCounter(-1)
    with pytest.raises(ValueError):
        RoundRobinCounter().next(0)


# -- cancellation --------------------------------------------------------------------------


@pytest.mark.parametrize("cancel", [KeyboardInterrupt, SystemExit])
def test_a_cancellation_propagates_at_once_and_records_nothing(cancel: type) -> None:
    a, b = scripted(a=cancel(), b="B")
    health = monitor()
    hooks = Recorder()
    with pytest.raises(cancel):
        execute([a, b], call, cooldown=health, hooks=hooks)
    assert b.calls == 0
    assert health.get_all_health() == {}
    assert hooks.events == [("started", "a"), ("failed", "a", "cancelled")]


def test_a_cancellation_after_a_failure_propagates_too() -> None:
    a, b, c = scripted(a=FakeAPIError(500), b=KeyboardInterrupt(), c="C")
    with pytest.raises(KeyboardInterrupt):
        execute([a, b, c], call)
    assert c.calls == 0


# -- provider forms ------------------------------------------------------------------------


def test_provider_and_service_objects_are_named_by_name_and_service_id() -> None:
    provider = Provider(name="openai", token="sk-secret-value")
    service = Service(provider="openai", model="gpt-4o")
    assert execute([provider], lambda p: p).provider == "openai"
    assert execute([service], lambda s: s).provider == "openai:gpt-4o"


def test_key_names_arbitrary_items() -> None:
    pairs = [("svc-a", 1), ("svc-b", 2)]
    health = monitor()
    cool_down(health, "svc-a")
    result = execute(pairs, lambda pair: pair[1], key=lambda pair: pair[0], cooldown=health)
    assert (result.provider, result.response) == ("svc-b", 2)


def test_any_iterable_of_providers_works() -> None:
    def gen() -> Any:
        yield from scripted(a=FakeAPIError(500), b="B")

    assert execute(gen(), call).provider == "b"


def test_str_subclasses_are_named_by_their_text() -> None:
    class Name(str):
        def __str__(self) -> str:
            return "something else"

    result = execute([Name("a")], lambda p: p)
    assert result.provider == "a" and type(result.provider) is str


@pytest.mark.parametrize("bad", [[42], [""], [object()], "ab"])
def test_providers_without_a_name_raise_type_error(bad: Any) -> None:
    with pytest.raises(TypeError):
        execute(bad, lambda p: p)


def test_a_bad_provider_later_in_the_list_is_reported_when_reached() -> None:
    a = ScriptedProvider("a", FakeAPIError(500))
    with pytest.raises(TypeError):
        execute([a, 42], call)


# -- hooks and logging ---------------------------------------------------------------------


def test_hooks_hear_every_attempt_in_order() -> None:
    a, b, c = scripted(a="A", b=FakeAPIError(500), c="C")
    health = monitor()
    cool_down(health, "a")
    hooks = Recorder()
    execute([a, b, c], call, cooldown=health, hooks=hooks)
    assert hooks.events == [
        ("skipped", "a"),
        ("started", "b"),
        ("failed", "b", "server"),
        ("started", "c"),
        ("succeeded", "c"),
    ]


def test_hooks_hear_the_fast_path_too() -> None:
    hooks = Recorder()
    execute(["a", "b"], lambda p: p, hooks=hooks)
    assert hooks.events == [("started", "a"), ("succeeded", "a")]


def test_hooks_receive_the_provider_objects() -> None:
    seen: list[Any] = []

    class Hooks(Recorder):
        def attempt_started(self, provider: Any, name: str) -> None:
            seen.append(provider)

    pairs = [("x", 1), ("y", 2)]
    execute(pairs, lambda p: 1 / 0 if p[1] == 1 else p, key=lambda p: p[0], hooks=Hooks())
    assert seen == pairs


def test_one_log_record_per_failed_attempt_and_skip_and_none_on_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmroute.execute")
    secret = "sk-live-abcdefghijklmnop"
    a, b, c = scripted(a="A", b=FakeAPIError(401, f"bad key {secret}"), c="C")
    health = monitor()
    cool_down(health, "a")
    execute([a, b, c], call, cooldown=health)
    records = [r for r in caplog.records if r.name == "llmroute.execute"]
    assert [(r.levelno, r.event) for r in records] == [  # type: ignore[attr-defined]
        (logging.DEBUG, "provider_skipped"),
        (logging.INFO, "attempt_failed"),
    ]
    failed = records[1]
    assert failed.provider == "b"  # type: ignore[attr-defined]
    assert failed.failure_kind == "auth"  # type: ignore[attr-defined]
    assert failed.status_code == 401  # type: ignore[attr-defined]
    assert failed.action == "fallback"  # type: ignore[attr-defined]
    assert failed.cooldown_started is True  # type: ignore[attr-defined]
    assert all(secret not in r.getMessage() and secret not in str(vars(r)) for r in records)
    caplog.clear()
    execute([a, b, c], call)
    assert [r for r in caplog.records if r.name == "llmroute.execute"][:1] == []


def test_a_custom_logger_is_used(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="myapp.llm")
    a, b = scripted(a=FakeAPIError(500), b="B")
    execute([a, b], call, logger=logging.getLogger("myapp.llm"))
    assert [r.name for r in caplog.records] == ["myapp.llm"]


# -- results -------------------------------------------------------------------------------


def test_the_result_is_read_only_and_reads_well() -> None:
    a, b = scripted(a=FakeAPIError(500), b="B")
    result = execute([a, b], call)
    with pytest.raises(AttributeError):
        result.provider = "x"  # type: ignore[misc]
    assert "provider='b'" in repr(result) and "a: server" in repr(result)
    assert result.total_latency >= result.latency
    assert isinstance(result, ExecuteResult)


# -- an invariant over random scripts -------------------------------------------------------

OUTCOMES = st.sampled_from(["ok", "server", "rate_limit", "context_length"])
_ERRORS = {
    "server": lambda: FakeAPIError(500),
    "rate_limit": lambda: FakeAPIError(429),
    "context_length": lambda: FakeAPIError(400, code="context_length_exceeded"),
}


@given(st.lists(st.tuples(OUTCOMES, st.booleans()), min_size=1, max_size=6))
def test_fallback_serves_from_the_first_available_provider_that_succeeds(
    plan: list[tuple[str, bool]],
) -> None:
    names = [f"p{i}" for i in range(len(plan))]
    providers = [
        ScriptedProvider(name, "ok" if outcome == "ok" else _ERRORS[outcome]())
        for name, (outcome, _) in zip(names, plan, strict=True)
    ]
    health: HealthMonitor = monitor()
    cooling = {name for name, (_, cool) in zip(names, plan, strict=True) if cool}
    cool_down(health, *cooling)
    tried = [i for i, name in enumerate(names) if name not in cooling or i == len(names) - 1]
    serving = next((i for i in tried if plan[i][0] == "ok"), None)
    if serving is None:
        with pytest.raises(AllProvidersFailedError) as caught:
            execute(providers, call, cooldown=health)
        assert [a.provider for a in caught.value.attempts] == [names[i] for i in tried]
    else:
        result = execute(providers, call, cooldown=health)
        assert result.provider == names[serving]
        assert result.attempt_num == tried.index(serving) + 1
        assert result.was_terminus is (serving == len(names) - 1)
    assert [p.calls for p in providers] == [
        1 if i in tried and (serving is None or i <= serving) else 0 for i in range(len(names))
    ]


def test_a_cancellation_wins_over_a_bad_provider_later_in_the_list() -> None:
    a = ScriptedProvider("a", KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        execute([a, 42], call)
