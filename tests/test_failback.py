"""Sessions come back: a pin on a fallback (or a weight-0 service) returns to the service the
rule would choose once that one has been healthy for the promotion hold."""

from __future__ import annotations

import random
from typing import Any

from llmroute import HealthConfig, HealthMonitor, Rule, Service, ServiceSelector
from llmroute.testing import FakeAPIError, FakeClock

PRIMARY = Service(provider="p", model="primary", weight=10)
BACKUP = Service(provider="p", model="backup", weight=0)


def chat(user: str) -> dict[str, Any]:
    return {"model": "x", "user": user, "messages": [{"role": "user", "content": "hi"}]}


def setup(*services: Service) -> tuple[ServiceSelector, HealthMonitor, FakeClock, Rule]:
    clock = FakeClock()
    health = HealthMonitor(HealthConfig(consecutive_error_threshold=1), clock=clock)
    selector = ServiceSelector(health=health, clock=clock, rng=random.Random(3))
    rule = Rule(uuid="r", services=services, session_affinity=3600)
    return selector, health, clock, rule


def test_a_session_on_a_weight_zero_backup_returns_after_the_promotion_hold() -> None:
    selector, health, clock, rule = setup(PRIMARY, BACKUP)
    health.report_error("p:primary", 500)  # the primary is out for 60 s
    outage = selector.select(rule, chat("alice"))
    assert outage.service == BACKUP
    selector.record(outage, input_tokens=1)  # the backup served: the session is pinned there
    clock.advance(60 + 59)  # the primary is back since 59 s
    assert selector.select(rule, chat("alice")).service == BACKUP
    clock.advance(1)  # healthy for the whole hold
    back = selector.select(rule, chat("alice"))
    assert back.service == PRIMARY
    assert "moved back to p:primary (healthy for 60s)" in back.explain()
    selector.record(back, input_tokens=1)
    assert selector.select(rule, chat("alice")).source == "affinity"


def test_a_session_moved_to_a_fallback_returns_to_its_choice_after_the_hold() -> None:
    a, b = Service(provider="p", model="a", weight=10), Service(provider="p", model="b")
    selector, _, clock, rule = setup(a, b)
    user = next(
        u for u in (f"user-{i}" for i in range(100)) if selector.select(rule, chat(u)).service == a
    )

    def fail_on_a(service: Service, provider: Any) -> str:
        if service == a:
            raise FakeAPIError(503)
        return "ok"

    moved = selector.execute(rule, chat(user), fail_on_a)
    assert moved.service == b  # a failed (and was ejected): the pin moved to the fallback
    assert selector.select(rule, chat(user)).service == b
    clock.advance(60 + 60)
    back = selector.select(rule, chat(user))
    assert back.service == a and "moved back to p:a" in back.explain()


def test_a_pin_the_rule_would_choose_anyway_stays_put() -> None:
    selector, _, clock, rule = setup(PRIMARY, BACKUP)
    first = selector.select(rule, chat("bob"))
    selector.record(first, input_tokens=1)
    clock.advance(1000)
    again = selector.select(rule, chat("bob"))
    assert (again.source, again.service) == ("affinity", PRIMARY)


def test_anonymous_requests_from_one_ip_spread_unless_the_ip_is_a_session() -> None:
    services = tuple(Service(provider="p", model=f"m{i}") for i in range(3))
    rule = Rule(uuid="r", services=services, session_affinity=600)
    body = {"model": "x"}  # no user, no messages: nothing identifies the session
    spread = ServiceSelector(rng=random.Random(4))
    seen = {spread.select(rule, body, client_ip="203.0.113.7").service.model for _ in range(60)}
    assert len(seen) == 3
    by_ip = ServiceSelector(rng=random.Random(4), session_from_ip=True)
    first = by_ip.select(rule, body, client_ip="203.0.113.7")
    by_ip.record(first, input_tokens=1)
    again = {by_ip.select(rule, body, client_ip="203.0.113.7").service for _ in range(20)}
    assert again == {first.service}
