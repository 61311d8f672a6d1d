"""Retries with backoff under a deadline and a retry budget (issue 13): RetryPolicy,
deadline= with time_left(), RetryBudget, the injected sleepers; fake clock, fake sleeper,
scripted providers, never a wall-clock sleep."""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from typing import Any

import pytest

from llmroute import (
    AllProvidersFailedError,
    FailureKind,
    HealthConfig,
    HealthMonitor,
    Provider,
    Rule,
    ServiceSelector,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from llmroute.execute import ExecuteOptions, RetryBudget, RetryOptions, RetryPolicy, time_left
from llmroute.testing import FakeAPIError, FakeClock, ScriptedProvider


class Sleeper:
    """A fake sleeper (sync and async) that records each wait and advances the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        self(seconds)
        await asyncio.sleep(0)  # yields to the event loop; no wall-clock wait


def run(
    mode: str, providers: list[Any], sleeper: Sleeper, **kwargs: Any
) -> Any:  # the result of execute() or aexecute() over ScriptedProviders
    if mode == "sync":
        return execute(providers, lambda p: p(), clock=sleeper.clock, sleep=sleeper, **kwargs)
    return asyncio.run(
        aexecute(
            providers, lambda p: p.acall(), clock=sleeper.clock, asleep=sleeper.asleep, **kwargs
        )
    )


MODES = ["sync", "async"]


# -- the policy --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_three_attempts_for_server_two_500s_then_success_on_attempt_3(mode: str) -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500), FakeAPIError(500), "ok")
    policy = RetryPolicy(attempts={FailureKind.SERVER: 3}, base=0.5, max_backoff=10.0)
    result = run(mode, [a], sleeper, retry=policy, deadline=10)
    assert (result.response, result.attempt_num, a.calls) == ("ok", 3, 3)
    assert len(sleeper.waits) == 2
    assert 0 <= sleeper.waits[0] <= 0.5  # full jitter: [0, base)
    assert 0 <= sleeper.waits[1] <= 1.0  # [0, 2 * base)
    assert sum(sleeper.waits) < 10


def test_the_chain_is_still_walked_once_before_any_retry() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500))
    b = ScriptedProvider("b", FakeAPIError(500))
    c = ScriptedProvider("c", "ok")
    result = run("sync", [a, b, c], sleeper, retry=RetryPolicy(), deadline=10)
    assert (result.provider, result.attempt_num, sleeper.waits) == ("c", 3, [])


def test_a_retry_goes_to_the_next_candidate_then_the_same_only_when_alone() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(401))  # auth: never retried
    b = ScriptedProvider("b", FakeAPIError(503), FakeAPIError(503), "ok")
    policy = RetryPolicy(attempts={FailureKind.SERVER: 4})
    result = run("sync", [a, b], sleeper, retry=policy)
    assert (result.provider, result.attempt_num, a.calls, b.calls) == ("b", 4, 1, 3)


def test_target_same_retries_the_failing_service_before_falling_back() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500), "ok")
    b = ScriptedProvider("b", "from b")
    result = run("sync", [a, b], sleeper, retry=RetryPolicy(target="same"))
    assert (result.provider, result.attempt_num, b.calls, len(sleeper.waits)) == ("a", 2, 0, 1)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_auth_and_request_scoped_kinds_are_never_retried(status: int) -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(status), "ok")
    with pytest.raises(AllProvidersFailedError):
        run("sync", [a], sleeper, retry=RetryPolicy())
    assert (a.calls, sleeper.waits) == (1, [])


def test_without_a_policy_a_single_service_is_called_once() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500), "ok")
    with pytest.raises(AllProvidersFailedError):
        run("sync", [a], sleeper)
    assert a.calls == 1


# -- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_retry_after_over_max_retry_after_moves_to_the_next_service_without_waiting(
    mode: str,
) -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=30), "ok")
    b = ScriptedProvider("b", FakeAPIError(500), "from b")
    result = run(mode, [a, b], sleeper, retry=RetryPolicy(max_retry_after=5), deadline=60)
    # a said 30 s: it is out of the retries; b is retried after its backoff alone
    assert (result.provider, result.response, a.calls, b.calls) == ("b", "from b", 1, 2)
    assert len(sleeper.waits) == 1 and sleeper.waits[0] <= 0.5


def test_a_single_service_with_a_long_retry_after_gives_up_with_retry_after() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=30), "ok")
    with pytest.raises(AllProvidersFailedError) as caught:
        run("sync", [a], sleeper, retry=RetryPolicy(max_retry_after=5))
    assert (a.calls, sleeper.waits, caught.value.retry_after) == (1, [], 30)


def test_a_short_retry_after_is_the_floor_of_the_wait() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=3), "ok")
    result = run("sync", [a], sleeper, retry=RetryPolicy(max_retry_after=5))
    assert result.attempt_num == 2
    assert 3 <= sleeper.waits[0] <= 3.5


# -- the deadline ------------------------------------------------------------------------


def times_out(clock: FakeClock, after: float = 0.4) -> Any:
    def call(provider: ScriptedProvider) -> str:
        left = time_left()
        clock.advance(after if left is None else min(after, left))
        provider()
        raise TimeoutError(f"{provider.name} timed out")

    return call


@pytest.mark.parametrize("n", [1, 5])
def test_a_deadline_of_1s_against_timeouts_of_0_4s_stops_after_3_attempts(n: int) -> None:
    clock = FakeClock()
    sleeper = Sleeper(clock)
    fleet = [ScriptedProvider(f"s{i}", "never") for i in range(n)]
    policy = RetryPolicy(attempts={FailureKind.TIMEOUT: 10}, base=0.05, max_backoff=0.05)
    with pytest.raises(AllProvidersFailedError) as caught:
        execute(fleet, times_out(clock), retry=policy, deadline=1, clock=clock, sleep=sleeper)
    error = caught.value
    assert len(error.attempts) == 3
    assert error.reason == "the deadline of 1s ran out"
    assert "deadline of 1s ran out" in str(error)
    assert all(a.kind is FailureKind.TIMEOUT for a in error.attempts)
    assert sum(sleeper.waits) < 1


def test_time_left_is_offered_to_fn_and_gone_after_the_call() -> None:
    clock = FakeClock()
    seen: list[float | None] = []

    def fn(provider: str) -> str:
        seen.append(time_left())
        clock.advance(2)
        return "ok"

    assert time_left() is None
    execute(["a"], fn, deadline=10, clock=clock)
    assert seen == [10.0]
    assert time_left() is None
    execute(["a"], fn)
    assert seen[-1] is None


def test_a_wait_that_would_pass_the_deadline_is_not_begun() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=4), "ok")
    with pytest.raises(AllProvidersFailedError, match="deadline"):
        run("sync", [a], sleeper, retry=RetryPolicy(), deadline=3)
    assert sleeper.waits == []


class Ticking(FakeClock):
    """A fake clock one second later at each reading: a deadline of 1 s has no time left at
    the first look, so the event loop's timeout fires at once (no wall-clock wait)."""

    def __call__(self) -> float:
        return self.advance(1.0) - 1.0


def test_aexecute_cancels_an_attempt_still_running_at_the_deadline() -> None:
    async def slow(provider: str) -> str:
        await asyncio.Event().wait()  # never set: only the deadline ends it
        return "never"

    async def main() -> None:
        with pytest.raises(AllProvidersFailedError, match="deadline") as caught:
            await aexecute(["a", "b"], slow, deadline=1, clock=Ticking())
        assert [a.kind for a in caught.value.attempts] == [FailureKind.TIMEOUT]

    asyncio.run(main())


def test_a_hedged_aexecute_keeps_to_the_deadline_too() -> None:
    async def slow(provider: str) -> str:
        await asyncio.Event().wait()  # never set: only the deadline ends it
        return "never"

    async def main() -> None:
        with pytest.raises(AllProvidersFailedError, match="deadline") as caught:
            call = aexecute(["a", "b"], slow, deadline=1, clock=Ticking(), hedge_after=5)
            await asyncio.wait_for(call, 10)  # a bound: the deadline ends it at once
        assert [a.kind for a in caught.value.attempts] == [FailureKind.TIMEOUT]

    asyncio.run(main())


@pytest.mark.parametrize("value", [0, -1, float("inf"), "10", True])
def test_a_bad_deadline_is_a_value_error(value: Any) -> None:
    with pytest.raises(ValueError, match="deadline"):
        execute(["a"], lambda p: "ok", deadline=value)


# -- the retry budget --------------------------------------------------------------------


def test_the_budget_allows_min_retries_or_ratio_of_in_flight() -> None:
    budget = RetryBudget()
    for _ in range(10):
        budget.enter()
    assert [budget.try_retry() for _ in range(4)] == [True, True, True, False]
    for _ in range(10):
        budget.enter()  # 20 in flight: 20% is 4
    assert budget.try_retry() and not budget.try_retry()
    assert RetryBudget(ratio=0.5, min_retries=0).try_retry() is False


def fleet_down(n: int = 3) -> list[ScriptedProvider]:
    return [ScriptedProvider(f"s{i}", FakeAPIError(503)) for i in range(n)]


def test_100_concurrent_calls_on_a_failing_fleet_keep_retries_within_the_budget() -> None:
    budget = RetryBudget()  # the default: 20% of the calls in flight, at least 3
    fleet = fleet_down()
    counts = {"calls": 0, "retries": 0, "max_retries": 0, "retry_calls": 0}
    sleeper = Sleeper(FakeClock())

    async def one() -> BaseException | None:
        attempts = 0

        async def fn(provider: ScriptedProvider) -> Any:
            nonlocal attempts
            attempts += 1
            retry = attempts > 1
            if retry:
                counts["retries"] += 1
                counts["retry_calls"] += 1
                limit = max(3, 0.2 * counts["calls"])
                assert counts["retries"] <= limit
                counts["max_retries"] = max(counts["max_retries"], counts["retries"])
            try:
                await asyncio.sleep(0)
                return await provider.acall()
            finally:
                if retry:
                    counts["retries"] -= 1

        counts["calls"] += 1
        try:
            await aexecute(fleet, fn, retry=RetryPolicy(), budget=budget, asleep=sleeper.asleep)
        except AllProvidersFailedError as exc:
            return exc
        finally:
            counts["calls"] -= 1
        return None

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(one() for _ in range(100)))

    errors = asyncio.run(main())
    assert len(errors) == 100 and all(isinstance(e, AllProvidersFailedError) for e in errors)
    assert 0 < counts["max_retries"] <= 20
    assert counts["retry_calls"] < 100 * 2  # without the budget: 2 fallbacks each
    assert any("retry budget is spent" in str(e) for e in errors)
    assert (budget.in_flight, budget.retries_in_flight) == (0, 0)


