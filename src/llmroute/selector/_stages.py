"""The selection stages as pure functions of (plan, request, snapshot, rng): health, smart
routing, affinity and load balancing, run in that order until one chooses.

Each stage narrows the draft's candidates, records what it saw in the trace, or chooses. No
stage does I/O: everything a stage reads of the state is in the snapshot, read before.
"""

from __future__ import annotations

import math

from ..affinity import AffinityEntry, SessionDraws, pin_key
from ..config import Service, ServiceID
from ..errors import NoServiceAvailableError
from ..health import panic_filter
from ..state import StateSnapshot
from ..typing import Rng
from ._plan import RulePlan
from ._result import Request, SelectionResult, Source, TraceStep, describe

__all__ = ["STAGES", "decide"]

#: The stages, in the order they run.
STAGES: tuple[str, ...] = ("health", "smart_routing", "affinity", "load_balancer")


class _Draft:
    """What the stages have decided so far (private to one :func:`decide` call)."""

    __slots__ = ("block_index", "candidates", "degraded", "scope", "trace", "unhealthy")

    def __init__(self, candidates: tuple[Service, ...]) -> None:
        self.candidates = candidates
        self.scope = candidates
        self.unhealthy: frozenset[ServiceID] = frozenset()
        self.degraded = False
        self.block_index = -1
        self.trace: list[TraceStep] = []

    def note(self, stage: str, template: str, *args: object) -> None:
        self.trace.append((stage, template, args))


def decide(
    plan: RulePlan,
    request: Request,
    snapshot: StateSnapshot,
    rng: Rng,
    *,
    use_health: bool,
    took_turn: bool,
) -> SelectionResult:
    """Run the stages for ``request`` on ``snapshot`` and return the result."""
    draft = _Draft(plan.base)
    if request.notes:
        draft.trace.extend(request.notes)
    _health(plan, snapshot, draft, use_health)
    if request.probe is not None:
        return _probed(plan, request, snapshot, draft, request.probe, took_turn)
    _smart_routing(plan, request, snapshot, draft)
    key, pinned, chosen = _affinity(plan, request, snapshot, draft)
    stages = STAGES[:3]
    source: Source = "affinity"
    if chosen is not None and pinned is not None and key is not None:
        chosen = None if _fails_back(plan, snapshot, draft, pinned, key) else chosen
    if chosen is None:
        # A session to pin draws from its own hash, so select() gives it one answer.
        draws = rng if key is None else SessionDraws(plan.rule.uuid, key)
        chosen = _load_balancer(plan, snapshot, draws, draft)
        source = "smart_routing" if draft.block_index >= 0 else "load_balancer"
        stages = STAGES
    return _result(plan, request, snapshot, draft, chosen, source, stages, key, pinned, took_turn)


def _probed(
    plan: RulePlan,
    request: Request,
    snapshot: StateSnapshot,
    draft: _Draft,
    service: Service,
    took_turn: bool,
) -> SelectionResult:
    """The service the probe header names serves alone: no smart routing, no pin, no
    balancing, no fallbacks (the operator tests that one service)."""
    sid = service.service_id
    state = "unhealthy, routed to anyway" if sid in draft.unhealthy else "healthy"
    draft.note(
        "probe_header", "names {} ({}); smart routing, affinity and balancing bypassed", sid, state
    )
    draft.scope = (service,)
    draft.degraded = False
    stages = ("health", "probe_header")
    return _result(
        plan, request, snapshot, draft, service, "probe_header", stages, None, None, took_turn
    )


def _result(
    plan: RulePlan,
    request: Request,
    snapshot: StateSnapshot,
    draft: _Draft,
    chosen: Service,
    source: Source,
    stages: tuple[str, ...],
    key: str | None,
    pinned: AffinityEntry | None,
    took_turn: bool,
) -> SelectionResult:
    return SelectionResult(
        plan=plan,
        service=chosen,
        source=source,
        evaluated_stages=stages,
        matched_smart_rule_index=draft.block_index,
        session_id=request.resolved_session,
        degraded=draft.degraded,
        trace=draft.trace,
        scope=draft.scope,
        unhealthy=draft.unhealthy,
        pin_key=key,
        pinned=pinned,
        read_seq=snapshot.seq,
        took_turn=took_turn,
        request=request,
        snapshot=snapshot,
    )


def _health(plan: RulePlan, snapshot: StateSnapshot, draft: _Draft, use_health: bool) -> None:
    """Drop unhealthy candidates; when none would remain, keep them all (panic mode)."""
    count = len(draft.candidates)
    if not use_health:
        draft.note("health", "no health monitor; all {} candidates kept", count)
        return
    if snapshot.unhealthy:
        draft.unhealthy = frozenset(sid for sid in plan.all_ids if not snapshot.healthy(sid))
    if not draft.unhealthy:
        draft.note("health", "all {} candidates healthy", count)
        return
    before = draft.candidates
    kept, degraded = panic_filter(before, lambda s: s.service_id not in draft.unhealthy)
    if degraded:
        draft.degraded = True
        draft.note(
            "health",
            "all {} candidates unhealthy ({}); kept them all (panic mode)",
            count,
            describe(before),
        )
        return
    dropped = tuple(s for s in before if s.service_id in draft.unhealthy)
    draft.candidates = kept
    draft.note("health", "dropped unhealthy {}; {} left", describe(dropped), len(kept))


