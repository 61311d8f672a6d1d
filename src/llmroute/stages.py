"""The selection stages: health, smart routing, affinity and load balancing.

A stage is anything with a ``name`` and ``evaluate(ctx, state)`` (the
:class:`SelectionStage` protocol). The selector runs its stages in order until one chooses a
service; each narrows ``state.candidates``, records what it saw in the trace, or chooses.
Build your own pipeline by passing ``stages=`` to :class:`ServiceSelector` (for example to
add a stage that drops services over a budget before load balancing).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ._selection import SelectionContext, SelectionState, describe, first_with_id
from .errors import NoServiceAvailableError

__all__ = [
    "AffinityStage",
    "HealthStage",
    "LoadBalancerStage",
    "SelectionStage",
    "SmartRoutingStage",
    "affinity_key",
    "default_stages",
]


@runtime_checkable
class SelectionStage(Protocol):
    """One step of the selection pipeline.

    ``evaluate`` reads the :class:`SelectionContext`, narrows or chooses on the
    :class:`SelectionState` and adds trace lines; it must do no I/O of its own and be
    thread-safe (stages are shared by all selections).
    """

    @property
    def name(self) -> str:
        """The stage's name, shown in traces and ``evaluated_stages``."""

    def evaluate(self, ctx: SelectionContext, state: SelectionState) -> None:
        """Narrow ``state.candidates``, or choose with ``state.choose(...)``."""


class HealthStage:
    """Drops unhealthy candidates; when none would remain, keeps them all (panic mode).

    Also records which services are unhealthy (``state.unhealthy``), so smart routing can
    intersect its block with the healthy ones and fallbacks put them last.
    """

    name = "health"

    def evaluate(self, ctx: SelectionContext, state: SelectionState) -> None:
        selector = ctx.selector
        is_healthy = selector._is_healthy
        if is_healthy is None:
            state.note(
                self.name, "no health monitor; all {} candidates kept", len(state.candidates)
            )
            return
        any_unhealthy = selector._any_unhealthy
        if any_unhealthy is not None and not any_unhealthy():
            state.note(self.name, "all {} candidates healthy", len(state.candidates))
            return
        unhealthy = frozenset(sid for sid in ctx.plan.all_ids if not is_healthy(sid))
        state.unhealthy = unhealthy
        if not unhealthy:
            state.note(self.name, "all {} candidates healthy", len(state.candidates))
            return
        before = state.candidates
        healthy = tuple(s for s in before if s.service_id not in unhealthy)
        dropped = tuple(s for s in before if s.service_id in unhealthy)
        if healthy:
            state.candidates = healthy
            state.note(self.name, "dropped unhealthy {}; {} left", describe(dropped), len(healthy))
        else:
            state.degraded = True
            state.note(
                self.name,
                "all {} candidates unhealthy ({}); kept them all (panic mode)",
                len(before),
                describe(before),
            )


class SmartRoutingStage:
    """The first smart-routing block whose ops all match narrows the candidates to its services.

    The block's services are intersected with the healthy ones; if none of them is healthy,
    all of the block's services stay (panic mode within the block: a content rule such as
    "images go to the vision model" is never broken to find a healthy service). The request
    context is extracted only here, and only when the rule has smart routing on.
    """

    name = "smart_routing"

    def evaluate(self, ctx: SelectionContext, state: SelectionState) -> None:
        router = ctx.plan.router
        if router is None or ctx.embeddings:
            why = "skipped for embeddings" if ctx.embeddings else "off for this rule"
            state.note(self.name, why)
            return
        match = router.evaluate(ctx.context)
        if match is None:
            state.note(self.name, "no block of {} matched", len(router))
            return
        index = match.index
        services = ctx.plan.blocks[index]
        description = match.block.description
        if not services:
            raise NoServiceAvailableError(
                f"rule {ctx.rule.uuid!r}: smart-routing block {index} ({description!r}) "
                f"matched but has no usable service: {ctx.plan.skipped_text() or 'none active'}",
                rule=ctx.rule.uuid,
            )
        state.block_index = index
        state.scope = services
        unhealthy = state.unhealthy
        healthy = tuple(s for s in services if s.service_id not in unhealthy)
        if healthy:
            state.candidates = healthy
            state.degraded = False
            state.note(
                self.name, "block {} ({!r}) matched -> {}", index, description, describe(healthy)
            )
            if len(healthy) < len(services):  # say why the block's other services are out
                dropped = tuple(s for s in services if s.service_id in unhealthy)
                state.note(self.name, "dropped the block's unhealthy {}", describe(dropped))
        else:
            state.candidates = services
            state.degraded = True
            state.note(
                self.name,
                "block {} ({!r}) matched; all its services unhealthy, kept them (panic mode)",
                index,
                description,
            )


