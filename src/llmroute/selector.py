"""The ServiceSelector: the entry point that picks a service for a request and learns from
the outcome.

``selector.select(rule, request)`` runs the selection pipeline: resolve the candidates
(active services with enabled providers), then the stages — health, smart routing,
session affinity, load balancing — and returns a :class:`SelectionResult` that
can explain itself. ``selector.record(result, ...)`` feeds usage, latency and errors back
into stats, health and affinity. ``selector.execute(...)`` does both around your call.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from ._affinity_entry import lock_entry
from ._clock import Clock, system_clock
from ._plan import RulePlan
from ._selection import SelectionContext, SelectionResult, SelectionState
from ._selector_execute import SelectorExecuteMixin
from .affinity import (
    DEFAULT_SESSION_HEADERS,
    AffinityStore,
    InMemoryAffinityStore,
    SessionID,
)
from .config import Provider, RoutingConfig, Rule, Service
from .config._routing import index_providers
from .errors import NoServiceAvailableError
from .failures import Failure, classify_error
from .health import CooldownTracker, HealthMonitor
from .request import TokenCounter
from .stages import SelectionStage, affinity_key, default_stages
from .stats import InMemoryStatsStore, StatsStore
from .tactics import HealthView, InMemoryTacticState, LoadBalancer, TacticState
from .usage import Usage

__all__ = ["ServiceSelector"]


class ServiceSelector(SelectorExecuteMixin):
    """Chooses the service for each request and records how it went.

    ``providers`` (a list of :class:`Provider` or a :class:`RoutingConfig`) resolve each
    service's ``provider`` by uuid or name; a service whose provider is missing or disabled
    is skipped. Without providers every service is usable and results carry no provider.
    Every store defaults to its in-memory version on ``clock``: ``stats``, ``health`` (a
    :class:`HealthMonitor`; pass ``health=False`` to route without health), ``affinity``,
    ``tactic_state``. ``rng`` (a ``random.Random``; seed it for reproducible choices),
    ``token_counter`` (for the ``token`` ops; UTF-8 bytes / 4 by default),
    ``session_headers`` (headers that carry a session id) and ``stages`` (the pipeline)
    complete it. Thread-safe: share one selector across threads and requests.
    """

    def __init__(
        self,
        providers: Iterable[Provider] | RoutingConfig | None = None,
        *,
        stats: StatsStore | None = None,
        health: HealthView | bool | None = None,
        affinity: AffinityStore | None = None,
        tactic_state: TacticState | None = None,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        token_counter: TokenCounter | None = None,
        session_headers: Sequence[str] = DEFAULT_SESSION_HEADERS,
        stages: Sequence[SelectionStage] | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else system_clock
        config = providers if isinstance(providers, RoutingConfig) else None
        if health is None or health is True:
            health = HealthMonitor(config.health if config else None, clock=self._clock)
        self._health: HealthView | None = None if health is False else health
        self._stats: StatsStore = (
            stats if stats is not None else InMemoryStatsStore(clock=self._clock)
        )
        self._affinity: AffinityStore = (
            affinity if affinity is not None else InMemoryAffinityStore(clock=self._clock)
        )
        self._balancer = LoadBalancer(
            self._stats,
            health=self._health,
            sessions=self._affinity,
            state=tactic_state if tactic_state is not None else InMemoryTacticState(),
            rng=rng,
            clock=self._clock,
        )
        self.token_counter = token_counter
        self.session_headers = tuple(session_headers)
        self._stages: tuple[SelectionStage, ...] = (
            tuple(stages) if stages is not None else default_stages()
        )
        self._stage_names = tuple(stage.name for stage in self._stages)
        self._is_healthy = self._health.is_healthy if self._health is not None else None
        # The health view as execute()'s cooldown tracker, checked once: a runtime protocol
        # check costs more than a whole selection.
        self._cooldown: CooldownTracker | None = (
            self._health if isinstance(self._health, CooldownTracker) else None
        )
        self._any_unhealthy = getattr(self._health, "any_unhealthy", None)
        self._report_success = getattr(self._health, "report_success", None)
        self._report_error = getattr(self._health, "report_error", None)
        self._config = config
        self._providers: dict[str, Provider] | None = None
        self._plans: dict[str, RulePlan] = {}
        self.update_providers(
            config.providers if config is not None else cast("Iterable[Provider] | None", providers)
        )

    @classmethod
    def from_config(cls, config: RoutingConfig, **kwargs: Any) -> ServiceSelector:
        """A selector for ``config``'s providers and health settings; rules can then be named
        by uuid or request model in :meth:`select`."""
        return cls(config, **kwargs)

    # -- stores --------------------------------------------------------------------------

    @property
    def stats(self) -> StatsStore:
        """The stats store (usage windows, latency, speed) tactics read."""
        return self._stats

    @property
    def health(self) -> HealthView | None:
        """The health monitor (or view), None when routing without health."""
        return self._health

    @property
    def affinity(self) -> AffinityStore:
        """The affinity store holding session locks."""
        return self._affinity

    @property
    def balancer(self) -> LoadBalancer:
        """The load balancer that runs each rule's tactic."""
        return self._balancer

    @property
    def stages(self) -> tuple[SelectionStage, ...]:
        """The selection pipeline, in order."""
        return self._stages

    def update_config(self, config: RoutingConfig) -> None:
        """Swap in a reloaded configuration: its providers, rules (by name) and health
        settings. Runtime state keyed by service id and rule uuid (stats, health, affinity
        locks, tactic cursors) is kept, so nothing that still applies is lost."""
        if not isinstance(config, RoutingConfig):
            raise TypeError(f"config must be a RoutingConfig, got {type(config).__name__}")
        update_health = getattr(self._health, "update_config", None)
        if update_health is not None:
            update_health(config.health)
        self._config = config
        self.update_providers(config.providers)

    def update_providers(self, providers: Iterable[Provider] | None) -> None:
        """Swap the providers (after a config reload); runtime state is kept."""
        if providers is None:
            self._providers = None
        else:
            providers = tuple(providers)
            for provider in providers:
                if not isinstance(provider, Provider):
                    raise TypeError(f"providers must be Provider objects, got {provider!r}")
            self._providers = index_providers(providers)
        self._plans = {}  # last, after config and providers: see _plan()

    def provider_for(self, service: Service) -> Provider | None:
        """The provider a service names (by uuid or name), or None."""
        if self._providers is None:
            return None
        return self._providers.get(service.provider)

    # -- selecting -----------------------------------------------------------------------

    def select(
        self,
        rule: Rule | str,
        request: Any = None,
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> SelectionResult:
        """Choose the service for ``request`` under ``rule``.

        ``request`` is the body you hold (OpenAI / Anthropic dict, SDK object, a
        :class:`RequestContext`) or None. The session comes from ``session_id`` when given,
        else from the request, ``headers`` and ``client_ip`` (see ``resolve_session_id``);
        it is resolved only when the rule uses affinity. Raises
        :class:`NoServiceAvailableError` when no usable service is left, saying which stage
        removed what; all candidates unhealthy is not an error but a degraded result.
        """
        return self._select(rule, request, session_id, headers, client_ip, False)

    def select_for_embeddings(
        self,
        rule: Rule | str,
        request: Any = None,
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
    ) -> SelectionResult:
        """Like :meth:`select`, without smart routing (embedding requests carry no chat)."""
        return self._select(rule, request, session_id, headers, client_ip, True)

    def _select(
        self,
        rule: Rule | str,
        request: Any,
        session_id: SessionID | str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
        embeddings: bool,
    ) -> SelectionResult:
        # A Rule's cached plan, found without _plan()'s checks (which handle everything else).
        plan = self._plans.get(rule.uuid) if type(rule) is Rule else None
        if plan is None or plan.rule is not rule:
            plan = self._plan(rule)
        rule = plan.rule
        if not rule.active:
            raise NoServiceAvailableError(f"rule {rule.uuid!r} is not active", rule=rule.uuid)
        if not plan.base and not plan.blocks:
            raise _nothing_usable(plan)
        if isinstance(session_id, str):  # the caller's own session id counts as a header's
            value = session_id.strip()
            session_id = SessionID("header", value, client_ip or "") if value else None
        now = self._clock()
        # Positional arguments here and below: matching a dozen keyword names costs more than
        # the rest of constructing these objects.
        ctx = SelectionContext(self, plan, request, session_id, headers, client_ip, now, embeddings)
        state = SelectionState(plan.base)
        ran = 0  # how many stages ran; their names are a prefix of self._stage_names
        for stage in self._stages:
            ran += 1
            stage.evaluate(ctx, state)
            if state.chosen is not None:
                break
        chosen = state.chosen
        if chosen is None:
            raise NoServiceAvailableError(
                f"rule {rule.uuid!r}: no stage chose a service "
                f"(stages: {', '.join(self._stage_names)})",
                rule=rule.uuid,
            )
        lock_key = None
        if rule.session_affinity > 0:
            session_key = ctx.session_key
            if session_key:
                lock_key = affinity_key(session_key, rule.affinity_scope, state.block_index)
                if state.source != "affinity":
                    entry = lock_entry(chosen.service_id, now, float(rule.session_affinity))
                    self._affinity.set(rule.uuid, lock_key, entry)
        return SelectionResult(
            plan,
            chosen,
            plan.providers.get(chosen.service_id),  # provider
            state.source,
            self._stage_names if ran == len(self._stage_names) else self._stage_names[:ran],
            state.block_index,  # matched_smart_rule_index
            ctx.session_resolved,  # session_id
            state.degraded,
            state.trace,  # the state ends here, so the result takes its list
            state.scope,
            state.unhealthy,
            lock_key,
        )

    def _plan(self, rule: Rule | str) -> RulePlan:
        # The cache is read before the config and providers, which a reload swaps before it
        # swaps the cache: a plan built from replaced ones lands in the discarded cache.
        plans = self._plans
        try:
            key = rule if isinstance(rule, str) else rule.uuid
        except AttributeError:
            raise TypeError(
                f"rule must be a Rule or a rule uuid, got {type(rule).__name__}"
            ) from None
        plan = plans.get(key)
        if plan is not None and (plan.rule is rule or isinstance(rule, str)):
            return plan
        if isinstance(rule, str):
            config = self._config
            found = config.get_rule(rule) if config is not None else None
            if found is None:
                where = "in the configuration" if config is not None else "(no config given)"
                raise NoServiceAvailableError(f"no rule {rule!r} {where}", rule=rule)
            plan = RulePlan(found, self._providers)
        elif isinstance(rule, Rule):
            plan = RulePlan(rule, self._providers)
        else:
            raise TypeError(f"rule must be a Rule or a rule uuid, got {type(rule).__name__}")
        plans[key] = plan
        return plan

    # -- recording outcomes --------------------------------------------------------------

    def record(
        self,
        result: SelectionResult,
        *,
        service: Service | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cached_tokens: int = 0,
        latency_ms: float | None = None,
        ttft_ms: float | None = None,
        error: BaseException | Failure | int | None = None,
    ) -> Failure | None:
        """Feed a request's outcome back: stats, health and the session's affinity lock.

        ``service`` is the one that served (default ``result.service``; pass the fallback
        that served when you failed over yourself). On success: usage (the request, its
        tokens and whether ``cached_tokens`` hit the prompt cache), latency, time to first
        token and output speed go to stats; health hears of the success; and a session
        served by a fallback has its lock moved there. On ``error`` (an exception, a
        :class:`Failure` or a status code) the error is classified once; health hears of it,
        and a failure of the service (not of the request) releases the session's lock so
        the next request can move. Returns the classification (None on success).
        """
        served = service if service is not None else result.service
        if error is not None:
            return self._note_failure(result, served, error, report_health=True)
        usage = Usage(input_tokens, output_tokens, cached_tokens)
        self._note_success(result, served, usage, latency_ms, ttft_ms, report_health=True)
        return None

    def _note_success(
        self,
        result: SelectionResult,
        served: Service,
        usage: Usage | None,
        latency_ms: float | None,
        ttft_ms: float | None,
        *,
        report_health: bool,
    ) -> None:
        stats = self._stats
        input_tokens = usage.input_tokens if usage is not None else 0
        output_tokens = usage.output_tokens if usage is not None else 0
        stats.record_usage(served, input_tokens, output_tokens)
        if latency_ms is not None:
            stats.record_latency(served, latency_ms)
            generating_ms = latency_ms - (ttft_ms or 0.0)
            if output_tokens > 0 and generating_ms > 0:
                stats.record_speed(served, output_tokens * 1000.0 / generating_ms)
        if ttft_ms is not None:
            stats.record_ttft(served, ttft_ms)
        if usage is not None and input_tokens > 0:
            stats.record_cache(served, usage.cached_tokens > 0)
        if report_health and self._report_success is not None:
            self._report_success(served.service_id)
        lock_key = result._lock_key
        if lock_key is not None and served.service_id != result.service.service_id:
            entry = lock_entry(
                served.service_id, self._clock(), float(result.rule.session_affinity)
            )
            self._affinity.set(result.rule.uuid, lock_key, entry)

    def _note_failure(
        self,
        result: SelectionResult,
        served: Service,
        error: BaseException | Failure | int,
        *,
        report_health: bool,
    ) -> Failure:
        if report_health and self._report_error is not None:
            failure: Failure = self._report_error(served.service_id, error)
        else:
            failure = classify_error(error, now=self._clock())
        lock_key = result._lock_key
        if failure.counts_against_health and lock_key is not None:
            entry = self._affinity.get(result.rule.uuid, lock_key)
            if entry is not None and entry.service == served.service_id:
                self._affinity.delete(result.rule.uuid, lock_key)
        return failure

    def __repr__(self) -> str:
        providers = (
            "none" if self._providers is None else str(len(set(map(id, self._providers.values()))))
        )
        return f"ServiceSelector(providers={providers}, stages={[s.name for s in self._stages]})"


def _nothing_usable(plan: RulePlan) -> NoServiceAvailableError:
    rule = plan.rule
    if not rule.services and not rule.smart_routing:
        why = "it has no services"
    elif not rule.active_services() and not plan.skipped:
        why = "none of its services is active"
    else:
        why = f"every service was skipped: {plan.skipped_text() or 'none active'}"
    return NoServiceAvailableError(
        f"rule {rule.uuid!r} has no usable service: {why}", rule=rule.uuid
    )
