"""What a selection works on and what it returns: context, state, trace and result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._plan import failover_order
from .affinity import SessionID, resolve_session_id
from .config import Provider, Rule, Service, ServiceID
from .request import RequestContext
from .smart import extract_context

if TYPE_CHECKING:
    from ._plan import RulePlan
    from .selector import ServiceSelector

__all__ = ["SelectionContext", "SelectionResult", "SelectionState", "Source", "TraceStep"]

#: Which stage chose the service.
Source = Literal["affinity", "smart_routing", "load_balancer"]

#: One line of a selection's trace: the stage, a ``str.format`` template and its arguments
#: (formatted only when the trace is read, so recording it costs next to nothing).
TraceStep = tuple[str, str, tuple[object, ...]]


class SelectionContext:
    """The inputs of one selection, read by every stage; built by the selector.

    ``rule`` is being served for ``request`` (the body as the caller holds it, or None).
    :attr:`context` (the extracted :class:`RequestContext`) and :attr:`session` (the resolved
    :class:`SessionID`) are computed on first read, so a selection that needs neither never
    pays for them. ``selector`` gives stages the stores (``stats``, ``health``, ``affinity``,
    ``balancer``); ``plan`` holds the rule's precomputed candidate lists; ``now`` is the
    selector clock's time at the start of the selection; ``embeddings`` is True for
    :meth:`ServiceSelector.select_for_embeddings`.
    """

    __slots__ = (
        "_context",
        "_session",
        "_session_key",
        "client_ip",
        "embeddings",
        "headers",
        "now",
        "plan",
        "request",
        "rule",
        "selector",
    )

    def __init__(
        self,
        selector: ServiceSelector,
        plan: RulePlan,
        request: Any,
        session: SessionID | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
        now: float,
        embeddings: bool,
    ) -> None:
        self.selector = selector
        self.plan = plan
        self.rule: Rule = plan.rule
        self.request = request
        self.headers = headers
        self.client_ip = client_ip
        self.now = now
        self.embeddings = embeddings
        self._session = session
        self._session_key: str | None = None
        self._context: RequestContext | None = (
            request if isinstance(request, RequestContext) else None
        )

    @property
    def context(self) -> RequestContext:
        """The request's :class:`RequestContext`, extracted once on first read."""
        context = self._context
        if context is None:
            context = extract_context(self.request, token_counter=self.selector.token_counter)
            self._context = context
        return context

    @property
    def session(self) -> SessionID:
        """The request's session identity, resolved once on first read."""
        session = self._session
        if session is None:
            session = resolve_session_id(
                self.request,
                self.headers,
                self.client_ip,
                header_names=self.selector.session_headers,
                context=self._context,
            )
            self._session = session
        return session

    @property
    def session_key(self) -> str:
        """The session's affinity-store key (``session.key``; ``""`` when nothing identifies
        the session), computed once on first read."""
        key = self._session_key
        if key is None:
            key = self._session_key = self.session.key
        return key

    @property
    def session_resolved(self) -> SessionID | None:
        """The session identity if it was given or resolved already, else None."""
        return self._session


class SelectionState:
    """What the stages have decided so far; each stage reads and narrows it.

    ``candidates`` are the services still in the running (config order); ``scope`` the
    services of the matched smart block, or the rule's own, from which fallbacks are drawn;
    ``unhealthy`` the ids the health stage found unhealthy; ``degraded`` is panic mode;
    ``block_index`` the matched smart block (-1 if none). A stage that picks a service calls
    :meth:`choose`, which ends the pipeline. :meth:`note` adds a line to the trace.
    """

    __slots__ = (
        "block_index",
        "candidates",
        "chosen",
        "degraded",
        "scope",
        "source",
        "trace",
        "unhealthy",
    )

    def __init__(self, candidates: tuple[Service, ...]) -> None:
        self.candidates = candidates
        self.scope = candidates
        self.unhealthy: frozenset[ServiceID] = frozenset()
        self.degraded = False
        self.block_index = -1
        self.chosen: Service | None = None
        self.source: Source = "load_balancer"
        self.trace: list[TraceStep] = []

    def note(self, stage: str, template: str, *args: object) -> None:
        """Add a trace line for ``stage``; ``template`` is formatted with ``args`` on reading."""
        self.trace.append((stage, template, args))

    def choose(self, service: Service, source: Source) -> None:
        """Pick ``service`` as the answer (it should be one of the candidates)."""
        self.chosen = service
        self.source = source