def test_threads_on_a_failing_fleet_keep_retries_within_the_budget() -> None:
    budget = RetryBudget()
    fleet = fleet_down()
    lock = threading.Lock()
    counts = {"calls": 0, "retries": 0, "violations": 0}
    local = threading.local()
    errors: list[BaseException] = []

    def fn(provider: ScriptedProvider) -> Any:
        local.attempts += 1
        retry = local.attempts > 1
        with lock:
            if retry:
                counts["retries"] += 1
                if counts["retries"] > max(3, 0.2 * counts["calls"]):
                    counts["violations"] += 1
        try:
            return provider()
        finally:
            if retry:
                with lock:
                    counts["retries"] -= 1

    def one() -> None:
        local.attempts = 0
        with lock:
            counts["calls"] += 1
        try:
            execute(fleet, fn, retry=RetryPolicy(), budget=budget, sleep=lambda s: None)
        except AllProvidersFailedError as exc:
            errors.append(exc)
        finally:
            with lock:
                counts["calls"] -= 1

    threads = [threading.Thread(target=one) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(errors), counts["violations"]) == (100, 0)
    assert (budget.in_flight, budget.retries_in_flight) == (0, 0)


# -- streams -----------------------------------------------------------------------------


def test_execute_stream_retries_before_the_first_chunk() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(503), ["x", "y"])
    stream = execute_stream(
        [a], lambda p: p.stream(), retry=RetryPolicy(), clock=sleeper.clock, sleep=sleeper
    )
    assert (list(stream), stream.attempt_num, len(sleeper.waits)) == (["x", "y"], 2, 1)


