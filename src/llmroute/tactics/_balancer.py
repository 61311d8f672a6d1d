"""The LoadBalancer: a rule's tactic over its healthy active candidates, explained on demand."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import compress

from .._clock import Clock, system_clock
from ..config import Rule, Service, ServiceID
from ..errors import NoServiceAvailableError
from ..stats import InMemoryStatsStore, StatsStore
from ._base import BalancingTactic, CandidateSet, HealthView, SessionCounts, TacticEnv
from ._registry import create_tactic
from ._state import InMemoryTacticState, TacticState

#: How many distinct candidate sets a rule keeps precomputed (most recent first).
_MAX_SETS = 8


class LBDecision:
    """One load-balancing decision and why it was made.

    ``service`` won among ``candidates`` (service ids, after health filtering) by the rule's
    ``tactic`` (its name). ``excluded`` are the candidates dropped as unhealthy. ``degraded``
    is panic mode: every candidate was unhealthy, so all were kept. ``reason`` is a short
    human sentence (formatted on first read, so deciding stays cheap); :meth:`explain`
    renders the whole decision. Treat it as read-only.
    """

    __slots__ = (
        "_args",
        "_reason",
        "_template",
        "candidates",
        "degraded",
        "excluded",
        "rule",
        "service",
        "tactic",
    )

    rule: str
    service: Service
    tactic: str
    candidates: tuple[ServiceID, ...]
    excluded: tuple[ServiceID, ...]
    degraded: bool

    def __init__(
        self,
        *,
        rule: str,
        service: Service,
        tactic: str,
        candidates: tuple[ServiceID, ...],
        excluded: tuple[ServiceID, ...],
        degraded: bool,
        reason: str,
        reason_args: tuple[object, ...] = (),
    ) -> None:
        self.rule = rule
        self.service = service
        self.tactic = tactic
        self.candidates = candidates
        self.excluded = excluded
        self.degraded = degraded
        self._template = reason
        self._args = reason_args
        self._reason: str | None = None if reason_args else reason

    @property
    def reason(self) -> str:
        """Why the service won, in a short sentence."""
        reason = self._reason
        if reason is None:  # formatted from the kept template: threads may race harmlessly
            reason = self._reason = self._template.format(*self._args)
        return reason

    @property
    def service_id(self) -> ServiceID:
        """The chosen service's id."""
        return self.service.service_id

    def _key(self) -> tuple[object, ...]:
        return (
            self.rule,
            self.service,
            self.tactic,
            self.candidates,
            self.excluded,
            self.degraded,
            self.reason,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LBDecision):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"LBDecision(rule={self.rule!r}, service={self.service_id!r}, "
            f"tactic={self.tactic!r}, degraded={self.degraded}, reason={self.reason!r})"
        )

    def explain(self) -> str:
        """A readable multi-line account of the decision."""
        lines = [f"load balancer, rule {self.rule!r}, tactic {self.tactic}:"]
        if self.degraded:
            lines.append(
                f"  panic mode: all {len(self.candidates)} candidates are unhealthy, kept all"
            )
        elif self.excluded:
            lines.append(f"  dropped unhealthy: {', '.join(self.excluded)}")
        lines.append(f"  candidates: {', '.join(self.candidates)}")
        lines.append(f"  chose {self.service_id}: {self.reason}")
        return "\n".join(lines)


class _Entry:
    """What the balancer keeps per rule: its tactic and precomputed candidate sets."""

    __slots__ = ("active", "default", "ranks", "rule", "sets", "tactic", "uuid")

    def __init__(self, rule: Rule, tactic: BalancingTactic) -> None:
        self.rule = rule
        self.uuid = rule.uuid
        self.tactic = tactic
        self.active = rule.active_services()
        ranks: dict[ServiceID, int] = {}
        every = [*rule.services, *(s for block in rule.smart_routing for s in block.services)]
        for service in every:
            ranks.setdefault(service.service_id, len(ranks))
        self.ranks = ranks
        self.sets: tuple[tuple[tuple[Service, ...], CandidateSet | None], ...] = ()
        self.default = self.build(self.active)

    def build(self, services: tuple[Service, ...]) -> CandidateSet | None:
        """A prepared candidate set of the active, distinct ``services`` (None if none)."""
        seen: set[ServiceID] = set()
        kept: list[Service] = []
        for service in services:
            if not isinstance(service, Service):
                raise TypeError(
                    f"candidates of rule {self.uuid!r} must be Service objects, "
                    f"got {type(service).__name__}: {service!r}"
                )
            if service.active and service.service_id not in seen:
                seen.add(service.service_id)
                kept.append(service)
        if not kept:
            return None
        candidates = CandidateSet(tuple(kept), self.ranks)
        candidates.data = self.tactic.prepare(candidates)
        return candidates

    def lookup(self, services: tuple[Service, ...]) -> CandidateSet | None:
        """The candidate set for ``services``, built once and then reused."""
        sets = self.sets
        for key, candidates in sets:
            if key is services:
                return candidates
        for key, candidates in sets:
            if key == services:
                return candidates
        candidates = self.build(services)
        self.sets = ((services, candidates), *sets[: _MAX_SETS - 1])
        return candidates


