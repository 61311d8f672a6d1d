"""A rule's plan: its candidate lists resolved against the providers, its tactic and the
static part of its state query, built once per rule and reused by every request."""

from __future__ import annotations

from collections.abc import Mapping

from ..config import (
    HealthConfig,
    ModelCatalog,
    ModelSpec,
    Provider,
    RoutingConfig,
    Rule,
    Service,
    ServiceID,
    spec_of,
)
from ..errors import NoServiceAvailableError
from ..smart import SmartRouter
from ..state import StateQuery
from ..tactics import RuleTactic
from ._fit import FitPlan

__all__ = ["PlanCache", "RulePlan", "failover_order"]


def failover_order(
    scope: tuple[Service, ...],
    chosen: ServiceID,
    unhealthy: frozenset[ServiceID],
    tiered: bool = False,
) -> tuple[Service, ...]:
    """The services of ``scope`` other than ``chosen`` in the order failover tries them:
    healthy ones in config order, then the unhealthy ones as a last resort; ``tiered`` (the
    rule's tactic prefers tiers): the healthy ones tier by tier, lowest first."""
    others = [s for s in scope if s.service_id != chosen]
    if tiered:  # stable: config order kept inside a tier
        others.sort(key=lambda s: (s.service_id in unhealthy, s.tier))
    else:
        others.sort(key=lambda s: s.service_id in unhealthy)  # stable: config order kept
    return tuple(others)


class RulePlan:
    """What the selector precomputes per rule (rebuilt when the rule or providers change).

    ``base``: the rule's active services whose provider is usable, de-duplicated, config
    order. ``blocks``: the same for each smart-routing block. ``skipped``: services left out
    and why (for traces and errors). ``providers``: service id -> :class:`Provider` (None
    when the selector has no providers). ``all_ids``: every id in ``base`` and ``blocks``.
    ``router``: the rule's smart router when smart routing is on and has blocks.
    ``by_id``: the services of ``base`` by id; ``base_ids`` / ``block_ids``: the ids of
    ``base`` and of each block; ``service_by_id``: every service of the plan by id.
    ``tactic``: the rule's tactic and candidate sets; ``base_set``: the candidate set of
    ``base`` (None when it is empty). ``query``: the state query of a request without a
    session, and ``turn_query`` the same taking the round-robin turn (the execute forms'),
    both leasing probes when ``lease_probes``; they also ask for the figures the rule's live
    smart ops read. ``unusable_blocks``: the indexes of the blocks with no usable service
    (passed over). ``use_health``: whether the selector routes
    by health. ``affinity``: whether the rule pins sessions. ``usable``: whether the rule is
    active and has a usable service (else :meth:`unusable` says why not).
    ``specs``: the catalog figures of each service that has any (catalog entries and its
    ``model_info``); empty when none has, and then the fit stage costs nothing. ``fit``:
    the rule's :class:`FitPlan` (None without specs; the fit stage runs only when it
    :attr:`~FitPlan.works`).
    """

    def __init__(
        self,
        rule: Rule,
        providers: Mapping[str, Provider] | None,
        health: HealthConfig,
        use_health: bool = True,
        lease_probes: bool = False,
        catalog: ModelCatalog | None = None,
    ) -> None:
        self.rule = rule
        self.health = health
        self.use_health = use_health
        self.affinity = rule.session_affinity > 0
        self.providers: dict[str, Provider | None] = {}
        self.skipped: list[tuple[ServiceID, str]] = []
        self.base = self._usable(rule.active_services(), providers)
        self.by_id = {s.service_id: s for s in self.base}
        self.blocks = tuple(
            self._usable(tuple(s for s in block.services if s.active), providers)
            for block in rule.smart_routing
        )
        ids: dict[ServiceID, None] = dict.fromkeys(s.service_id for s in self.base)
        for block in self.blocks:
            ids.update(dict.fromkeys(s.service_id for s in block))
        self.all_ids = tuple(ids)
        self.base_ids = frozenset(self.by_id)
        self.block_ids = tuple(frozenset(s.service_id for s in block) for block in self.blocks)
        self.service_by_id: dict[str, Service] = {
            s.service_id: s for s in (*self.base, *(s for b in self.blocks for s in b))
        }
        self.specs = self._specs(catalog or ModelCatalog(), providers)
        self.fit: FitPlan | None = FitPlan(self.specs, self.all_ids) if self.specs else None
        self.router: SmartRouter | None = (
            SmartRouter(rule.smart_routing, services=self.blocks)
            if rule.smart_enabled and rule.smart_routing
            else None
        )
        # A block that matches with no usable service is passed over (tingly-box's rule).
        self.unusable_blocks = frozenset(i for i, block in enumerate(self.blocks) if not block)
        reads = self.router.reads if self.router is not None else frozenset()
        self.tactic = RuleTactic(rule, specs=self.specs)
        self.base_set = self.tactic.lookup(self.base)
        self._chains: dict[ServiceID, tuple[tuple[Service, Provider | None], ...]] = {}
        tactic = self.tactic.tactic
        self.query = StateQuery(
            rule=rule.uuid,
            services=self.all_ids,
            stats=tactic.reads_stats or "stats" in reads,
            ewma_decay=tactic.ewma_decay,
            sessions=tactic.reads_sessions or "sessions" in reads,
            cursor=tactic.keeps_current,
            in_flight=tactic.reads_in_flight,
            turn=tactic.takes_turn,
            lease_probes=lease_probes,
            health=health,
        )
        self.turn_query = self.query._replace(take_turn=tactic.takes_turn)
        self.usable = rule.active and bool(self.base or self.blocks)

    def _specs(
        self, catalog: ModelCatalog, providers: Mapping[str, Provider] | None
    ) -> dict[ServiceID, ModelSpec]:
        """The figures of each service of the plan that has any known."""
        known = dict(providers) if providers is not None else {}
        specs: dict[ServiceID, ModelSpec] = {}
        for service in self.service_by_id.values():
            spec = spec_of(service, catalog, known)
            if spec.known():
                specs[service.service_id] = spec
        return specs

    def pair(self, service_id: str) -> tuple[Service, Provider | None]:
        """(the service with this id, its provider); ids compare as plain strings."""
        return self.service_by_id[service_id], self.providers.get(service_id)

    def chain(
        self, chosen: Service, scope: tuple[Service, ...], unhealthy: frozenset[ServiceID]
    ) -> tuple[tuple[Service, Provider | None], ...]:
        """(service, provider) of ``chosen``, then of its fallbacks in ``scope`` (see
        :func:`failover_order`). The usual chain, over the rule's own services all healthy,
        is built once per chosen service: it is the same for every request it serves."""
        cacheable = scope is self.base and not unhealthy
        chain = self._chains.get(chosen.service_id) if cacheable else None
        if chain is None:
            tiered = self.tactic.tactic.prefers_tiers
            order = (chosen, *failover_order(scope, chosen.service_id, unhealthy, tiered))
            chain = tuple((s, self.providers.get(s.service_id)) for s in order)
            if cacheable:
                self._chains[chosen.service_id] = chain
        return chain

    def _usable(
        self, services: tuple[Service, ...], providers: Mapping[str, Provider] | None
    ) -> tuple[Service, ...]:
        kept: list[Service] = []
        seen: set[ServiceID] = set()
        for service in services:
            sid = service.service_id
            if sid in seen:
                continue
            seen.add(sid)
            if providers is None:
                self.providers[sid] = None
                kept.append(service)
                continue
            provider = providers.get(service.provider)
            if provider is None:
                self._skip(sid, f"provider {service.provider!r} is not configured")
            elif not provider.enabled:
                self._skip(sid, f"provider {provider.name!r} is disabled")
            else:
                self.providers[sid] = provider
                kept.append(service)
        return tuple(kept)

    def _skip(self, service_id: ServiceID, why: str) -> None:
        if all(sid != service_id for sid, _ in self.skipped):
            self.skipped.append((service_id, why))

    def skipped_text(self) -> str:
        """The skipped services and why, for traces and errors ('' when none)."""
        return "; ".join(f"{sid} ({why})" for sid, why in self.skipped)

    def unusable(self) -> NoServiceAvailableError:
        """The error for a rule that is not :attr:`usable`: inactive, or why it has no
        usable service."""
        rule = self.rule
        if not rule.active:
            return NoServiceAvailableError(f"rule {rule.uuid!r} is not active", rule=rule.uuid)
        if not rule.services and not rule.smart_routing:
            why = "it has no services"
        elif not rule.active_services() and not self.skipped:
            why = "none of its services is active"
        else:
            why = f"every service was skipped: {self.skipped_text() or 'none active'}"
        return NoServiceAvailableError(
            f"rule {rule.uuid!r} has no usable service: {why}", rule=rule.uuid
        )