class SelectionResult:
    """The outcome of :meth:`ServiceSelector.select`: the service, why, and what to try next.

    - ``service`` / ``provider``: the chosen service and its :class:`Provider` (None when the
      selector was built without providers);
    - ``source``: the stage that chose: ``"affinity"``, ``"smart_routing"`` or
      ``"load_balancer"``;
    - ``evaluated_stages``: the names of the stages that ran, in order;
    - ``matched_smart_rule_index``: the matched smart-routing block, -1 if none;
    - ``session_id``: the session identity used (None when nothing needed it);
    - ``fallbacks``: the other services of the same scope in the order failover should try
      them: healthy ones in config order, then unhealthy ones as a last resort;
    - ``degraded``: panic mode, every candidate was unhealthy and one was chosen anyway;
    - :meth:`explain`: a readable multi-line trace of every stage.
    """

    __slots__ = (
        "_fallbacks",
        "_lock_key",
        "_plan",
        "_scope",
        "_stages",
        "_unhealthy",
        "degraded",
        "matched_smart_rule_index",
        "provider",
        "rule",
        "service",
        "session_id",
        "source",
        "trace",
    )

    def __init__(
        self,
        plan: RulePlan,
        service: Service,
        provider: Provider | None,
        source: Source,
        evaluated_stages: tuple[str, ...],
        matched_smart_rule_index: int,
        session_id: SessionID | None,
        degraded: bool,
        trace: Sequence[TraceStep],
        scope: tuple[Service, ...],
        unhealthy: frozenset[ServiceID],
        lock_key: str | None,
    ) -> None:
        self._plan = plan  # the rule's plan the selection ran on; execute() reuses it
        self.rule: Rule = plan.rule
        self.service = service
        self.provider = provider
        self.source = source
        self._stages = evaluated_stages
        self.matched_smart_rule_index = matched_smart_rule_index
        self.session_id = session_id
        self.degraded = degraded
        self.trace = trace
        self._scope = scope
        self._unhealthy = unhealthy
        self._lock_key = lock_key
        self._fallbacks: tuple[Service, ...] | None = None

    @property
    def service_id(self) -> ServiceID:
        """The chosen service's id."""
        return self.service.service_id

    @property
    def evaluated_stages(self) -> tuple[str, ...]:
        """The names of the stages that ran, in order."""
        return self._stages

    @property
    def fallbacks(self) -> tuple[Service, ...]:
        """The other services to fail over to, best first (computed on first read)."""
        fallbacks = self._fallbacks
        if fallbacks is None:
            fallbacks = failover_order(self._scope, self.service.service_id, self._unhealthy)
            self._fallbacks = fallbacks
        return fallbacks

    def explain(self) -> str:
        """A readable multi-line account of the selection: every stage, what it saw and did."""
        head = f"rule {self.rule.uuid!r} -> {self.service_id} (by {self.source})"
        if self.degraded:
            head += ", degraded: every candidate was unhealthy"
        lines = [head]
        if self.session_id is not None and self.session_id.source != "none":
            lines.append(f"  session: {self.session_id.source} {self.session_id.value!r}")
        for number, (stage, template, args) in enumerate(self.trace, 1):
            text = template.format(*args) if args else template
            lines.append(f"  {number}. {stage}: {text}")
        if self.fallbacks:
            lines.append(f"  fallbacks: {', '.join(s.service_id for s in self.fallbacks)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"SelectionResult(service={self.service_id!r}, source={self.source!r}, "
            f"matched_smart_rule_index={self.matched_smart_rule_index}, "
            f"degraded={self.degraded})"
        )


def describe(services: tuple[Service, ...], limit: int = 6) -> str:
    """A short comma-separated list of service ids for traces (``a, b, ... (+3)``)."""
    ids = [str(s.service_id) for s in services[:limit]]
    if len(services) > limit:
        ids.append(f"... (+{len(services) - limit})")
    return ", ".join(ids)


def first_with_id(services: tuple[Service, ...], service_id: str) -> Service | None:
    """The first service whose id is ``service_id``, or None."""
    for service in services:
        if service.service_id == service_id:
            return service
    return None
