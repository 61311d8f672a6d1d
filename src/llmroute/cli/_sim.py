"""The simulation behind ``llmroute simulate``: the real selector, scripted providers, a fake
clock.

Request ``n`` (1-based) is sent ``n * interval`` seconds into the run, to the simulated
rules in turn. Each goes through :meth:`ServiceSelector.select`, then to the chosen service
and its fallbacks in order until one serves, as the execute forms do: a fallback that was
unhealthy at the read is passed over (the last is always tried), and an error that
:func:`llmroute.execute.default_fallback_on` does not fall over on ends the request. Every
attempt is written back with :meth:`ServiceSelector.record`, with a simulated latency (the
execute forms would time the call on the wall clock, which no two runs share). Probes
(``health.probe_enabled``) answer from the faults and are awaited before the attempts, so
nothing depends on thread timing: the same settings give the same report.

It does not run :meth:`llmroute.LoadBalancer.simulate`, which simulates a rule's tactic
alone over the rule's own services: no request bodies (so no smart routing), no sessions (so
no affinity), no fallbacks and no faults over request ranges. This command answers what the
whole selector does with a config, so it drives the selector itself.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import RoutingConfig, Rule, Service
from ..errors import NoServiceAvailableError
from ..execute import default_fallback_on
from ..health import HealthMonitor, available
from ..selector import SelectionResult, ServiceSelector
from ..testing import FakeClock, ScriptedProvider
from ._faults import ERRORS, Fault

__all__ = ["INPUT_TOKENS", "OUTPUT_TOKENS", "Report", "Settings", "Tally", "simulate"]

#: The usage every simulated response reports.
INPUT_TOKENS = 100
OUTPUT_TOKENS = 200


@dataclass(frozen=True)
class Settings:
    """What to simulate: ``requests`` requests ``interval`` seconds apart to ``rules`` in
    turn; ``sessions`` distinct end users (the OpenAI ``user`` field; 0: none); ``latency``
    ms per service id (``default_latency`` for the others, +-20% per call)."""

    config: RoutingConfig
    rules: tuple[Rule, ...]
    requests: int = 200
    seed: int = 0
    interval: float = 1.0
    faults: tuple[Fault, ...] = ()
    latency: dict[str, float] = field(default_factory=dict)
    default_latency: float = 300.0
    sessions: int = 20
    body: Any = None


@dataclass
class Tally:
    """One service's counts, and per request whether it was ejected and whether it failed."""

    service: str
    picks: int = 0
    attempts: int = 0
    served: int = 0
    failures: int = 0
    ejections: int = 0
    ejected: list[bool] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)


@dataclass
class Report:
    """The outcome of a run: per-service tallies (config order) and the request totals."""

    settings: Settings
    services: dict[str, Tally]
    served: int = 0
    failed: int = 0
    unavailable: int = 0
    failovers: int = 0


def simulate(settings: Settings) -> Report:
    """Run the simulation (deterministic: a pure function of ``settings``)."""
    run = _Run(settings)
    for n in range(1, settings.requests + 1):
        run.request(n)
    monitor = run.monitor
    for sid, tally in run.report.services.items():
        tally.ejections = monitor.get_health(sid).total_ejections
    return run.report


def simulated_services(rules: Sequence[Rule]) -> list[Service]:
    """The active services of ``rules`` (their own and their blocks'), config order, unique."""
    seen: dict[str, Service] = {}
    for rule in rules:
        for service in (*rule.services, *(s for b in rule.smart_routing for s in b.services)):
            if service.active:
                seen.setdefault(str(service.service_id), service)
    return list(seen.values())


class _Run:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = FakeClock()
        self.current = 0  # the request being sent, for the probe
        probing = settings.config.health.probe_enabled
        self.selector = ServiceSelector.from_config(
            settings.config,
            rng=random.Random(settings.seed),
            clock=self.clock,
            probe=self._probe if probing else None,
        )
        monitor = self.selector.health
        assert isinstance(monitor, HealthMonitor)  # the default in-memory state has one
        self.monitor = monitor
        self.probing = probing
        ids = [str(s.service_id) for s in simulated_services(settings.rules)]
        self.report = Report(settings, {sid: Tally(sid) for sid in ids})

    def _fault(self, service: str, request: int) -> Fault | None:
        seed = self.settings.seed
        for index, fault in enumerate(self.settings.faults):
            if fault.fails(seed, index, service, request):
                return fault
        return None

    def _probe(self, service: str) -> bool:
        return self._fault(service, self.current) is None

    def _body(self, rule: Rule, n: int) -> Any:
        template = self.settings.body
        if template is None:
            template = {
                "model": rule.request_model or rule.uuid,
                "messages": [{"role": "user", "content": "Hello"}],
            }
        if self.settings.sessions > 0 and isinstance(template, dict):
            return {**template, "user": f"user-{(n - 1) % self.settings.sessions + 1}"}
        return template

    def request(self, n: int) -> None:
        self.current = n
        self.clock.advance(self.settings.interval)
        rules = self.settings.rules
        rule = rules[(n - 1) % len(rules)]
        body = self._body(rule, n)
        try:
            result = self.selector.select(rule.uuid, body)
        except NoServiceAvailableError:
            self.report.unavailable += 1
        else:
            self.selector.join_probes()
            self._attempts(result, body, n)
        self._observe(n)

    def _attempts(self, result: SelectionResult, body: Any, n: int) -> None:
        report = self.report
        self._tally(str(result.service_id)).picks += 1
        chain = (result.service, *result.fallbacks)
        for position, service in enumerate(chain):
            sid = str(service.service_id)
            if 0 < position < len(chain) - 1 and service.service_id in result.unhealthy:
                continue  # unhealthy at the read: passed over, as execute does
            tally = self._tally(sid)
            tally.attempts += 1
            fault = self._fault(sid, n)
            step: object = ERRORS[fault.kind]() if fault is not None else _RESPONSE
            try:
                ScriptedProvider(sid, step)(body)
            except Exception as error:
                tally.failures += 1
                self._mark_failed(tally, n)
                self.selector.record(result, service=service, error=error)
                if not default_fallback_on(error):
                    break
                continue
            tally.served += 1
            report.served += 1
            report.failovers += position > 0
            self.selector.record(
                result,
                service=service,
                input_tokens=INPUT_TOKENS,
                output_tokens=OUTPUT_TOKENS,
                latency_ms=self._latency(sid, n),
            )
            return
        report.failed += 1

    def _latency(self, service: str, request: int) -> float:
        base = self.settings.latency.get(service, self.settings.default_latency)
        jitter = random.Random(f"{self.settings.seed}/latency/{service}/{request}").random()
        return base * (0.8 + 0.4 * jitter)

    def _tally(self, sid: str) -> Tally:
        tally = self.report.services.get(sid)
        if tally is None:  # a service only some selection reached (never, from config)
            tally = self.report.services[sid] = Tally(sid)
        return tally

    def _mark_failed(self, tally: Tally, n: int) -> None:
        tally.failed.extend([False] * (n - len(tally.failed)))
        tally.failed[n - 1] = True

    def _observe(self, n: int) -> None:
        states, _ = self.monitor.unhealthy()
        now = self.clock()
        for sid, tally in self.report.services.items():
            state = states.get(sid)
            tally.ejected.append(state is not None and not available(state, now, self.probing))
            tally.failed.extend([False] * (n - len(tally.failed)))


#: What a scripted provider answers when it serves: an OpenAI-shaped chat completion.
_RESPONSE: dict[str, Any] = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}}],
    "usage": {"prompt_tokens": INPUT_TOKENS, "completion_tokens": OUTPUT_TOKENS},
}