class LoadBalancer:
    """Chooses a service for a rule with the rule's load-balancing tactic.

    ``stats`` defaults to an :class:`InMemoryStatsStore` on ``clock``; ``state`` (cursors and
    each rule's current service) to an :class:`InMemoryTacticState`; ``rng`` to a private
    ``random.Random()`` (pass a seeded one for reproducible choices). With ``health`` (any
    :class:`HealthView`) unhealthy candidates are dropped, or all kept in panic mode when
    none is healthy. ``sessions`` (any :class:`SessionCounts`) feeds ``capacity_based``.

    Each rule's tactic is built once and cached by rule uuid (rebuilt when the rule's tactic
    config changes), as are the lookups derived from each candidate set. Thread-safe.
    """

    def __init__(
        self,
        stats: StatsStore | None = None,
        *,
        health: HealthView | None = None,
        sessions: SessionCounts | None = None,
        state: TacticState | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        clock = clock if clock is not None else system_clock
        self._env = TacticEnv(
            stats=stats if stats is not None else InMemoryStatsStore(clock=clock),
            state=state if state is not None else InMemoryTacticState(),
            rng=rng if rng is not None else random.Random(),
            clock=clock,
            health=health,
            sessions=sessions,
        )
        self._is_healthy = health.is_healthy if health is not None else None
        self._any_unhealthy = getattr(health, "any_unhealthy", None)
        self._entries: dict[str, _Entry] = {}

    @property
    def stats(self) -> StatsStore:
        """The stats store tactics read."""
        return self._env.stats

    @property
    def state(self) -> TacticState:
        """The tactic state: each rule's cursor and current service."""
        return self._env.state

    @property
    def health(self) -> HealthView | None:
        """The health view, or None."""
        return self._env.health

    @property
    def sessions(self) -> SessionCounts | None:
        """The live session counts, or None."""
        return self._env.sessions

    def tactic_for(self, rule: Rule) -> BalancingTactic:
        """The (cached) tactic the balancer uses for ``rule``."""
        return self._entry(rule).tactic

    def select(self, rule: Rule, candidates: Sequence[Service] | None = None) -> Service:
        """Choose a service for ``rule`` among ``candidates`` (default: its active services).

        Inactive candidates never win; duplicates count once. Raises
        :class:`NoServiceAvailableError` when no active candidate is left, and ``TypeError``
        when ``rule`` is not a :class:`Rule` or a candidate is not a :class:`Service`.
        """
        return self._run(rule, candidates)[0]

    def decide(self, rule: Rule, candidates: Sequence[Service] | None = None) -> LBDecision:
        """Like :meth:`select`, but return the whole :class:`LBDecision` with its reason."""
        service, template, args, used, base, degraded = self._run(rule, candidates)
        excluded = () if used is base else tuple(i for i in base.ids if i not in used.index)
        return LBDecision(
            rule=rule.uuid,
            service=service,
            tactic=self._entry(rule).tactic.name,
            candidates=used.ids,
            excluded=excluded,
            degraded=degraded,
            reason=template,
            reason_args=args,
        )

    def _choose(
        self, rule: Rule, candidates: Sequence[Service]
    ) -> tuple[Service, str, int, bool, str, tuple[object, ...]]:
        """For the selector, whose health stage has already filtered ``candidates`` (so they
        are not checked again); what its trace needs of :meth:`decide`, without building it:
        (service, tactic name, candidates weighed, degraded, reason template, its args)."""
        service, template, args, used, _, degraded = self._run(rule, candidates, False)
        tactic = self._entries[rule.uuid].tactic.name  # _run made the entry
        return service, tactic, len(used.services), degraded, template, args

    def _entry(self, rule: Rule) -> _Entry:
        try:
            entry = self._entries.get(rule.uuid)
        except AttributeError:
            raise TypeError(f"rule must be a Rule, got {type(rule).__name__}") from None
        if entry is not None and entry.rule is rule:
            return entry
        if not isinstance(rule, Rule):
            raise TypeError(f"rule must be a Rule, got {type(rule).__name__}")
        if entry is not None and entry.tactic.config == rule.lb_tactic:
            tactic = entry.tactic
        else:
            tactic = create_tactic(rule.lb_tactic)
        entry = _Entry(rule, tactic)
        self._entries[rule.uuid] = entry
        return entry

    def _run(
        self, rule: Rule, services: Sequence[Service] | None, check_health: bool = True
    ) -> tuple[Service, str, tuple[object, ...], CandidateSet, CandidateSet, bool]:
        try:
            entry = self._entries.get(rule.uuid)
        except AttributeError:
            entry = None
        if entry is None or entry.rule is not rule:
            entry = self._entry(rule)
        if services is None or services is entry.active:
            base = entry.default
        else:
            base = entry.lookup(services if type(services) is tuple else tuple(services))
        if base is None:
            raise _no_service(entry, services)
        used = base
        degraded = False
        is_healthy = self._is_healthy if check_health else None
        if is_healthy is not None and (self._any_unhealthy is None or self._any_unhealthy()):
            keep = list(map(is_healthy, base.ids))
            if not all(keep):
                if any(keep):
                    healthy = entry.lookup(tuple(compress(base.services, keep)))
                    if healthy is not None:
                        used = healthy
                else:
                    degraded = True
        if len(used.services) == 1:
            service = used.services[0]
            template = "the only candidate left" if used is base else "the only healthy candidate"
            args: tuple[object, ...] = ()
        else:
            service, template, args = entry.tactic.pick(self._env, entry.uuid, used)
            if entry.tactic.records_pick:
                return service, template, args, used, base, degraded
        self._env.state.record(entry.uuid, service.service_id)
        return service, template, args, used, base, degraded

    def __repr__(self) -> str:
        return f"LoadBalancer({len(self._entries)} rules, health={self._env.health is not None})"


def _no_service(entry: _Entry, services: Sequence[Service] | None) -> NoServiceAvailableError:
    if services is None or services is entry.active:
        total = len(entry.rule.services)
        why = "it has no services" if not total else f"none of its {total} services is active"
    elif not services:
        why = "no candidates were given"
    else:
        why = f"none of the {len(services)} candidates given is an active service"
    return NoServiceAvailableError(
        f"rule {entry.uuid!r} has no service to choose: {why}", rule=entry.uuid
    )
