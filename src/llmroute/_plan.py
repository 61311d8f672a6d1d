"""A rule's candidate lists, resolved against the providers once and reused per request."""

from __future__ import annotations

from collections.abc import Mapping

from .config import Provider, Rule, Service, ServiceID
from .smart import SmartRouter


def failover_order(
    scope: tuple[Service, ...], chosen: ServiceID, unhealthy: frozenset[ServiceID]
) -> tuple[Service, ...]:
    """The services of ``scope`` other than ``chosen`` in the order failover tries them:
    healthy ones in config order, then the unhealthy ones as a last resort."""
    others = [s for s in scope if s.service_id != chosen]
    if unhealthy:
        others.sort(key=lambda s: s.service_id in unhealthy)  # stable: config order kept
    return tuple(others)


class RulePlan:
    """What the selector precomputes per rule (rebuilt when the rule or providers change).

    ``base``: the rule's active services whose provider is usable, de-duplicated, config
    order. ``blocks``: the same for each smart-routing block. ``skipped``: services left out
    and why (for traces and errors). ``providers``: service id -> :class:`Provider` (None
    when the selector has no providers). ``all_ids``: every id in ``base`` and ``blocks``.
    ``router``: a smart router over the rule's blocks, built here, when smart routing is on
    and has blocks.
    ``by_id``: the services of ``base`` by id.
    """

    __slots__ = (
        "_chains",
        "all_ids",
        "base",
        "blocks",
        "by_id",
        "providers",
        "router",
        "rule",
        "skipped",
    )

    def __init__(self, rule: Rule, providers: Mapping[str, Provider] | None) -> None:
        self.rule = rule
        self.providers: dict[ServiceID, Provider | None] = {}
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
        self.router: SmartRouter | None = (
            SmartRouter(rule.smart_routing) if rule.smart_enabled and rule.smart_routing else None
        )
        self._chains: dict[ServiceID, tuple[tuple[Service, Provider | None], ...]] = {}

    def chain(
        self, chosen: Service, scope: tuple[Service, ...], unhealthy: frozenset[ServiceID]
    ) -> tuple[tuple[Service, Provider | None], ...]:
        """(service, provider) of ``chosen``, then of its fallbacks in ``scope`` (see
        :func:`failover_order`). The usual case, the rule's own services all healthy, is
        built once per chosen service: it is the same for every request that service gets."""
        cacheable = scope is self.base and not unhealthy
        sid = chosen.service_id
        chain = self._chains.get(sid) if cacheable else None
        if chain is None:
            providers = self.providers
            chain = tuple(
                (s, providers.get(s.service_id))
                for s in (chosen, *failover_order(scope, sid, unhealthy))
            )
            if cacheable:
                self._chains[sid] = chain
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
        # All usable: keep the rule's own tuple, which the load balancer knows by identity.
        return services if len(kept) == len(services) else tuple(kept)

    def _skip(self, service_id: ServiceID, why: str) -> None:
        if all(sid != service_id for sid, _ in self.skipped):
            self.skipped.append((service_id, why))

    def skipped_text(self) -> str:
        """The skipped services and why, for traces and errors ('' when none)."""
        return "; ".join(f"{sid} ({why})" for sid, why in self.skipped)
