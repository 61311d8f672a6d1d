"""A rule's tactic and its candidate sets (:class:`RuleTactic`, what the selector runs), and the
standalone :class:`LoadBalancer` over in-memory stores, explained on demand."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from ..config import HealthConfig, ModelSpec, Rule, Service, ServiceID
from ..errors import NoServiceAvailableError
from ..health import HealthMonitor, HealthState, panic_filter
from ..state import EMPTY, InFlight, InMemoryTacticState, StateSnapshot, ewma_view, stats_view
from ..stats import InMemoryStatsStore
from ..typing import Clock, Rng, system_clock
from ._base import BalancingTactic, CandidateSet, HealthView, Pick, SessionCounts, Tokens
from ._registry import create_tactic
from ._simulate import Outcomes, SimClock, run_simulation, served

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


class RuleTactic:
    """A rule's tactic and its prepared candidate sets, built once per rule.

    ``lookup(services)`` returns the :class:`CandidateSet` of those services (active,
    distinct, in the order given), prepared once by the tactic and reused; ``choose`` runs the
    tactic over one. Thread-safe: sets are replaced, never mutated.
    """

    __slots__ = ("active", "ranks", "rule", "seed", "sets", "specs", "tactic")

    def __init__(
        self,
        rule: Rule,
        tactic: BalancingTactic | None = None,
        specs: Mapping[ServiceID, ModelSpec] | None = None,
    ) -> None:
        self.rule = rule
        self.specs = specs
        self.tactic = tactic if tactic is not None else create_tactic(rule.lb_tactic)
        self.active = rule.active_services()
        ranks: dict[ServiceID, int] = {}
        every = [*rule.services, *(s for block in rule.smart_routing for s in block.services)]
        for service in every:
            ranks.setdefault(service.service_id, len(ranks))
        self.ranks = ranks
        current = rule.current_service()
        self.seed = current.service_id if current is not None else None
        self.sets: tuple[tuple[tuple[Service, ...], CandidateSet | None], ...] = ()

    def build(self, services: tuple[Service, ...]) -> CandidateSet | None:
        """A prepared candidate set of the active, distinct ``services`` (None if none)."""
        seen: set[ServiceID] = set()
        kept: list[Service] = []
        for service in services:
            if not isinstance(service, Service):
                raise TypeError(
                    f"candidates of rule {self.rule.uuid!r} must be Service objects, "
                    f"got {type(service).__name__}: {service!r}"
                )
            if service.active and service.service_id not in seen:
                seen.add(service.service_id)
                kept.append(service)
        if not kept:
            return None
        candidates = CandidateSet(tuple(kept), self.ranks, self.specs, self.seed)
        candidates.data = self.tactic.prepare(candidates)
        return candidates

    def lookup(self, services: tuple[Service, ...]) -> CandidateSet | None:
        """The candidate set for ``services``, built once and then reused."""
        for key, candidates in self.sets:
            if key == services:
                return candidates
        candidates = self.build(services)
        self.sets = ((services, candidates), *self.sets[: _MAX_SETS - 1])
        return candidates

    def choose(
        self,
        candidates: CandidateSet,
        snapshot: StateSnapshot,
        rng: Rng,
        tokens: Tokens | None = None,
    ) -> Pick:
        """The tactic's pick among ``candidates`` (the only one, when there is one);
        ``tokens``: the request's estimated tokens, for a tactic that reads them."""
        if len(candidates.services) == 1:
            return candidates.services[0], "the only candidate left", ()
        if tokens is not None and self.tactic.reads_tokens:
            return self.tactic.pick_for(snapshot, candidates, rng, tokens)
        return self.tactic.pick(snapshot, candidates, rng)