def test_aexecute_stream_retries_before_the_first_chunk() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(503), ["x"])

    async def main() -> list[Any]:
        stream = await aexecute_stream(
            [a], lambda p: p.astream(), retry=RetryPolicy(), asleep=sleeper.asleep, deadline=5
        )
        return [chunk async for chunk in stream]

    assert asyncio.run(main()) == ["x"]
    assert len(sleeper.waits) == 1


# -- the selector ------------------------------------------------------------------------


def one_service_rule() -> Rule:
    return Rule.model_validate(
        {
            "uuid": "r",
            "services": [{"provider": "p", "model": "m"}],
            "lb_tactic": {"type": "random"},
        }
    )


def selector(clock: FakeClock, **kwargs: Any) -> ServiceSelector:
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=5), clock=clock)
    return ServiceSelector(
        [Provider(name="p")], health=health, clock=clock, rng=random.Random(1), **kwargs
    )


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_a_rule_with_one_service_is_retried_with_backoff() -> None:
    clock = FakeClock()
    sleeper = Sleeper(clock)
    a = ScriptedProvider("a", FakeAPIError(500), FakeAPIError(502), "ok")
    routed = selector(clock).execute(
        one_service_rule(), BODY, lambda s, p: a(), retry=RetryPolicy(), deadline=10, sleep=sleeper
    )
    assert (routed.response, routed.attempt_num, len(sleeper.waits)) == ("ok", 3, 2)


