"""The selection stages as pure functions of (plan, request, snapshot, rng): fit, health,
smart routing, affinity and load balancing, run in that order until one chooses.

Each stage narrows the result's candidates or chooses its service; a stage with nothing to do
for the rule (nothing the catalog can rule out, no unhealthy service, no smart routing, no
affinity) is not called at all. No
stage does I/O: everything a stage reads of the state is in the snapshot, read before. The
trace is not written here: :mod:`._trace` writes it from the result when it is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..affinity import AffinityEntry, SessionDraws, pin_key
from ..config import Service, ServiceID
from ..errors import NoServiceAvailableError
from ..health import panic_filter
from ..state import StateSnapshot
from ..typing import Rng
from ._fit import FitPlan, FitReport, Needs
from ._plan import RulePlan
from ._result import Request, SelectionResult
from ._trace import STAGES

__all__ = ["STAGES", "decide"]


def decide(
    plan: RulePlan, request: Request, snapshot: StateSnapshot, rng: Rng, took_turn: bool
) -> SelectionResult:
    """Run the stages for ``request`` on ``snapshot`` and return the result."""
    result = SelectionResult(plan, request, snapshot)
    result.took_turn = took_turn
    if plan.fit is not None and plan.fit.works:  # the plan decided once: checks that can drop
        _fit(result, plan.fit)
    if plan.use_health and snapshot.unhealthy:
        _health(result, snapshot)
    if request.probe is not None:
        return _probed(result, request.probe)
    if plan.router is not None and not request.embeddings:
        _smart_routing(result, snapshot)
    chosen = _affinity(result, snapshot) if plan.affinity else None
    if chosen is None:
        key = result.pin_key
        # A session to pin draws from its own hash, so select() gives it one answer.
        draws = rng if key is None else SessionDraws(plan.rule.uuid, key)
        chosen = _load_balancer(result, snapshot, draws)
        if result.matched_smart_rule_index >= 0:
            result.source = "smart_routing"
    else:
        result.source = "affinity"
    result.service = chosen
    return result


def _probed(result: SelectionResult, service: Service) -> SelectionResult:
    """The service the probe header names serves alone: no smart routing, no pin, no
    balancing, no fallbacks (the operator tests that one service)."""
    result.source = "probe_header"
    result.scope = result.candidates = (service,)
    result.degraded = False
    result.service = service
    return result


def _fit(result: SelectionResult, fit: FitPlan) -> None:
    """Drop the services the request cannot fit (window, modalities, tools, thinking); an
    unknown figure keeps its service, marked unchecked (the report's trace line says). A
    block none of whose services fits is passed over, like one with no usable service."""
    report = result.fitted = fit.check(Needs(result.request))
    dropped = report.dropped
    if dropped:
        plan = result.plan
        result.candidates = result.scope = _fitting(plan.base, dropped)
        unfit = frozenset(
            i for i, ids in enumerate(plan.block_ids) if ids and ids.issubset(dropped)
        )
        if unfit:
            result.unusable_blocks = plan.unusable_blocks | unfit


def _fitting(
    services: tuple[Service, ...], dropped: Mapping[ServiceID, str]
) -> tuple[Service, ...]:
    return tuple(s for s in services if s.service_id not in dropped)


def _health(result: SelectionResult, snapshot: StateSnapshot) -> None:
    """Drop unhealthy candidates; when none would remain, keep them all (panic mode)."""
    plan = result.plan
    unhealthy = frozenset(sid for sid in plan.all_ids if not snapshot.healthy(sid))
    if unhealthy:
        result.unhealthy = unhealthy
        result.candidates, result.degraded = panic_filter(
            result.candidates, lambda s: s.service_id not in unhealthy
        )


def _smart_routing(result: SelectionResult, snapshot: StateSnapshot) -> None:
    """The first block whose ops all match narrows the candidates to its services (its
    healthy ones; all of them in panic mode: a content rule is never broken for health).
    A block with no usable service is passed over, as if it had not matched."""
    plan = result.plan
    assert plan.router is not None
    match = plan.router.evaluate(result.request.context, snapshot, result.unusable_blocks)
    if match is None:
        return
    index = match.index
    services = plan.blocks[index]
    fitted = result.fitted
    if fitted is not None and fitted.dropped:
        services = _fitting(services, fitted.dropped)
    unhealthy = result.unhealthy
    result.matched_smart_rule_index = index
    result.scope = services
    result.candidates, result.degraded = panic_filter(
        services, lambda s: s.service_id not in unhealthy
    )


def _affinity(result: SelectionResult, snapshot: StateSnapshot) -> Service | None:
    """A live pin of the session whose service is still a candidate wins, unless it gives
    way to the rule's own choice (:func:`_fails_back`). Returns the service it chose (None:
    the load balancer chooses); the pin key and the pin read are kept on the result."""
    plan = result.plan
    session_key = result.request.session_key
    if not session_key:
        return None
    rule = plan.rule
    key = result.pin_key = pin_key(
        session_key, rule.affinity_scope, result.matched_smart_rule_index
    )
    entry = result.pinned = snapshot.pins.get(key)
    if entry is None:
        return None
    sid = entry.service
    block = result.matched_smart_rule_index
    scope = plan.block_ids[block] if block >= 0 else plan.base_ids
    if sid not in scope or (sid in result.unhealthy and not result.degraded):
        return None
    fitted = result.fitted
    if fitted is not None and sid in fitted.dropped:  # the pinned model cannot take it
        return None
    service = plan.service_by_id[sid]
    moves = entry.fallback or service.weight == 0 or plan.tactic.tactic.prefers_tiers
    if moves and _fails_back(result, snapshot, entry, key):
        return None
    return service


def _fails_back(
    result: SelectionResult, snapshot: StateSnapshot, pinned: AffinityEntry, key: str
) -> bool:
    """Whether a pin on a fallback (or on a weight-0 service, or, under a tactic that
    prefers tiers, on a higher tier than its choice) gives way to the service the rule would
    choose, that one having been healthy for the promotion hold."""
    plan = result.plan
    service = plan.service_by_id[pinned.service]
    demoted = pinned.fallback or service.weight == 0
    candidates = plan.tactic.lookup(result.candidates)
    assert candidates is not None
    draws = SessionDraws(plan.rule.uuid, key)  # the draws the load balancer would make
    tokens = result.tokens if plan.fit is not None else None
    chosen = plan.tactic.choose(candidates, snapshot, draws, tokens)[0]
    choice = chosen.service_id
    if choice == pinned.service or not (demoted or chosen.tier < service.tier):
        return False
    since = snapshot.healthy_since(choice)
    if snapshot.now - since < plan.health.promotion_hold_seconds:
        return False
    held = "never ejected" if since == -math.inf else f"healthy for {snapshot.now - since:.0f}s"
    result.moved_back = (choice, held)
    return True


def _load_balancer(result: SelectionResult, snapshot: StateSnapshot, rng: Rng) -> Service:
    """The rule's tactic picks among the remaining candidates."""
    plan = result.plan
    if not result.candidates:
        if result.fitted is not None and result.fitted.dropped:
            raise _nothing_fits(plan, result.fitted)
        raise NoServiceAvailableError(
            f"rule {plan.rule.uuid!r}: no smart-routing block matched and the rule has no "
            f"usable service of its own ({plan.skipped_text() or 'none active'})",
            rule=plan.rule.uuid,
        )
    services = result.candidates
    candidates = plan.base_set if services is plan.base else plan.tactic.lookup(services)
    assert candidates is not None  # the plan's services are active and distinct
    tokens = result.tokens if plan.fit is not None else None
    service, template, args = plan.tactic.choose(candidates, snapshot, rng, tokens)
    result.reason = (template, args)
    return service


def _nothing_fits(plan: RulePlan, report: FitReport) -> NoServiceAvailableError:
    """The routing funnel: every service, and why it was dropped."""
    lines = [f"{sid}: {why}" for sid, why in report.dropped.items()]
    lines += [f"{sid}: {why}" for sid, why in plan.skipped]
    return NoServiceAvailableError(
        f"rule {plan.rule.uuid!r}: no service fits the request "
        f"(~{report.needs.input_tokens:,} input tokens): " + "; ".join(lines),
        rule=plan.rule.uuid,
    )
