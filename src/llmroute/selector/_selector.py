"""The ServiceSelector: picks a service for each request from one state read, and learns
from each outcome with one state write. ``select`` / ``aselect`` read the store once and run
the pure stages of :mod:`._stages` on the snapshot; nothing is written. ``record`` /
``arecord`` write one outcome. The execute forms (:mod:`._execute`) do both around your call.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..affinity import DEFAULT_SESSION_HEADERS, InMemoryAffinityStore, SessionID, pin_keys
from ..config import HealthConfig, Provider, RoutingConfig, Rule, Service, index_providers
from ..execute import RetryBudget
from ..failures import Failure, classify_error
from ..health import HealthMonitor
from ..request import TokenCounter
from ..state import (
    InMemoryState,
    InMemoryTacticState,
    Outcome,
    StateQuery,
    StateSnapshot,
)
from ..stats import InMemoryStatsStore
from ..typing import AsyncProbe, AsyncStateStore, Clock, Probe, Rng, StateStore, system_clock
from ..usage import Usage
from . import _forms
from ._outcome import (
    aread_state,
    awrite_outcome,
    build_outcome,
    configure_store,
    read_state,
    store_budget,
    store_counter,
    write_outcome,
)
from ._plan import PlanCache, RulePlan
from ._probe_pin import ProbeHeader
from ._probes import ProbeRunner
from ._result import Request, SelectionResult
from ._scenario import scenario_rule
from ._stages import decide

__all__ = ["ServiceSelector"]


class ServiceSelector:
    """Chooses the service for each request and records how it went.

    ``providers`` (a list of :class:`Provider` or a :class:`RoutingConfig`) resolve each
    service's ``provider`` by uuid or name; a service whose provider is missing or disabled
    is skipped. Without providers every service is usable and results carry no provider.

    ``state`` is the state store (any ``StateStore`` / ``AsyncStateStore``; an
    :class:`InMemoryState` on ``clock`` by default). Without ``state``, the in-memory store is
    built from the parts you pass: ``health`` (a :class:`HealthMonitor`; ``False`` routes
    without health), ``stats``, ``affinity`` and ``tactic_state``. ``probe`` checks an
    ejected service once its recovery time has passed (with ``health.probe_enabled``); it runs
    on a worker thread (or a task for ``aselect``), never inside a selection. ``rng`` (seed it
    for reproducible choices), ``token_counter`` (for the ``token`` ops),
    ``session_headers`` (headers that carry a session id) and ``session_from_ip`` (the client
    ip identifies a session when nothing else does; off: everyone behind one proxy or NAT
    would share a session) complete it. ``retry_budget``: the :class:`RetryBudget` its execute
    forms share (True: a default one, or the store's fleet-wide one when the store makes them,
    ``typing.SharesRetryBudget``; False: none). ``probe_header`` (off by default): a
    request whose ``headers`` carry it, naming a candidate ``provider:model`` of the rule, is
    routed there alone (no smart routing, pin, balancing or fallbacks); another value is
    ignored with a warning. Thread-safe.
    """

    def __init__(
        self,
        providers: Iterable[Provider] | RoutingConfig | None = None,
        *,
        state: StateStore | AsyncStateStore | None = None,
        health: HealthMonitor | bool | None = None,
        probe: Probe | AsyncProbe | None = None,
        stats: InMemoryStatsStore | None = None,
        affinity: InMemoryAffinityStore | None = None,
        tactic_state: InMemoryTacticState | None = None,
        rng: Rng | None = None,
        clock: Clock | None = None,
        token_counter: TokenCounter | None = None,
        session_headers: Sequence[str] = DEFAULT_SESSION_HEADERS,
        session_from_ip: bool = False,
        retry_budget: RetryBudget | bool = True,
        probe_header: str | None = None,
    ) -> None:
        self._clock: Clock = clock if clock is not None else system_clock
        self._config = providers if isinstance(providers, RoutingConfig) else None
        health_config = self._config.health if self._config is not None else HealthConfig()
        monitor = health if isinstance(health, HealthMonitor) else None
        if monitor is not None:
            health_config = monitor.config
            probe = probe if probe is not None else monitor.probe
        elif probe is not None and self._config is None:
            health_config = HealthConfig(probe_enabled=True)  # a probe given is a probe used
        if state is None:
            if monitor is None:
                monitor = HealthMonitor(health_config, clock=self._clock, probe=probe)
            state = InMemoryState(
                clock=self._clock,
                stats=stats,
                health=monitor,
                affinity=affinity,
                tactics=tactic_state,
            )
        elif monitor is not None or stats is not None or affinity is not None or tactic_state:
            raise TypeError("pass either state= or its in-memory parts, not both")
        if not any(callable(getattr(state, name, None)) for name in ("read", "aread")):
            raise TypeError(f"state must have read() or aread(), got {type(state).__name__}")
        self._state = state
        self._sync_store = callable(getattr(state, "write", None))
        self._use_health = health is not False
        self._health_config = health_config
        self._probes = ProbeRunner(state, probe, self._clock)
        self._check_probe(health_config)
        if self._config is not None and getattr(state, "use_config", None) is not None:
            configure_store(state, self._config)
        self._rng: Rng = rng if rng is not None else random.Random()
        self._in_flight = store_counter(state)
        self.token_counter = token_counter
        self.session_headers = tuple(session_headers)
        self.session_from_ip = session_from_ip
        self.retry_budget = store_budget(state, retry_budget)
        self._probe_header = ProbeHeader(probe_header) if probe_header is not None else None
        self._providers: dict[str, Provider] | None = None
        self.update_providers(
            self._config.providers if self._config is not None else providers  # type: ignore[arg-type]
        )

    @classmethod
    def from_config(cls, config: RoutingConfig, **kwargs: Any) -> ServiceSelector:
        """A selector for ``config``'s providers and health settings; rules can then be named
        by uuid or request model in :meth:`select`."""
        return cls(config, **kwargs)

    # -- what it holds -------------------------------------------------------------------

    @property
    def config(self) -> RoutingConfig | None:
        """The configuration in force (None when built from a provider list)."""
        return self._config

    # The execute forms, defined in ._forms and run by ._execute.
    execute = _forms.execute
    aexecute = _forms.aexecute
    execute_stream = _forms.execute_stream
    aexecute_stream = _forms.aexecute_stream

    @property
    def clock(self) -> Clock:
        """The clock the selector reads."""
        return self._clock

    @property
    def state(self) -> Any:
        """The state store."""
        return self._state

    @property
    def stats(self) -> InMemoryStatsStore | None:
        """The in-memory store's stats part (None with another store)."""
        return getattr(self._state, "stats", None)

    @property
    def health(self) -> HealthMonitor | None:
        """The in-memory store's health part (None with another store or without health)."""
        return getattr(self._state, "health", None) if self._use_health else None

    @property
    def affinity(self) -> Any:
        """The in-memory store's pins (None with another store)."""
        return getattr(self._state, "affinity", None)

    def join_probes(self, timeout: float | None = None) -> None:
        """Wait for the health probes this selector started on worker threads to answer."""
        self._probes.join(timeout)

    def in_flight(self, service: Service | str) -> int:
        """How many calls this selector has in flight to ``service`` (a service or its id);
        with a store that counts them (``typing.CountsInFlight``, e.g. ``RedisState``), every
        selector on that store in this replica. ``least_busy`` reads the store's fleet-wide
        counts."""
        return self._in_flight.count(service if isinstance(service, str) else service.service_id)

    def provider_for(self, service: Service) -> Provider | None:
        """The provider a service names (by uuid or name), or None."""
        return None if self._providers is None else self._providers.get(service.provider)

    def update_config(self, config: RoutingConfig) -> None:
        """Swap in a reloaded configuration: its providers, rules and health settings. State
        keyed by service id and rule uuid (stats, health, pins, cursors) is kept."""
        if not isinstance(config, RoutingConfig):
            raise TypeError(f"config must be a RoutingConfig, got {type(config).__name__}")
        self._check_probe(config.health)
        configure_store(self._state, config)
        self._health_config = config.health
        self._config = config
        self.update_providers(config.providers)

    def update_providers(self, providers: Iterable[Provider] | None) -> None:
        """Swap the providers (after a config reload); state is kept."""
        if providers is None:
            self._providers = None
        else:
            providers = tuple(providers)
            for provider in providers:
                if not isinstance(provider, Provider):
                    raise TypeError(f"providers must be Provider objects, got {provider!r}")
            self._providers = index_providers(providers)
        leasing = self._probes.active and self._use_health
        self._plans = PlanCache(
            self._config, self._providers, self._health_config, self._use_health, leasing
        )

    # -- selecting -----------------------------------------------------------------------

    def select(
        self,
        rule: Rule | str | None,
        request: Any = None,
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        scenario: str | None = None,
    ) -> SelectionResult:
        """Choose the service for ``request`` under ``rule``; writes nothing.

        ``request`` is the body you hold (OpenAI / Anthropic dict, SDK object, a
        :class:`RequestContext`) or None. The session comes from ``session_id`` when given,
        else from the request, ``headers`` and ``client_ip`` (see ``resolve_session_id``);
        it is resolved only when the rule uses affinity. Raises
        :class:`NoServiceAvailableError` when no usable service is left, saying which stage
        removed what; all candidates unhealthy is not an error but a degraded result. The
        same session and state give the same answer: pass the result to :meth:`record`.
        With ``rule=None`` and ``scenario=``, the rule is the config's for that scenario and
        the request's model (:meth:`RoutingConfig.rule_for`; a miss is a
        :class:`NoServiceAvailableError` naming both); every execute form takes it too.
        """
        plan, req, query = self.prepare(
            rule, request, session_id, headers, client_ip, scenario=scenario
        )
        return self.decide(plan, req, self.read(query), False)

    async def aselect(
        self,
        rule: Rule | str | None,
        request: Any = None,
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        scenario: str | None = None,
    ) -> SelectionResult:
        """:meth:`select` for async callers: the state read is awaited."""
        plan, req, query = self.prepare(
            rule, request, session_id, headers, client_ip, scenario=scenario
        )
        return self.decide(plan, req, await self.aread(query), False)

    def select_for_embeddings(
        self,
        rule: Rule | str | None,
        request: Any = None,
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        scenario: str | None = None,
    ) -> SelectionResult:
        """Like :meth:`select`, without smart routing (embedding requests carry no chat)."""
        plan, req, query = self.prepare(
            rule, request, session_id, headers, client_ip, embeddings=True, scenario=scenario
        )
        return self.decide(plan, req, self.read(query), False)

    def read(self, query: StateQuery) -> StateSnapshot:
        """One read of the state store. A store that raises fails open: the error is logged
        and the selection goes on from an empty snapshot (every service healthy, no pins)."""
        return read_state(self._state, query, self._clock)

    async def aread(self, query: StateQuery) -> StateSnapshot:
        """One awaited read of the state store (its sync read when it has no async one);
        fails open as :meth:`read` does."""
        return await aread_state(self._state, query, self._clock)

    def prepare(
        self,
        rule: Rule | str | None,
        request: Any,
        session_id: SessionID | str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
        *,
        embeddings: bool = False,
        take_turn: bool = False,
        scenario: str | None = None,
    ) -> tuple[RulePlan, Request, StateQuery]:
        """The plan, request and state query of a selection. ``take_turn``: the read takes
        the round-robin turn (the execute forms do; ``select()`` only peeks at it);
        ``scenario``: find the rule by scenario (``rule`` None)."""
        req = Request(
            request,
            session_id,
            headers,
            client_ip,
            self.session_headers,
            self.token_counter,
            embeddings,
            self.session_from_ip,
        )
        if rule is None or scenario is not None:
            rule, found = scenario_rule(self._config, rule, scenario, req)
            req.notes = (found,)
        plan = self._plans.plan(rule)  # read once: a reload swaps the whole cache
        if not plan.usable:
            raise plan.unusable()
        if self._probe_header is not None and headers:
            self._probe_header.apply(plan, req, headers)
        if req.probe is not None:  # a probe pin reads no pins and takes no turn
            return plan, req, plan.query
        query = plan.turn_query if take_turn else plan.query
        if plan.affinity:
            rule = plan.rule
            keys = pin_keys(req.session_key, rule.affinity_scope, len(rule.smart_routing))
            if keys:
                query = query._replace(pin_keys=keys)
        return plan, req, query

    def decide(
        self, plan: RulePlan, request: Request, snapshot: StateSnapshot, took_turn: bool
    ) -> SelectionResult:
        """Run the stages on a snapshot read for ``plan``'s query; starts the probes the read
        took leases for."""
        if snapshot.probes:
            self._probes.start(plan.rule.uuid, snapshot.probes, self._health_config)
        if plan.tactic.tactic.reads_in_flight:
            snapshot = snapshot._replace(in_flight=self._in_flight.view())
        return decide(plan, request, snapshot, self._rng, took_turn)

    def _check_probe(self, health: HealthConfig) -> None:
        if health.probe_enabled and not self._probes.has_probe:
            raise ValueError("health config has probe_enabled=true but no probe= was given")
        self._probes.enabled = health.probe_enabled

    # -- recording outcomes --------------------------------------------------------------

    def outcome(
        self,
        result: SelectionResult,
        service: Service | None = None,
        *,
        usage: Usage | None = None,
        latency_ms: float | None = None,
        ttft_ms: float | None = None,
        error: BaseException | Failure | int | None = None,
        cancelled: bool = False,
    ) -> tuple[Outcome, Failure | None]:
        """The :class:`Outcome` to write for ``result`` served (or not) by ``service``, and
        the failure's classification (None on success)."""
        served = service if service is not None else result.service
        failure = None if error is None else classify_error(error, now=self._clock())
        outcome = build_outcome(
            result, served, self._health_config, usage, latency_ms, ttft_ms, failure, cancelled
        )
        return outcome, failure

    record = _forms.record
    arecord = _forms.arecord

    def write(self, outcome: Outcome) -> None:
        """One write of the state store; a store that raises is logged, never re-raised."""
        if not self._sync_store:
            raise TypeError(f"{type(self._state).__name__} is async only: use arecord()")
        write_outcome(self._state, outcome)

    async def awrite(self, outcome: Outcome) -> None:
        """One awaited write of the state store (its sync write when it has no async one);
        a store that raises is logged, never re-raised."""
        await awrite_outcome(self._state, outcome)

    def started(self, service: Service) -> None:
        """Count a call to ``service`` as in flight (the execute forms do)."""
        self._in_flight.add(service.service_id, 1)

    def finished(self, service: Service) -> None:
        """Count a call to ``service`` as done."""
        self._in_flight.add(service.service_id, -1)

    def __repr__(self) -> str:
        known = self._providers
        providers = "none" if known is None else str(len(set(map(id, known.values()))))
        return f"ServiceSelector(providers={providers}, state={type(self._state).__name__})"