def test_a_rule_with_one_service_gives_retry_after_on_the_error() -> None:
    clock = FakeClock()
    a = ScriptedProvider("a", FakeAPIError(429, retry_after=45))
    with pytest.raises(AllProvidersFailedError) as caught:
        selector(clock).execute(
            one_service_rule(), BODY, lambda s, p: a(), retry=RetryPolicy(), sleep=Sleeper(clock)
        )
    assert caught.value.retry_after == 45 and a.calls == 1


def test_the_async_selector_form_retries_through_asleep() -> None:
    clock = FakeClock()
    sleeper = Sleeper(clock)
    a = ScriptedProvider("a", FakeAPIError(503), "ok")

    async def main() -> Any:
        return await selector(clock).aexecute(
            one_service_rule(),
            BODY,
            lambda s, p: a.acall(),
            retry=RetryPolicy(),
            asleep=sleeper.asleep,
        )

    assert asyncio.run(main()).attempt_num == 2
    assert len(sleeper.waits) == 1


def test_the_selector_holds_a_default_retry_budget() -> None:
    clock = FakeClock()
    assert isinstance(selector(clock).retry_budget, RetryBudget)
    assert selector(clock, retry_budget=False).retry_budget is None
    budget = RetryBudget(ratio=0.5, min_retries=1)
    assert selector(clock, retry_budget=budget).retry_budget is budget


def test_100_concurrent_selector_calls_keep_retries_within_its_budget() -> None:
    clock = FakeClock()
    rule = Rule.model_validate(
        {
            "uuid": "r",
            "services": [{"provider": "p", "model": f"m{i}"} for i in range(3)],
            "lb_tactic": {"type": "random"},
        }
    )
    chosen = selector(clock)
    counts = {"calls": 0, "retries": 0, "max": 0}

    async def one() -> BaseException | None:
        attempts = 0

        async def fn(service: Any, provider: Any) -> Any:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                counts["retries"] += 1
                assert counts["retries"] <= max(3, 0.2 * counts["calls"])
                counts["max"] = max(counts["max"], counts["retries"])
            try:
                await asyncio.sleep(0)
                raise FakeAPIError(503)
            finally:
                if attempts > 1:
                    counts["retries"] -= 1

        counts["calls"] += 1
        try:
            await chosen.aexecute(rule, BODY, fn)
        except AllProvidersFailedError as exc:
            return exc
        finally:
            counts["calls"] -= 1
        return None

    async def main() -> list[BaseException | None]:
        return await asyncio.gather(*(one() for _ in range(100)))

    errors = asyncio.run(main())
    assert all(isinstance(e, AllProvidersFailedError) for e in errors) and len(errors) == 100
    assert 0 < counts["max"] <= 20