class PlanCache:
    """The plans of the rules a selector has served, by rule uuid, built under the selector's
    settings of the moment (``config`` and its model catalog, ``providers``, ``health``,
    ``use_health``, ``lease_probes``; see :class:`RulePlan`): a reload makes a new cache."""

    def __init__(
        self,
        config: RoutingConfig | None = None,
        providers: Mapping[str, Provider] | None = None,
        health: HealthConfig | None = None,
        use_health: bool = True,
        lease_probes: bool = False,
    ) -> None:
        self._plans: dict[str, RulePlan] = {}
        self._config = config
        self._providers = providers
        self._health = health if health is not None else HealthConfig()
        self._use_health = use_health
        self._lease_probes = lease_probes
        self._catalog = config.catalog if config is not None else None

    def plan(self, rule: Rule | str) -> RulePlan:
        """The plan of ``rule`` (a :class:`Rule`, or a uuid / request model of ``config``),
        with the figures of ``config``'s model catalog."""
        key = rule if isinstance(rule, str) else getattr(rule, "uuid", None)
        if not isinstance(key, str):
            raise TypeError(f"rule must be a Rule or a rule uuid, got {type(rule).__name__}")
        plan = self._plans.get(key)
        if plan is not None and (plan.rule is rule or isinstance(rule, str)):
            return plan
        if isinstance(rule, str):
            config = self._config
            found = config.get_rule(rule) if config is not None else None
            if found is None:
                where = "in the configuration" if config is not None else "(no config given)"
                raise NoServiceAvailableError(f"no rule {rule!r} {where}", rule=rule)
            rule = found
        elif not isinstance(rule, Rule):
            raise TypeError(f"rule must be a Rule or a rule uuid, got {type(rule).__name__}")
        plan = self._plans[key] = RulePlan(
            rule,
            self._providers,
            self._health,
            self._use_health,
            self._lease_probes,
            self._catalog,
        )
        return plan