def _smart_routing(
    plan: RulePlan, request: Request, snapshot: StateSnapshot, draft: _Draft
) -> None:
    """The first block whose ops all match narrows the candidates to its services (its
    healthy ones; all of them in panic mode: a content rule is never broken for health).
    A block with no usable service is passed over, as if it had not matched."""
    router = plan.router
    if router is None or request.embeddings:
        draft.note(
            "smart_routing", "skipped for embeddings" if request.embeddings else "off for this rule"
        )
        return
    unusable = plan.unusable_blocks
    match = router.evaluate(request.context, snapshot, unusable)
    if match is None:
        if unusable:  # say so: the per-op trace may show one of them matching
            draft.note(
                "smart_routing",
                "no usable block of {} matched ({} without a usable service passed over)",
                len(router),
                len(unusable),
            )
        else:
            draft.note("smart_routing", "no block of {} matched", len(router))
        return
    index, description = match.index, match.block.description
    services = plan.blocks[index]
    draft.block_index = index
    draft.scope = services
    kept, degraded = panic_filter(services, lambda s: s.service_id not in draft.unhealthy)
    draft.candidates = kept
    draft.degraded = degraded
    if degraded:
        draft.note(
            "smart_routing",
            "block {} ({!r}) matched; all its services unhealthy, kept them (panic mode)",
            index,
            description,
        )
        return
    draft.note("smart_routing", "block {} ({!r}) matched -> {}", index, description, describe(kept))
    if len(kept) < len(services):  # say why the block's other services are out
        dropped = tuple(s for s in services if s.service_id in draft.unhealthy)
        draft.note("smart_routing", "dropped the block's unhealthy {}", describe(dropped))


def _affinity(
    plan: RulePlan, request: Request, snapshot: StateSnapshot, draft: _Draft
) -> tuple[str | None, AffinityEntry | None, Service | None]:
    """A live pin of the session whose service is still a candidate wins. Returns the pin
    key, the pin read, and the service it chose (None: the load balancer chooses)."""
    rule = plan.rule
    if rule.session_affinity <= 0:
        draft.note("affinity", "off for this rule")
        return None, None, None
    session_key = request.session_key
    if not session_key:
        draft.note("affinity", "no session identity in the request")
        return None, None, None
    key = pin_key(session_key, rule.affinity_scope, draft.block_index)
    entry = snapshot.pins.get(key)
    if entry is None:
        draft.note("affinity", "no live pin for this session")
        return key, None, None
    sid = entry.service
    scope = plan.block_ids[draft.block_index] if draft.block_index >= 0 else plan.base_ids
    if sid not in scope or (sid in draft.unhealthy and not draft.degraded):
        why = "unhealthy" if sid in draft.unhealthy else "not a candidate now"
        draft.note("affinity", "pin on {} ignored: {}", sid, why)
        return key, entry, None
    service = plan.service_by_id[sid]
    draft.note(
        "affinity",
        "session pinned to {} for {:.0f}s more",
        entry.service,
        entry.expires_at - snapshot.now,
    )
    return key, entry, service


def _fails_back(
    plan: RulePlan, snapshot: StateSnapshot, draft: _Draft, pinned: AffinityEntry, key: str
) -> bool:
    """Whether a pin on a fallback (or on a weight-0 service, or, under a tactic that
    prefers tiers, on a higher tier than its choice) gives way to the service the rule would
    choose, that one having been healthy for the promotion hold."""
    service = plan.service_by_id[pinned.service]
    demoted = pinned.fallback or service.weight == 0
    tiered = plan.tactic.tactic.prefers_tiers
    if not (demoted or tiered):
        return False
    candidates = plan.tactic.lookup(draft.candidates)
    assert candidates is not None
    draws = SessionDraws(plan.rule.uuid, key)  # the draws the load balancer would make
    chosen = plan.tactic.choose(candidates, snapshot, draws)[0]
    choice = chosen.service_id
    if choice == pinned.service or not (demoted or chosen.tier < service.tier):
        return False
    since = snapshot.healthy_since(choice)
    if snapshot.now - since < plan.health.promotion_hold_seconds:
        return False
    held = "never ejected" if since == -math.inf else f"healthy for {snapshot.now - since:.0f}s"
    draft.note("affinity", "pin on {} moved back to {} ({})", pinned.service, choice, held)
    return True


def _load_balancer(plan: RulePlan, snapshot: StateSnapshot, rng: Rng, draft: _Draft) -> Service:
    """The rule's tactic picks among the remaining candidates."""
    if not draft.candidates:
        raise NoServiceAvailableError(
            f"rule {plan.rule.uuid!r}: no smart-routing block matched and the rule has no "
            f"usable service of its own ({plan.skipped_text() or 'none active'})",
            rule=plan.rule.uuid,
        )
    candidates = plan.tactic.lookup(draft.candidates)
    assert candidates is not None  # the plan's services are active and distinct
    service, template, args = plan.tactic.choose(candidates, snapshot, rng)
    name, count = plan.tactic.tactic.name, len(candidates.services)
    draft.note(
        "load_balancer", "{} over {} -> {}: " + template, name, count, service.service_id, *args
    )
    return service