# -- the policy as a value ---------------------------------------------------------------


def test_the_default_policy_retries_the_transient_kinds_only() -> None:
    policy = RetryPolicy()
    retried = {kind for kind in FailureKind if policy.attempts_for(kind) > 1}
    assert retried == {
        FailureKind.RATE_LIMIT,
        FailureKind.SERVER,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
    }


def test_policies_compose_by_copy() -> None:
    policy = RetryPolicy().with_attempts(server=5, auth=2).but(base=0.1)
    assert policy.attempts_for(FailureKind.SERVER) == 5
    assert policy.attempts_for(FailureKind.AUTH) == 2
    assert policy.base == 0.1 and RetryPolicy().base == 0.5
    assert RetryPolicy(attempts={"timeout": 4}).attempts_for(FailureKind.TIMEOUT) == 4


@pytest.mark.parametrize(
    "kwargs",
    [{"attempts": {"server": 0}}, {"base": -1}, {"max_retry_after": float("nan")}, {"target": "x"}],
)
def test_a_bad_policy_is_a_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_backoff_is_full_jitter_capped_by_max_backoff() -> None:
    policy = RetryPolicy(base=1.0, max_backoff=4.0)
    rng = random.Random(3)
    for retry in range(1, 10):
        for _ in range(50):
            assert 0 <= policy.backoff(retry, rng) < min(4.0, 2 ** (retry - 1))


def test_the_retry_decision_is_logged_with_its_wait(caplog: pytest.LogCaptureFixture) -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500), "ok")
    with caplog.at_level("INFO", logger="llmroute.execute"):
        run("sync", [a], sleeper, retry=RetryPolicy())
    record = next(r for r in caplog.records if getattr(r, "action", None) == "retry")
    assert record.wait_seconds == sleeper.waits[0]  # type: ignore[attr-defined]
    assert "retrying in" in record.getMessage()


# -- a call that ends early gives its budget back ----------------------------------------


def test_a_cancelled_wait_gives_the_budget_and_the_deadline_back() -> None:
    budget = RetryBudget()
    a = ScriptedProvider("a", FakeAPIError(503), "ok")

    async def cancelled(seconds: float) -> None:
        raise asyncio.CancelledError

    async def main() -> None:
        with pytest.raises(asyncio.CancelledError):
            await aexecute(
                [a], lambda p: p.acall(), retry=RetryPolicy(), budget=budget, asleep=cancelled
            )

    asyncio.run(main())
    assert (budget.in_flight, budget.retries_in_flight) == (0, 0)


def test_an_interrupted_sync_wait_gives_the_budget_back() -> None:
    budget = RetryBudget()
    a = ScriptedProvider("a", FakeAPIError(503), "ok")

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(
            [a], lambda p: p(), retry=RetryPolicy(), budget=budget, deadline=5, sleep=interrupted
        )
    assert (budget.in_flight, budget.retries_in_flight, time_left()) == (0, 0, None)


def test_a_fallback_on_that_raises_gives_the_budget_back() -> None:
    budget = RetryBudget()

    def fallback_on(error: BaseException) -> bool:
        raise RuntimeError("broken predicate")

    with pytest.raises(RuntimeError, match="broken predicate"):
        execute(
            [ScriptedProvider("a", FakeAPIError(503)), "b"],
            lambda p: p(),
            budget=budget,
            fallback_on=fallback_on,
        )
    assert (budget.in_flight, budget.retries_in_flight) == (0, 0)


@pytest.mark.parametrize("outcome", ["success", "failure", "caller_bug"])
def test_every_end_of_a_call_gives_the_budget_back(outcome: str) -> None:
    budget = RetryBudget()
    step: object = {"success": "ok", "failure": FakeAPIError(503), "caller_bug": TypeError("x")}[
        outcome
    ]
    a = ScriptedProvider("a", FakeAPIError(500), step)
    with contextlib.suppress(AllProvidersFailedError, TypeError):
        execute([a], lambda p: p(), retry=RetryPolicy(), budget=budget, sleep=lambda s: None)
    assert (budget.in_flight, budget.retries_in_flight) == (0, 0)


