"""What a selection works on and what it returns: the request's inputs, and the result with
its trace."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..affinity import AffinityEntry, SessionID, resolve_session_id
from ..config import Provider, Rule, Service, ServiceID
from ..request import RequestContext, TokenCounter
from ..smart import extract_context
from ..state import StateSnapshot
from ._plan import RulePlan, failover_order

__all__ = ["Request", "SelectionResult", "Source", "TraceStep", "describe"]

#: Which stage chose the service (``probe_header``: the selector's probe header named it).
Source = Literal["affinity", "smart_routing", "load_balancer", "probe_header"]

#: One line of a selection's trace: the stage, a ``str.format`` template and its arguments
#: (formatted only when the trace is read).
TraceStep = tuple[str, str, tuple[object, ...]]


class Request:
    """The request side of one selection: the body, and what is read from it on demand.

    :attr:`context` (the extracted :class:`RequestContext`) and :attr:`session` (the resolved
    :class:`SessionID`) are computed on first read, so a selection that needs neither never
    pays for them.
    """

    def __init__(
        self,
        body: Any,
        session: SessionID | str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
        header_names: Sequence[str],
        token_counter: TokenCounter | None,
        embeddings: bool,
        from_ip: bool = False,
    ) -> None:
        if isinstance(session, str):  # the caller's own session id counts as a header's
            value = session.strip()
            session = SessionID("header", value, client_ip or "") if value else None
        self.body = body
        self._from_ip = from_ip
        self.headers = headers
        self.client_ip = client_ip
        self.embeddings = embeddings
        self._header_names = header_names
        self._token_counter = token_counter
        self._session = session
        self._session_key: str | None = None
        self._context: RequestContext | None = body if isinstance(body, RequestContext) else None
        #: Trace lines of what was decided before the stages (the rule found by scenario).
        self.notes: tuple[TraceStep, ...] = ()
        #: The service the selector's probe header names, when it is a candidate.
        self.probe: Service | None = None

    @property
    def context(self) -> RequestContext:
        """The request's :class:`RequestContext`, extracted once on first read."""
        if self._context is None:
            self._context = extract_context(self.body, token_counter=self._token_counter)
        return self._context

    @property
    def resolved_session(self) -> SessionID | None:
        """The session identity if it was given or resolved already, else None."""
        return self._session

    @property
    def session_key(self) -> str:
        """The session's key (``session.key``), computed once."""
        if self._session_key is None:
            self._session_key = self.session.key
        return self._session_key

    @property
    def session(self) -> SessionID:
        """The request's session identity, resolved once on first read."""
        if self._session is None:
            self._session = resolve_session_id(
                self.body,
                self.headers,
                self.client_ip,
                header_names=self._header_names,
                context=self._context,
                from_ip=self._from_ip,
            )
        return self._session


class SelectionResult:
    """The outcome of :meth:`ServiceSelector.select`: the service, why, and what to try next.

    - ``service`` / ``provider``: the chosen service and its :class:`Provider` (None when the
      selector was built without providers);
    - ``source``: the stage that chose: ``"affinity"``, ``"smart_routing"`` or
      ``"load_balancer"``; ``"probe_header"`` when the selector's probe header named it
      (no fallbacks, no pin, the rule's cursor and turn left alone);
    - ``evaluated_stages``: the names of the stages that ran, in order;
    - ``matched_smart_rule_index``: the matched smart-routing block, -1 if none;
    - ``session_id``: the session identity used (None when nothing needed it);
    - ``fallbacks``: the other services of the same scope in the order failover should try
      them: healthy ones in config order (under the ``tier`` tactic, tier by tier), then
      unhealthy ones as a last resort;
    - ``degraded``: panic mode, every candidate was unhealthy and one was chosen anyway;
    - ``pin_key``: the session's pin key (None without affinity or a session identity);
    - :meth:`explain`: a readable multi-line trace of every stage.

    Selecting writes nothing: pass the result to :meth:`ServiceSelector.record` (or use an
    execute form) so its outcome pins the session, moves the pin, or releases it.
    """

    def __init__(
        self,
        *,
        plan: RulePlan,
        service: Service,
        source: Source,
        evaluated_stages: tuple[str, ...],
        matched_smart_rule_index: int,
        session_id: SessionID | None,
        degraded: bool,
        trace: Sequence[TraceStep],
        scope: tuple[Service, ...],
        unhealthy: frozenset[ServiceID],
        pin_key: str | None,
        pinned: AffinityEntry | None,
        read_seq: int,
        took_turn: bool,
        request: Request | None = None,
        snapshot: StateSnapshot | None = None,
    ) -> None:
        self.plan = plan
        self.rule: Rule = plan.rule
        self.service = service
        self.provider: Provider | None = plan.providers.get(service.service_id)
        self.source: Source = source
        self.evaluated_stages = evaluated_stages
        self.matched_smart_rule_index = matched_smart_rule_index
        self.session_id = session_id
        self.degraded = degraded
        self.trace = trace
        self.scope = scope
        self.unhealthy = unhealthy
        self.pin_key = pin_key
        self.pinned = pinned
        self.read_seq = read_seq
        self.took_turn = took_turn
        self._request = request
        self._snapshot = snapshot
        self._fallbacks: tuple[Service, ...] | None = None

    @property
    def service_id(self) -> ServiceID:
        """The chosen service's id."""
        return self.service.service_id

    @property
    def fallbacks(self) -> tuple[Service, ...]:
        """The other services to fail over to, best first (computed on first read)."""
        if self._fallbacks is None:
            tiered = self.plan.tactic.tactic.prefers_tiers
            self._fallbacks = failover_order(self.scope, self.service_id, self.unhealthy, tiered)
        return self._fallbacks

    def explain(self) -> str:
        """A readable multi-line account of the selection: every stage, what it saw and did."""
        head = f"rule {self.rule.uuid!r} -> {self.service_id} (by {self.source})"
        if self.degraded:
            head += ", degraded: every candidate was unhealthy"
        lines = [head]
        if self.session_id is not None and self.session_id.source != "none":
            lines.append(f"  session: {self.session_id.source} {self.session_id.value!r}")
        ops_shown = False
        for number, (stage, template, args) in enumerate(self.trace, 1):
            text = template.format(*args) if args else template
            lines.append(f"  {number}. {stage}: {text}")
            if stage == "smart_routing" and not ops_shown:
                ops_shown = True
                lines.extend(self._op_lines())
        if self.fallbacks:
            lines.append(f"  fallbacks: {', '.join(s.service_id for s in self.fallbacks)}")
        return "\n".join(lines)

    def _op_lines(self) -> list[str]:
        """The per-op trace of the blocks tried, evaluated again now on the context and the
        snapshot the selection read (the selection itself recorded nothing of it)."""
        router, request = self.plan.router, self._request
        if router is None or request is None or request.embeddings:
            return []
        lines: list[str] = []
        skip = self.plan.unusable_blocks
        for block in router.trace(request.context, self._snapshot, skip):
            lines.append(f"     block {block.index} {block.description!r}: {block.outcome}")
            lines.extend(f"       {op}" for op in block.ops)
        return lines

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