class LoadBalancer:
    """Chooses a service for a rule with the rule's tactic, over stores you hold.

    The standalone form of what the selector does with one state read: ``stats`` (an
    :class:`InMemoryStatsStore` on ``clock`` by default), ``health`` (any
    :class:`HealthView`: unhealthy candidates are dropped, or all kept in panic mode),
    ``sessions`` (any :class:`SessionCounts`, for ``capacity_based``), ``state`` (cursors and
    turns, an :class:`InMemoryTacticState`), ``rng`` (seed it for reproducible choices). Each
    pick makes the chosen service the rule's current one. Tell it of calls with
    :meth:`started` / :meth:`finished` for ``least_busy``. :meth:`simulate` runs a rule's
    tactic over simulated outcomes on state of its own. Thread-safe.
    """

    def __init__(
        self,
        stats: InMemoryStatsStore | None = None,
        *,
        health: HealthView | None = None,
        sessions: SessionCounts | None = None,
        state: InMemoryTacticState | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else system_clock
        self._stats = stats if stats is not None else InMemoryStatsStore(clock=self._clock)
        self._state = state if state is not None else InMemoryTacticState()
        self._rng = rng if rng is not None else random.Random()
        self._health = health
        any_unhealthy = getattr(health, "any_unhealthy", None)
        self._any_unhealthy: Callable[[], bool] | None = (
            any_unhealthy if callable(any_unhealthy) else None
        )
        self._sessions = sessions
        self._in_flight = InFlight()
        self._rules: dict[str, RuleTactic] = {}

    @property
    def stats(self) -> InMemoryStatsStore:
        """The stats store tactics read."""
        return self._stats

    @property
    def state(self) -> InMemoryTacticState:
        """The tactic state: each rule's cursor and turn."""
        return self._state

    @property
    def health(self) -> HealthView | None:
        """The health view, or None."""
        return self._health

    @property
    def sessions(self) -> SessionCounts | None:
        """The live session counts, or None."""
        return self._sessions

    def started(self, service: Service) -> None:
        """Count a call to ``service`` as in flight (``least_busy`` reads the counts)."""
        self._in_flight.add(service.service_id, 1)

    def finished(self, service: Service) -> None:
        """Count a call to ``service`` as done."""
        self._in_flight.add(service.service_id, -1)

    def tactic_for(self, rule: Rule) -> BalancingTactic:
        """The (cached) tactic the balancer uses for ``rule``."""
        return self._rule(rule).tactic

    def select(self, rule: Rule, candidates: Sequence[Service] | None = None) -> Service:
        """Choose a service for ``rule`` among ``candidates`` (default: its active services).

        Inactive candidates never win; duplicates count once. Raises
        :class:`NoServiceAvailableError` when no active candidate is left, and ``TypeError``
        when ``rule`` is not a :class:`Rule` or a candidate is not a :class:`Service`.
        """
        return self.decide(rule, candidates).service

    def decide(self, rule: Rule, candidates: Sequence[Service] | None = None) -> LBDecision:
        """Like :meth:`select`, but return the whole :class:`LBDecision` with its reason."""
        entry = self._rule(rule)
        services = entry.active if candidates is None else tuple(candidates)
        base = entry.lookup(services)
        if base is None:
            raise _no_service(entry, candidates)
        used, degraded = base, False
        health, any_unhealthy = self._health, self._any_unhealthy
        if health is not None and (any_unhealthy is None or any_unhealthy()):
            kept, degraded = panic_filter(base.services, lambda s: health.is_healthy(s.service_id))
            if kept != base.services:
                used = entry.lookup(kept) or base
        snapshot = self._snapshot(entry, used, degraded)
        service, template, args = entry.choose(used, snapshot, self._rng)
        if len(used.services) == 1 and used is not base:
            template = "the only healthy candidate"
        self._state.record(rule.uuid, service.service_id)
        excluded = () if used is base else tuple(i for i in base.ids if i not in used.index)
        return LBDecision(
            rule=rule.uuid,
            service=service,
            tactic=entry.tactic.name,
            candidates=used.ids,
            excluded=excluded,
            degraded=degraded,
            reason=template,
            reason_args=args,
        )

    def simulate(
        self,
        rule: Rule,
        *,
        requests: int,
        seed: int = 0,
        outcome: Outcomes | None = None,
        interval: float = 1.0,
        health: HealthConfig | None = None,
    ) -> dict[ServiceID, int]:
        """The pick counts per service of ``requests`` picks for ``rule``, the state evolving
        as outcomes arrive; a pure function of its arguments (the same seed, the same counts).

        The run has state of its own, empty at the start: stats, health (``health``, this
        balancer's monitor's settings, or the defaults; recovery by time, probes are not
        run), the rule's cursor and turn, on a clock that moves ``interval`` seconds per
        request, and ``random.Random(seed)``. ``outcome(service, n)`` says what the n-th
        call (from 1) did, a :class:`SimulatedCall` (default: every call serves 100 + 200
        tokens in 300 ms): a success feeds the usage windows and latency the tactic reads, a
        failure (``error``) counts against the service's health, and an ejected service is
        not picked until it recovers. This balancer's own stores are not touched.
        """
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 0:
            raise ValueError(f"requests must be a whole number >= 0, got {requests!r}")
        if not (isinstance(interval, (int, float)) and 0 < interval < math.inf):
            raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
        if health is None:
            health = getattr(self._health, "config", None)
        settings = health if isinstance(health, HealthConfig) else HealthConfig()
        clock = SimClock()
        monitor = HealthMonitor(settings.model_copy(update={"probe_enabled": False}), clock=clock)
        twin = LoadBalancer(health=monitor, rng=random.Random(seed), clock=clock)
        return run_simulation(
            twin, monitor, clock, rule, requests, float(interval), outcome or served
        )

    def _snapshot(self, entry: RuleTactic, used: CandidateSet, degraded: bool) -> StateSnapshot:
        tactic, uuid = entry.tactic, entry.rule.uuid
        # Health was read once, by the filter: the candidates left are healthy, unless every
        # one was unhealthy (panic mode, all kept).
        unhealthy = EMPTY
        if degraded and tactic.reads_stats:
            down = HealthState(healthy=False, unhealthy_until=math.inf)
            unhealthy = MappingProxyType(dict.fromkeys(used.ids, down))
        sessions = self._sessions
        return StateSnapshot(
            now=self._clock(),
            unhealthy=unhealthy,
            stats=stats_view(self._stats) if tactic.reads_stats else EMPTY,
            ewma=ewma_view(self._stats, tactic.ewma_decay) if tactic.ewma_decay else EMPTY,
            sessions=(
                {sid: sessions.count_by_service(sid) for sid in used.ids}
                if sessions is not None and tactic.reads_sessions
                else EMPTY
            ),
            in_flight=self._in_flight.view() if tactic.reads_in_flight else EMPTY,
            cursor=self._state.cursor(uuid),
            turn=self._state.take_turn(uuid) if tactic.takes_turn else 0,
        )

    def _rule(self, rule: Rule) -> RuleTactic:
        if not isinstance(rule, Rule):
            raise TypeError(f"rule must be a Rule, got {type(rule).__name__}")
        entry = self._rules.get(rule.uuid)
        if entry is not None and entry.rule is rule:
            return entry
        tactic = (
            entry.tactic if entry is not None and entry.tactic.config == rule.lb_tactic else None
        )
        entry = self._rules[rule.uuid] = RuleTactic(rule, tactic)
        return entry

    def __repr__(self) -> str:
        return f"LoadBalancer({len(self._rules)} rules, health={self._health is not None})"


def _no_service(entry: RuleTactic, services: Sequence[Service] | None) -> NoServiceAvailableError:
    if services is None:
        total = len(entry.rule.services)
        why = "it has no services" if not total else f"none of its {total} services is active"
    elif not services:
        why = "no candidates were given"
    else:
        why = f"none of the {len(services)} candidates given is an active service"
    return NoServiceAvailableError(
        f"rule {entry.rule.uuid!r} has no service to choose: {why}", rule=entry.rule.uuid
    )