# -- the options -------------------------------------------------------------------------


def test_no_retry_argument_means_no_retry_options() -> None:
    assert ExecuteOptions.build().retrying is None


def test_a_policy_given_alone_reuses_its_options() -> None:
    policy = RetryPolicy()
    first = ExecuteOptions.build(retry=policy).retrying
    assert first is ExecuteOptions.build(retry=policy).retrying
    assert first is not None and first.retry is policy and not first.limited


def test_a_clock_or_sleeper_given_as_none_is_the_default_one() -> None:
    made = RetryOptions.of({"deadline": 5, "clock": None, "sleep": None, "asleep": None})
    assert (made.clock, made.sleep, made.asleep, made.limited) == (
        time.monotonic,
        time.sleep,
        asyncio.sleep,
        True,
    )


def test_an_unknown_retry_argument_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        execute(["a"], lambda p: "ok", retries=3)  # type: ignore[call-arg]


def test_retry_must_be_a_policy() -> None:
    with pytest.raises(TypeError, match="RetryPolicy"):
        execute(["a"], lambda p: "ok", retry=3)  # type: ignore[typeddict-item]


def test_round_robin_retries_go_on_with_the_rotation() -> None:
    from llmroute.execute import RoundRobinCounter

    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(503))
    b = ScriptedProvider("b", "from b")
    result = run(
        "sync",
        [a, b],
        sleeper,
        strategy="round_robin",
        counter=RoundRobinCounter(),
        retry=RetryPolicy(),
    )
    assert (result.provider, result.attempt_num, len(sleeper.waits)) == ("b", 2, 1)


def test_primary_only_retries_its_one_provider() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(503), "ok")
    result = run("sync", [a, "never"], sleeper, strategy="primary_only", retry=RetryPolicy())
    assert (result.provider, result.attempt_num) == ("a", 2)


def test_aexecute_stream_cuts_its_first_chunk_timeout_to_the_deadline() -> None:
    async def silent(provider: str) -> Any:
        await asyncio.Event().wait()
        yield "never"

    async def main() -> None:
        with pytest.raises(AllProvidersFailedError, match="deadline") as caught:
            await aexecute_stream(
                ["a", "b"], silent, deadline=1, first_chunk_timeout=60, clock=Ticking()
            )
        assert [a.kind for a in caught.value.attempts] == [FailureKind.TIMEOUT]

    asyncio.run(main())


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"deadline": 0.5}, "the deadline ran out"),
        ({"budget": "spent"}, "the retry budget is spent"),
    ],
)
def test_a_limit_that_stops_the_call_is_logged(
    kwargs: dict[str, Any], text: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    if kwargs.get("budget") == "spent":
        kwargs = {"budget": RetryBudget(ratio=0, min_retries=0)}

    def fn(provider: str) -> str:
        clock.advance(1)
        raise FakeAPIError(503)

    with caplog.at_level("INFO", logger="llmroute.execute"), pytest.raises(AllProvidersFailedError):
        execute(["a", "b"], fn, clock=clock, **kwargs)
    assert text in caplog.records[-1].getMessage()


def test_a_budget_given_alone_reuses_its_options() -> None:
    budget = RetryBudget()
    first = ExecuteOptions.build(budget=budget).retrying
    assert first is ExecuteOptions.build(budget=budget).retrying
    assert first is not None and first.budget is budget and first.limited


def test_a_retry_goes_to_a_service_whose_own_failure_is_retried() -> None:
    sleeper = Sleeper(FakeClock())
    a = ScriptedProvider("a", FakeAPIError(500), "from a")
    b = ScriptedProvider("b", FakeAPIError(401))  # the latest failure: auth, never retried
    result = run("sync", [a, b], sleeper, retry=RetryPolicy())
    assert (result.provider, result.attempt_num, b.calls) == ("a", 3, 1)
