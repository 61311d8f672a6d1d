"""The probe pin (issue 15): with ``probe_header`` set on the selector, a request naming a
candidate ``provider:model`` in that header is routed there alone, bypassing smart routing,
affinity and balancing and writing no pin; a non-candidate is ignored with one warning."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from llmroute import (
    AllProvidersFailedError,
    HealthConfig,
    HealthMonitor,
    Provider,
    Rule,
    Service,
    ServiceSelector,
)
from llmroute.testing import FakeAPIError, FakeClock, capture_logs

A = Service(provider="p", model="a", weight=1000)
B = Service(provider="p", model="b", weight=1)
VISION = Service(provider="q", model="vision")
OFF = Service(provider="p", model="off", active=False)
HEADER = "X-Probe-Service"

RULE = Rule.model_validate(
    {
        "uuid": "r",
        "services": [A.model_dump(), B.model_dump(), OFF.model_dump()],
        "session_affinity": 3600,
        "smart_enabled": True,
        "smart_routing": [
            {
                "description": "long prompts",
                "ops": [{"position": "token", "operation": "ge", "value": "1"}],
                "services": [VISION.model_dump()],
            }
        ],
        "lb_tactic": {"type": "round_robin", "params": {"request_threshold": 1}},
    }
)


def chat(user: str = "alice") -> dict[str, Any]:
    return {"model": "x", "user": user, "messages": [{"role": "user", "content": "hello"}]}


def selector(probe_header: str | None = HEADER) -> ServiceSelector:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    return ServiceSelector(
        [Provider(name="p"), Provider(name="q")],
        health=health,
        clock=clock,
        rng=random.Random(2),
        probe_header=probe_header,
    )


@pytest.mark.parametrize("name", ["p:b", "q:vision"])
def test_the_probe_header_routes_to_the_named_candidate(name: str) -> None:
    result = selector().select(RULE, chat(), headers={HEADER: name})
    assert result.service_id == name and result.source == "probe_header"
    assert result.fallbacks == () and result.pin_key is None
    assert result.evaluated_stages == ("health", "probe_header")
    text = result.explain()
    assert "(by probe_header)" in text
    assert f"probe_header: names {name} (healthy); smart routing, affinity and balancing" in text


@pytest.mark.parametrize("spelling", ["x-probe-service", "X-PROBE-SERVICE"])
def test_the_header_is_found_in_any_letter_case_and_as_pairs(spelling: str) -> None:
    chooser = selector()
    assert chooser.select(RULE, chat(), headers={spelling: " p:b "}).service == B
    assert chooser.select(RULE, chat(), headers=[(spelling.encode(), b"p:b")]).service == B  # type: ignore[arg-type]


def test_without_probe_header_on_the_selector_the_header_means_nothing() -> None:
    chooser = selector(probe_header=None)
    with capture_logs("llmroute") as logs:
        result = chooser.select(RULE, chat(), headers={HEADER: "p:b"})
    assert result.source != "probe_header" and "probe_header" not in result.explain()
    assert logs == []


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("p:nope", "not a candidate of the rule"),
        ("p:off", "not a candidate of the rule"),  # inactive
        ("openai:gpt-4o", "not a candidate of the rule"),
        ("gpt-4o", "not 'provider:model'"),
    ],
)
def test_a_non_candidate_is_ignored_with_one_warning_and_routed_as_usual(
    value: str, why: str
) -> None:
    chooser = selector()
    plain = chooser.select(RULE, chat("bob"))
    with capture_logs("llmroute") as logs:
        result = chooser.select(RULE, chat("bob"), headers={HEADER: value})
    assert result.service == plain.service and result.source == plain.source
    assert len(logs) == 1
    record = logs[0]
    assert record["levelname"] == "WARNING" and why in record["message"]
    assert record["event"] == "probe_header_ignored" and record["rule"] == "r"
    assert f"probe_header: X-Probe-Service: {value!r} ignored: {why}" in result.explain()


def test_an_ignored_value_shows_no_secret_and_at_most_80_characters() -> None:
    chooser = selector()
    secret = "sk-" + "a1B2" * 12
    with capture_logs("llmroute") as logs:
        result = chooser.select(RULE, chat(), headers={HEADER: f"{secret} " + "x" * 200})
    message = logs[0]["message"]
    assert secret not in message and secret not in result.explain()
    assert "x" * 81 not in message


def test_a_probed_request_writes_no_pin_and_leaves_the_rotation_alone() -> None:
    chooser = selector()
    body = chat("carol")
    first = chooser.execute(RULE, body, lambda s, p: "ok").service
    assert chooser.affinity.counts() == {first.service_id: 1}
    turn = chooser.state.tactics.peek_turn("r")
    probed = chooser.execute(RULE, chat("dave"), lambda s, p: "ok", headers={HEADER: "p:b"})
    assert probed.service == B
    assert chooser.affinity.counts() == {first.service_id: 1}  # dave was not pinned
    assert chooser.state.tactics.peek_turn("r") == turn
    pinned = chooser.select(RULE, body, headers={HEADER: "p:b"})
    assert pinned.service == B  # the probe beats carol's pin
    assert chooser.select(RULE, body).service == first  # and her pin is still there


def test_a_probed_service_that_is_unhealthy_is_called_and_its_failure_counts() -> None:
    chooser = selector()
    assert chooser.health is not None
    chooser.health.report_error("p:b", 500)
    calls: list[str] = []

    def call(service: Service, provider: Any) -> str:
        calls.append(service.model)
        raise FakeAPIError(503)

    result = chooser.select(RULE, chat(), headers={HEADER: "p:b"})
    assert "names p:b (unhealthy, routed to anyway)" in result.explain()
    with pytest.raises(AllProvidersFailedError):
        chooser.execute(RULE, chat(), call, headers={HEADER: "p:b"})
    assert calls == ["b"]  # no fallback: the operator sees that service's own answer
    assert not chooser.health.get_health("p:b").healthy


def test_the_async_forms_honour_the_probe_header() -> None:
    chooser = selector()

    async def call(service: Service, provider: Any) -> str:
        return service.model

    async def run() -> tuple[str, str]:
        selected = await chooser.aselect(RULE, chat(), headers={HEADER: "q:vision"})
        routed = await chooser.aexecute(RULE, chat(), call, headers={HEADER: "p:b"})
        return selected.service.model, routed.response

    assert asyncio.run(run()) == ("vision", "b")


@pytest.mark.parametrize("name", ["", "  ", "X:Probe", 7])
def test_a_bad_probe_header_name_is_refused_at_construction(name: Any) -> None:
    with pytest.raises(ValueError, match="probe_header"):
        ServiceSelector(probe_header=name)


def test_every_execute_form_warns_once_for_a_non_candidate_even_when_it_fails_over() -> None:
    chooser = selector()
    plain = RULE.model_copy(update={"smart_enabled": False})  # a fallback to fail over to
    served: list[str] = []

    def call(service: Service, provider: Any) -> str:
        served.append(service.model)
        if len(served) == 1:
            raise FakeAPIError(503)
        return service.model

    def stream(service: Service, provider: Any) -> Any:
        yield service.model

    async def astream(service: Service, provider: Any) -> Any:
        yield service.model

    async def run() -> list[str]:
        routed = await chooser.aexecute(plain, chat("f"), lambda s, p: _async(s.model), headers=bad)
        streamed = await chooser.aexecute_stream(plain, chat("g"), astream, headers=bad)
        return [routed.response, *[chunk async for chunk in streamed]]

    bad = {HEADER: "p:nope"}
    for form in ("execute", "execute_stream", "async"):
        with capture_logs("llmroute") as logs:
            if form == "execute":
                chooser.execute(plain, chat("e"), call, headers=bad)
                assert len(served) == 2  # it failed over, and still warned once
            elif form == "execute_stream":
                assert list(chooser.execute_stream(plain, chat("h"), stream, headers=bad))
            else:
                asyncio.run(run())
        ignored = [r for r in logs if r.get("event") == "probe_header_ignored"]
        assert len(ignored) == (2 if form == "async" else 1), form


async def _async(value: str) -> str:
    return value


def test_the_stream_forms_route_a_probe_alone_and_write_no_pin() -> None:
    chooser = selector()

    def stream(service: Service, provider: Any) -> Any:
        yield service.model

    async def astream(service: Service, provider: Any) -> Any:
        yield service.model

    async def run() -> list[str]:
        streamed = await chooser.aexecute_stream(
            RULE, chat("j"), astream, headers={HEADER: "q:vision"}
        )
        return [chunk async for chunk in streamed]

    turn = chooser.state.tactics.peek_turn("r")
    assert list(chooser.execute_stream(RULE, chat("i"), stream, headers={HEADER: "p:b"})) == ["b"]
    assert asyncio.run(run()) == ["vision"]
    assert chooser.affinity.counts() == {}
    assert chooser.state.tactics.peek_turn("r") == turn
