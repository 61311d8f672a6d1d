"""HealthMonitor state machine (fake clock, no sleeps), probes, cooldown protocol, filter,
logging, and concurrency."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import Any

import openai
import pytest

from llmroute import (
    Failure,
    FailureKind,
    HealthConfig,
    HealthMonitor,
    Service,
    ServiceHealth,
    ServiceID,
)
from llmroute.health import HealthFilter, HealthStatus
from llmroute.testing import FakeClock
from llmroute.typing import CooldownTracker

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - machines with the original httpx
    import httpx  # type: ignore[no-redef]

SID = ServiceID("openai", "gpt-4o")
OTHER = ServiceID("anthropic", "claude")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def monitor(clock: FakeClock) -> HealthMonitor:
    return HealthMonitor(HealthConfig(), clock=clock)


def eject(monitor: HealthMonitor, sid: str = SID, errors: int = 3) -> None:
    for _ in range(errors):
        monitor.report_error(sid, 500)


def rate_limit_error(retry_after: str | None) -> openai.RateLimitError:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    return openai.RateLimitError(
        "Error code: 429", response=httpx.Response(429, headers=headers, request=request), body={}
    )


# -- consecutive errors --------------------------------------------------------------------


def test_unknown_service_is_healthy(monitor: HealthMonitor) -> None:
    assert monitor.is_healthy(SID)
    assert monitor.get_health(SID) == ServiceHealth(service_id=str(SID))


@pytest.mark.parametrize(("errors", "healthy"), [(1, True), (2, True), (3, False), (4, False)])
def test_threshold_three_ejects_on_the_third_error(
    monitor: HealthMonitor, errors: int, healthy: bool
) -> None:
    eject(monitor, errors=errors)
    assert monitor.is_healthy(SID) is healthy
    assert monitor.get_health(SID).consecutive_errors == errors


def test_success_resets_the_consecutive_error_count(monitor: HealthMonitor) -> None:
    eject(monitor, errors=2)
    monitor.report_success(SID)
    eject(monitor, errors=2)
    assert monitor.is_healthy(SID)
    assert monitor.get_health(SID).consecutive_errors == 2


def test_success_without_a_record_creates_none(monitor: HealthMonitor) -> None:
    monitor.report_success(SID)
    assert monitor.get_all_health() == {}


def test_ejected_service_recovers_after_the_recovery_timeout(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    eject(monitor)
    clock.advance(59.999)
    assert not monitor.is_healthy(SID)
    clock.advance(0.001)
    assert monitor.is_healthy(SID)
    assert monitor.get_health(SID).consecutive_errors == 0


def test_success_ends_an_ejection_early(monitor: HealthMonitor) -> None:
    eject(monitor)
    monitor.report_success(SID)
    assert monitor.is_healthy(SID)


def test_errors_while_ejected_do_not_stack_ejections(monitor: HealthMonitor) -> None:
    eject(monitor, errors=10)
    health = monitor.get_health(SID)
    assert (health.ejections, health.consecutive_errors, health.error_count) == (1, 10, 10)
    assert monitor.cooldown_remaining(SID) == 60.0


def test_service_id_and_its_string_share_one_record(monitor: HealthMonitor) -> None:
    monitor.report_error(SID, 500)
    monitor.report_error("openai:gpt-4o", 500)
    monitor.report_error(ServiceID.parse("openai:gpt-4o"), 500)
    assert not monitor.is_healthy("openai:gpt-4o")
    assert list(monitor.get_all_health()) == ["openai:gpt-4o"]


def test_not_found_counts_against_health(monitor: HealthMonitor) -> None:
    eject(monitor, errors=0)
    for _ in range(3):
        monitor.report_error(SID, 404)
    assert not monitor.is_healthy(SID)


# -- request-scoped failures ---------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        400,
        422,
        Failure(FailureKind.CONTEXT_LENGTH),
        Failure(FailureKind.CONTENT_POLICY),
        asyncio.CancelledError(),
        KeyboardInterrupt(),
        openai.BadRequestError(
            "maximum context length is 8192 tokens",
            response=httpx.Response(400, request=httpx.Request("POST", "https://x")),
            body={"code": "context_length_exceeded"},
        ),
    ],
    ids=lambda value: type(value).__name__,
)
def test_request_scoped_failures_leave_the_service_healthy(
    monitor: HealthMonitor, error: object
) -> None:
    for _ in range(5):
        assert monitor.report_error(SID, error).counts_against_health is False
    assert monitor.is_healthy(SID)
    assert monitor.get_all_health() == {}


def test_request_scoped_failure_does_not_reset_the_count(monitor: HealthMonitor) -> None:
    eject(monitor, errors=2)
    monitor.report_error(SID, 400)
    monitor.report_error(SID, 500)
    assert not monitor.is_healthy(SID)


def test_report_error_returns_the_classification(monitor: HealthMonitor) -> None:
    failure = monitor.report_error(SID, 503)
    assert (failure.kind, failure.status_code) == (FailureKind.SERVER, 503)


# -- rate limits ---------------------------------------------------------------------------


def test_429_ejects_at_once_and_resets_the_count(monitor: HealthMonitor) -> None:
    eject(monitor, errors=2)
    monitor.report_error(SID, 429)
    health = monitor.get_health(SID)
    assert not monitor.is_healthy(SID)
    assert (health.consecutive_errors, health.rate_limited) == (0, True)


def test_retry_after_seven_seconds_heals_at_seven_not_before(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    monitor.report_error(SID, rate_limit_error("7"))
    clock.advance(6.999)
    assert not monitor.is_healthy(SID)
    clock.advance(0.001)
    assert monitor.is_healthy(SID)


@pytest.mark.parametrize(
    ("retry_after", "window"), [(0.0, 1.0), (0.2, 1.0), (7, 7.0), (599.0, 599.0), (1e6, 600.0)]
)
def test_rate_limit_window_is_clamped_to_one_second_and_the_maximum(
    monitor: HealthMonitor, retry_after: float, window: float
) -> None:
    monitor.report_rate_limit(SID, retry_after)
    assert monitor.cooldown_remaining(SID) == window


def test_rate_limit_without_retry_after_uses_the_recovery_timeout(
    monitor: HealthMonitor,
) -> None:
    monitor.report_rate_limit(SID)
    assert monitor.cooldown_remaining(SID) == 60.0


def test_success_during_a_rate_limit_window_keeps_it_unhealthy(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    monitor.report_rate_limit(SID, 10)
    monitor.report_success(SID)
    assert not monitor.is_healthy(SID)
    clock.advance(10)
    assert monitor.is_healthy(SID)


def test_success_during_rate_limit_shortens_a_longer_error_ejection(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    eject(monitor)  # 60 s
    monitor.report_rate_limit(SID, 5)
    monitor.report_success(SID)
    assert monitor.cooldown_remaining(SID) == 5.0


def test_a_later_rate_limit_extends_a_running_window(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    monitor.report_rate_limit(SID, 5)
    clock.advance(3)
    monitor.report_rate_limit(SID, 5)
    assert monitor.cooldown_remaining(SID) == 5.0
    assert monitor.get_health(SID).ejections == 1


@pytest.mark.parametrize(("value", "error"), [(-1, ValueError), (float("nan"), ValueError)])
def test_report_rate_limit_rejects_bad_retry_after(
    monitor: HealthMonitor, value: float, error: type
) -> None:
    with pytest.raises(error, match="retry_after"):
        monitor.report_rate_limit(SID, value)


@pytest.mark.parametrize("value", ["7", True])
def test_report_rate_limit_rejects_non_numbers(monitor: HealthMonitor, value: Any) -> None:
    with pytest.raises(TypeError, match="retry_after"):
        monitor.report_rate_limit(SID, value)


# -- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_error_ejects_at_once_with_the_auth_flag(monitor: HealthMonitor, status: int) -> None:
    monitor.report_error(SID, status)
    health = monitor.get_health(SID)
    assert not monitor.is_healthy(SID)
    assert health.auth_error
    assert health.last_error is not None and health.last_error.status_code == status


def test_auth_error_recovers_on_success(monitor: HealthMonitor) -> None:
    monitor.report_auth_error(SID, 401)
    monitor.report_success(SID)
    assert monitor.is_healthy(SID)
    assert not monitor.get_health(SID).auth_error


def test_auth_error_recovers_after_the_recovery_timeout(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    monitor.report_auth_error(SID)
    clock.advance(60)
    assert monitor.is_healthy(SID)


def test_report_auth_error_rejects_a_non_int_status(monitor: HealthMonitor) -> None:
    with pytest.raises(TypeError, match="status_code"):
        monitor.report_auth_error(SID, "401")  # type: ignore[arg-type]


# -- growing ejection ----------------------------------------------------------------------


def test_each_ejection_without_a_success_doubles_up_to_the_maximum(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    for expected in (60.0, 120.0, 240.0, 480.0, 600.0, 600.0):
        eject(monitor)
        assert monitor.cooldown_remaining(SID) == expected
        clock.advance(expected - 0.5)
        assert not monitor.is_healthy(SID)
        clock.advance(0.5)
        assert monitor.is_healthy(SID)


def test_a_success_resets_the_growth(monitor: HealthMonitor, clock: FakeClock) -> None:
    for seconds in (60, 120):
        eject(monitor)
        clock.advance(seconds)
        assert monitor.is_healthy(SID)
    monitor.report_success(SID)
    eject(monitor)
    assert monitor.cooldown_remaining(SID) == 60.0
    assert monitor.get_health(SID).ejections == 1


def test_growth_follows_the_configured_base_and_maximum(clock: FakeClock) -> None:
    config = HealthConfig(
        consecutive_error_threshold=1, recovery_timeout_seconds=10, max_recovery_timeout_seconds=25
    )
    monitor = HealthMonitor(config, clock=clock)
    seen = []
    for _ in range(4):
        monitor.report_error(SID, 500)
        seen.append(monitor.cooldown_remaining(SID))
        clock.advance(seen[-1])
        monitor.is_healthy(SID)
    assert seen == [10.0, 20.0, 25.0, 25.0]


def test_rate_limits_count_as_ejections_for_growth(
    monitor: HealthMonitor, clock: FakeClock
) -> None:
    monitor.report_rate_limit(SID)
    clock.advance(60)
    assert monitor.is_healthy(SID)
    monitor.report_rate_limit(SID)
    assert monitor.cooldown_remaining(SID) == 120.0


# -- probes --------------------------------------------------------------------------------


class ScriptedProbe:
    def __init__(self, *results: bool | BaseException) -> None:
        self.results = list(results)
        self.calls: list[str] = []

    def __call__(self, service_id: str) -> bool:
        self.calls.append(service_id)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result


def probed(clock: FakeClock, probe: ScriptedProbe) -> HealthMonitor:
    return HealthMonitor(clock=clock, probe=probe)


def test_probe_is_not_run_before_the_recovery_time(clock: FakeClock) -> None:
    probe = ScriptedProbe(True)
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(59)
    assert not monitor.is_healthy(SID)
    assert probe.calls == []


def answered(monitor: HealthMonitor) -> bool:
    """Ask whether SID is healthy (which starts a due probe), wait for the probe, ask again."""
    first = monitor.is_healthy(SID)
    monitor.join_probes(timeout=10)
    return first or monitor.is_healthy(SID)


def test_a_due_probe_runs_off_the_read_and_the_service_reads_unhealthy_meanwhile(
    clock: FakeClock,
) -> None:
    probe = ScriptedProbe(True)
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert not monitor.is_healthy(SID)  # the read starts the probe and does not wait for it
    monitor.join_probes(timeout=10)
    assert probe.calls == [SID]


def test_successful_probe_recovers_the_service(clock: FakeClock) -> None:
    probe = ScriptedProbe(True)
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert answered(monitor)
    assert probe.calls == [SID]


def test_failing_probe_keeps_it_unhealthy_and_rearms(clock: FakeClock) -> None:
    probe = ScriptedProbe(False, True)
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert not answered(monitor)
    assert monitor.cooldown_remaining(SID) == 120.0
    clock.advance(119)
    assert not answered(monitor)
    assert len(probe.calls) == 1
    clock.advance(1)
    assert answered(monitor)
    assert len(probe.calls) == 2


def test_probe_that_raises_is_a_failed_probe_and_records_the_error(clock: FakeClock) -> None:
    probe = ScriptedProbe(ConnectionRefusedError("refused"))
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert not answered(monitor)
    last = monitor.get_health(SID).last_error
    assert last is not None and last.kind is FailureKind.CONNECTION


def test_probe_interrupted_by_keyboard_interrupt_stays_due(clock: FakeClock) -> None:
    probe = ScriptedProbe(KeyboardInterrupt(), True)
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert not monitor.is_healthy(SID)
    monitor.join_probes(timeout=10)
    assert monitor.get_health(SID).status is HealthStatus.UNHEALTHY  # no answer: still due
    assert answered(monitor)


def test_real_traffic_failing_while_a_probe_is_due_rearms(clock: FakeClock) -> None:
    probe = ScriptedProbe()
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert monitor.record_failure(SID, 500) is True
    assert monitor.cooldown_remaining(SID) == 120.0


def test_probe_is_not_run_when_config_disables_it(clock: FakeClock) -> None:
    probe = ScriptedProbe(False)
    monitor = HealthMonitor(HealthConfig(probe_enabled=False), clock=clock, probe=probe)
    eject(monitor)
    clock.advance(60)
    assert monitor.is_healthy(SID)
    assert probe.calls == []


def test_probe_enabled_without_a_probe_is_rejected() -> None:
    with pytest.raises(ValueError, match="probe"):
        HealthMonitor(HealthConfig(probe_enabled=True))


def test_get_health_never_runs_the_probe(clock: FakeClock) -> None:
    probe = ScriptedProbe()
    monitor = probed(clock, probe)
    eject(monitor)
    clock.advance(60)
    assert monitor.get_health(SID).status is HealthStatus.UNHEALTHY
    assert probe.calls == []


# -- snapshots, reset, remove, config ------------------------------------------------------


def test_snapshot_fields_after_an_ejection(monitor: HealthMonitor, clock: FakeClock) -> None:
    start = clock()
    eject(monitor)
    health = monitor.get_health(SID)
    assert health.status is HealthStatus.UNHEALTHY and not health.healthy
    assert health.unhealthy_until == start + 60
    assert health.last_error_time == start
    assert (health.ejections, health.total_ejections, health.error_count) == (1, 1, 3)


def test_get_all_health_lists_every_recorded_service(monitor: HealthMonitor) -> None:
    monitor.report_error(SID, 500)
    monitor.report_error(OTHER, 500)
    assert set(monitor.get_all_health()) == {SID, OTHER}


def test_reset_health_makes_it_healthy_with_zero_counts(monitor: HealthMonitor) -> None:
    eject(monitor)
    monitor.reset_health(SID)
    assert monitor.is_healthy(SID)
    assert monitor.get_health(SID) == ServiceHealth(service_id=str(SID))


def test_remove_health_forgets_the_service(monitor: HealthMonitor) -> None:
    eject(monitor)
    monitor.remove_health(SID)
    assert monitor.is_healthy(SID)
    assert monitor.get_all_health() == {}
    assert not monitor.any_unhealthy()


def test_update_config_applies_the_new_threshold(monitor: HealthMonitor) -> None:
    monitor.update_config(HealthConfig(consecutive_error_threshold=1))
    monitor.report_error(SID, 500)
    assert not monitor.is_healthy(SID)


def test_update_config_rejects_other_types(monitor: HealthMonitor) -> None:
    with pytest.raises(TypeError, match="HealthConfig"):
        monitor.update_config({"consecutive_error_threshold": 1})  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", 42, None])
def test_reporting_needs_a_non_empty_string_id(monitor: HealthMonitor, bad: Any) -> None:
    with pytest.raises(ValueError, match="service id"):
        monitor.report_error(bad, 500)


def test_any_unhealthy_tracks_ejections(monitor: HealthMonitor) -> None:
    assert not monitor.any_unhealthy()
    eject(monitor)
    assert monitor.any_unhealthy()
    monitor.report_success(SID)
    assert not monitor.any_unhealthy()


def test_healthy_check_does_not_read_the_clock() -> None:
    reads = []

    def counting_clock() -> float:
        reads.append(1)
        return 0.0

    monitor = HealthMonitor(clock=counting_clock)
    monitor.report_error(SID, 500)
    reads.clear()
    for _ in range(100):
        assert monitor.is_healthy(SID)
        assert monitor.is_healthy(OTHER)
    assert reads == []


# -- the CooldownTracker protocol ----------------------------------------------------------


def test_monitor_satisfies_the_cooldown_tracker_protocol(monitor: HealthMonitor) -> None:
    assert isinstance(monitor, CooldownTracker)


def test_monitor_satisfies_the_load_balancers_health_view(monitor: HealthMonitor) -> None:
    tactics = pytest.importorskip("llmroute.tactics")
    assert isinstance(monitor, tactics.HealthView)


def test_record_failure_is_true_only_for_the_failure_that_ejects(
    monitor: HealthMonitor,
) -> None:
    results = [monitor.record_failure("primary", 500) for _ in range(4)]
    assert results == [False, False, True, False]


@pytest.mark.parametrize(("error", "ejects"), [(429, True), (401, True), (400, False)])
def test_record_failure_on_a_healthy_service(
    monitor: HealthMonitor, error: int, ejects: bool
) -> None:
    assert monitor.record_failure("primary", error) is ejects
    assert monitor.is_available("primary") is not ejects


def test_cooldown_remaining_counts_down(monitor: HealthMonitor, clock: FakeClock) -> None:
    assert monitor.cooldown_remaining("primary") == 0.0
    monitor.record_failure("primary", 429)
    clock.advance(25)
    assert monitor.cooldown_remaining("primary") == 35.0
    clock.advance(40)
    assert monitor.cooldown_remaining("primary") == 0.0


# -- HealthFilter --------------------------------------------------------------------------


def test_filter_keeps_healthy_services_in_order(monitor: HealthMonitor) -> None:
    eject(monitor, "b:m")
    assert HealthFilter(monitor).filter(["a:m", "b:m", "c:m"]) == ["a:m", "c:m"]


def test_filter_accepts_service_objects(monitor: HealthMonitor) -> None:
    services = [Service(provider="a", model="m"), Service(provider="b", model="m")]
    eject(monitor, "a:m")
    assert HealthFilter(monitor).filter(services) == [services[1]]


def test_filter_with_fallback_returns_all_when_none_is_healthy(monitor: HealthMonitor) -> None:
    for sid in ("a:m", "b:m"):
        eject(monitor, sid)
    health_filter = HealthFilter(monitor)
    assert health_filter.filter(["a:m", "b:m"]) == []
    assert health_filter.filter_with_fallback(["a:m", "b:m"]) == ["a:m", "b:m"]


def test_filter_with_fallback_returns_the_healthy_ones_when_some_are(
    monitor: HealthMonitor,
) -> None:
    eject(monitor, "a:m")
    assert HealthFilter(monitor).filter_with_fallback(iter(["a:m", "b:m"])) == ["b:m"]


def test_filter_rejects_items_without_an_id(monitor: HealthMonitor) -> None:
    with pytest.raises(TypeError, match="service_id"):
        HealthFilter(monitor).filter([42])


# -- logging -------------------------------------------------------------------------------


def test_transitions_are_logged_with_structured_fields(
    monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="llmroute.health")
    eject(monitor)
    monitor.report_success(SID)
    ejected, recovered = caplog.records
    assert (ejected.levelno, ejected.event, ejected.service_id) == (logging.WARNING, "ejected", SID)  # type: ignore[attr-defined]
    assert ejected.recovery_seconds == 60.0  # type: ignore[attr-defined]
    assert (recovered.event, recovered.reason) == ("recovered", "success")  # type: ignore[attr-defined]


def test_logs_never_carry_the_api_key(
    monitor: HealthMonitor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="llmroute.health")
    secret = "sk-proj-THISISASECRETKEY123456"
    error = openai.AuthenticationError(
        f"Incorrect API key provided: {secret}",
        response=httpx.Response(401, request=httpx.Request("POST", "https://x")),
        body={"code": "invalid_api_key"},
    )
    monitor.report_error(SID, error)
    assert caplog.records
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in repr(vars(record))
    assert secret not in repr(monitor.get_health(SID))


# -- concurrency ---------------------------------------------------------------------------


def test_sixteen_threads_reporting_and_reading_end_consistent() -> None:
    clock = FakeClock()
    monitor = HealthMonitor(HealthConfig(consecutive_error_threshold=3), clock=clock)
    services = [f"p:m{i}" for i in range(4)]
    for sid in services:  # give every service a record, so successes are counted too
        monitor.report_error(sid, 500)
    threads_n, rounds = 16, 10_000
    errors = [0] * threads_n
    successes = [0] * threads_n
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads_n)

    def worker(index: int) -> None:
        rng = random.Random(index)
        try:
            barrier.wait()
            for _ in range(rounds):
                sid = services[rng.randrange(len(services))]
                action = rng.random()
                if action < 0.35:
                    monitor.report_error(sid, 503)
                    errors[index] += 1
                elif action < 0.40:
                    monitor.report_error(sid, 429)
                    errors[index] += 1
                elif action < 0.70:
                    monitor.report_success(sid)
                    successes[index] += 1
                elif action < 0.71:
                    clock.advance(1.0)
                else:
                    monitor.is_healthy(sid)
                    monitor.cooldown_remaining(sid)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    snapshots = monitor.get_all_health()
    assert sum(s.error_count for s in snapshots.values()) == sum(errors) + len(services)
    assert sum(s.success_count for s in snapshots.values()) == sum(successes)
    for snapshot in snapshots.values():
        assert (snapshot.unhealthy_until is None) is snapshot.healthy
        assert 0 <= snapshot.ejections <= snapshot.total_ejections
        assert snapshot.consecutive_errors <= snapshot.error_count
    assert monitor.any_unhealthy() is any(
        monitor.get_health(sid).status is not HealthStatus.HEALTHY for sid in services
    )


class BlockingProbe:
    """A probe that holds until released, recording how many run at once."""

    def __init__(self, result: bool = True) -> None:
        self.result = result
        self.entered = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.calls = 0

    def __call__(self, service_id: str) -> bool:
        with self.lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.entered.set()
        assert self.release.wait(timeout=10)
        with self.lock:
            self.active -= 1
        return self.result


def test_only_one_probe_runs_and_no_reader_waits_for_it(clock: FakeClock) -> None:
    probe = BlockingProbe(result=True)
    monitor = HealthMonitor(clock=clock, probe=probe)
    eject(monitor)
    clock.advance(60)
    threads_n = 16
    barrier = threading.Barrier(threads_n)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        healthy = monitor.is_healthy(SID)
        with lock:
            results.append(healthy)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)  # every reader returns while the probe still blocks
    assert results == [False] * threads_n
    assert probe.entered.wait(timeout=10)
    assert monitor.get_health(SID).status is HealthStatus.PROBING
    probe.release.set()
    monitor.join_probes(timeout=10)
    assert (probe.calls, probe.max_active) == (1, 1)
    assert monitor.is_healthy(SID)


def test_no_global_lock_is_held_while_a_probe_runs(clock: FakeClock) -> None:
    probe = BlockingProbe(result=False)
    monitor = HealthMonitor(clock=clock, probe=probe)
    eject(monitor)
    clock.advance(60)
    assert not monitor.is_healthy(SID)  # starts the probe
    assert probe.entered.wait(timeout=10)

    def meanwhile() -> None:
        monitor.report_error(OTHER, 500)
        monitor.is_healthy(OTHER)
        monitor.get_all_health()
        monitor.report_success(SID)  # a real success lands while the probe runs

    other = threading.Thread(target=meanwhile)
    other.start()
    other.join(timeout=10)
    assert not other.is_alive()
    probe.release.set()
    monitor.join_probes(timeout=10)
    # the success moved the state on, so the stale failed probe is ignored
    assert monitor.is_healthy(SID)


def test_at_most_one_probe_per_service_under_contention() -> None:
    clock = FakeClock()
    services = ["p:a", "p:b"]
    lock = threading.Lock()
    active = dict.fromkeys(services, 0)
    peak = dict.fromkeys(services, 0)
    rng_lock = threading.Lock()
    rng = random.Random(7)

    def probe(service_id: str) -> bool:
        with lock:
            active[service_id] += 1
            peak[service_id] = max(peak[service_id], active[service_id])
        with rng_lock:
            ok = rng.random() < 0.5
        with lock:
            active[service_id] -= 1
        return ok

    config = HealthConfig(consecutive_error_threshold=1, probe_enabled=True)
    monitor = HealthMonitor(config, clock=clock, probe=probe)
    barrier = threading.Barrier(16)
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        local = random.Random(index)
        try:
            barrier.wait()
            for _ in range(2_000):
                sid = services[local.randrange(2)]
                roll = local.random()
                if roll < 0.2:
                    monitor.report_error(sid, 500)
                elif roll < 0.25:
                    clock.advance(700)
                else:
                    monitor.is_healthy(sid)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert all(value == 1 for value in peak.values()), peak
