"""A selection's trace, written when it is read: each stage's line from the facts the
decision kept (the plan, the unhealthy services, the matched block, the pin, the tactic's
reason), so a selection that is never explained never builds one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Service, ServiceID

if TYPE_CHECKING:
    from ._result import SelectionResult

__all__ = ["STAGES", "TraceStep", "describe", "render_trace"]

#: The stages, in the order they run.
STAGES: tuple[str, ...] = ("fit", "health", "smart_routing", "affinity", "load_balancer")

#: One line of a selection's trace: the stage, a ``str.format`` template and its arguments
#: (formatted only when the trace is shown).
TraceStep = tuple[str, str, tuple[object, ...]]


def render_trace(result: SelectionResult) -> list[TraceStep]:
    """The trace of ``result``: what each stage that ran saw, narrowed or chose."""
    trace = [*result.request.notes]
    report = result.fit
    if report is not None:  # the report formats itself: its line is built when shown
        trace.append(("fit", "{}", (report,)))
    trace.append(_health(result))
    if result.source == "probe_header":
        sid = result.service_id
        state = "unhealthy, routed to anyway" if sid in result.unhealthy else "healthy"
        text = "names {} ({}); smart routing, affinity and balancing bypassed"
        trace.append(("probe_header", text, (sid, state)))
        return trace
    trace.extend(_smart_routing(result))
    trace.extend(_affinity(result))
    reason = result.reason
    if reason is not None:
        template, args = reason
        count = len(result.candidates)
        name = result.plan.tactic.tactic.name
        head = ("load_balancer", "{} over {} -> {}: " + template)
        trace.append((*head, (name, count, result.service_id, *args)))
    return trace


def _health(result: SelectionResult) -> TraceStep:
    base = result.plan.base
    fitted = result.fitted
    if fitted is not None and fitted.dropped:  # the fit stage's drops came first
        base = tuple(s for s in base if s.service_id not in fitted.dropped)
    count = len(base)
    if not result.plan.use_health:
        return ("health", "no health monitor; all {} candidates kept", (count,))
    unhealthy = result.unhealthy
    if not unhealthy:
        return ("health", "all {} candidates healthy", (count,))
    dropped = _unhealthy_of(base, unhealthy)
    if base and len(dropped) == count:
        return (
            "health",
            "all {} candidates unhealthy ({}); kept them all (panic mode)",
            (count, describe(base)),
        )
    return ("health", "dropped unhealthy {}; {} left", (describe(dropped), count - len(dropped)))


def _smart_routing(result: SelectionResult) -> list[TraceStep]:
    router = result.plan.router
    if result.request.embeddings:
        return [("smart_routing", "skipped for embeddings", ())]
    if router is None:
        return [("smart_routing", "off for this rule", ())]
    index = result.matched_smart_rule_index
    if index < 0:
        unusable = len(result.unusable_blocks)
        if unusable:  # say so: the per-op trace may show one of them matching
            text = "no usable block of {} matched ({} without a usable service passed over)"
            return [("smart_routing", text, (len(router), unusable))]
        return [("smart_routing", "no block of {} matched", (len(router),))]
    description = router.blocks[index].description
    if result.degraded:
        text = "block {} ({!r}) matched; all its services unhealthy, kept them (panic mode)"
        return [("smart_routing", text, (index, description))]
    kept = result.candidates
    lines: list[TraceStep] = [
        ("smart_routing", "block {} ({!r}) matched -> {}", (index, description, describe(kept)))
    ]
    if len(kept) < len(result.scope):  # say why the block's other services are out
        dropped = _unhealthy_of(result.scope, result.unhealthy)
        lines.append(("smart_routing", "dropped the block's unhealthy {}", (describe(dropped),)))
    return lines


def _affinity(result: SelectionResult) -> list[TraceStep]:
    if result.rule.session_affinity <= 0:
        return [("affinity", "off for this rule", ())]
    pinned = result.pinned
    if result.pin_key is None:
        return [("affinity", "no session identity in the request", ())]
    if pinned is None:
        return [("affinity", "no live pin for this session", ())]
    sid = pinned.service
    moved = result.moved_back
    if result.source != "affinity" and moved is None:
        fitted = result.fitted
        if fitted is not None and sid in fitted.dropped:
            why = "it does not fit the request"
        else:
            why = "unhealthy" if sid in result.unhealthy else "not a candidate now"
        return [("affinity", "pin on {} ignored: {}", (sid, why))]
    left = pinned.expires_at - result.now
    lines: list[TraceStep] = [("affinity", "session pinned to {} for {:.0f}s more", (sid, left))]
    if moved is not None:
        lines.append(("affinity", "pin on {} moved back to {} ({})", (sid, *moved)))
    return lines


def _unhealthy_of(
    services: tuple[Service, ...], unhealthy: frozenset[ServiceID]
) -> tuple[Service, ...]:
    return tuple(s for s in services if s.service_id in unhealthy)


def describe(services: tuple[Service, ...], limit: int = 6) -> str:
    """A short comma-separated list of service ids for traces (``a, b, ... (+3)``)."""
    ids = [str(s.service_id) for s in services[:limit]]
    if len(services) > limit:
        ids.append(f"... (+{len(services) - limit})")
    return ", ".join(ids)