def affinity_key(session_key: str, scope: str, block_index: int) -> str:
    """The affinity-store key of a session: per rule (``global``) or per matched block."""
    if scope == "smart_rule":
        return f"{session_key}#{block_index}"
    return session_key


class AffinityStage:
    """A live affinity lock for the session whose service is still a candidate wins.

    Runs only for rules with ``session_affinity > 0``. A lock on a service that is no longer
    a candidate (unhealthy, or outside the matched block) is ignored; the new selection
    replaces it.
    """

    name = "affinity"

    def evaluate(self, ctx: SelectionContext, state: SelectionState) -> None:
        rule = ctx.rule
        if rule.session_affinity <= 0:
            state.note(self.name, "off for this rule")
            return
        session_key = ctx.session_key
        if not session_key:
            state.note(self.name, "no session identity in the request")
            return
        key = affinity_key(session_key, rule.affinity_scope, state.block_index)
        entry = ctx.selector.affinity.get(rule.uuid, key)
        if entry is None:
            state.note(self.name, "no live lock for this session")
            return
        plan = ctx.plan
        if state.candidates is plan.base:  # not narrowed: look the service up by id
            service = plan.by_id.get(entry.service)
        else:
            service = first_with_id(state.candidates, entry.service)
        if service is None:
            why = "unhealthy" if entry.service in state.unhealthy else "not a candidate now"
            state.note(self.name, "lock on {} ignored: {}", entry.service, why)
            return
        state.choose(service, "affinity")
        state.note(
            self.name,
            "session locked to {} for {:.0f}s more",
            entry.service,
            entry.expires_at - ctx.now,
        )


class LoadBalancerStage:
    """The rule's tactic picks among the remaining candidates.

    It does not check health again: dropping unhealthy services is :class:`HealthStage`'s
    job, so a pipeline without that stage balances over unhealthy services too.
    """

    name = "load_balancer"

    def evaluate(self, ctx: SelectionContext, state: SelectionState) -> None:
        if not state.candidates:
            raise NoServiceAvailableError(
                f"rule {ctx.rule.uuid!r}: no smart-routing block matched and the rule has no "
                f"usable service of its own ({ctx.plan.skipped_text() or 'none active'})",
                rule=ctx.rule.uuid,
            )
        # The balancer's lean form of decide(): the trace needs no LBDecision object.
        service, tactic, weighed, degraded, template, args = ctx.selector.balancer._choose(
            ctx.rule, state.candidates
        )
        state.choose(service, "smart_routing" if state.block_index >= 0 else "load_balancer")
        if degraded:
            state.degraded = True
        state.note(
            self.name,
            "{} over {} -> {}: {}",
            tactic,
            weighed,
            service.service_id,
            _Reason(template, args),
        )


class _Reason:
    """A tactic's reason (a template and its arguments), formatted when the trace is read."""

    __slots__ = ("args", "template")

    def __init__(self, template: str, args: tuple[object, ...]) -> None:
        self.template = template
        self.args = args

    def __format__(self, spec: str) -> str:
        text = self.template.format(*self.args) if self.args else self.template
        return format(text, spec)


def default_stages() -> tuple[SelectionStage, ...]:
    """The standard pipeline: health, smart routing, affinity, load balancer."""
    return (HealthStage(), SmartRoutingStage(), AffinityStage(), LoadBalancerStage())
