"""What a selection works on and what it returns: the request's inputs, and the result (its
trace written on first read, by :mod:`._trace`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..affinity import AffinityEntry, SessionID, SessionParts, resolve_session, session_key
from ..config import Provider, Rule, Service, ServiceID
from ..request import RequestContext, TokenCounter
from ..smart import extract_context
from ..state import StateSnapshot
from ._fit import FitReport, Needs
from ._plan import RulePlan, failover_order
from ._trace import STAGES, TraceStep, render_trace

__all__ = ["Request", "SelectionResult", "Source"]

#: Which stage chose the service (``probe_header``: the selector's probe header named it).
Source = Literal["affinity", "smart_routing", "load_balancer", "probe_header"]


class Request:
    """The request side of one selection: the body, and what is read from it on demand.

    :attr:`context` (the extracted :class:`RequestContext`) and :attr:`session` (the resolved
    :class:`SessionID`) are computed on first read, so a selection that needs neither never
    pays for them.
    """

    __slots__ = (
        "_context",
        "_from_ip",
        "_header_names",
        "_parts",
        "_session",
        "_session_key",
        "_token_counter",
        "body",
        "client_ip",
        "embeddings",
        "headers",
        "notes",
        "probe",
    )

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
        self._parts: SessionParts | None = None  # resolved, not yet a SessionID
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
    def extracted(self) -> bool:
        """Whether :attr:`context` was read already (reading it again costs nothing)."""
        return self._context is not None

    @property
    def counts_exactly(self) -> bool:
        """Whether tokens are counted by the built-in estimate (no custom token counter),
        so a cheap upper bound of them holds."""
        return self._token_counter is None

    @property
    def resolved_session(self) -> SessionID | None:
        """The session identity if it was given or resolved already, else None."""
        if self._session is None and self._parts is not None:
            self._session = SessionID(*self._parts)
        return self._session

    @property
    def session_key(self) -> str:
        """The session's key (``session.key``), computed once; the session is resolved
        (:func:`resolve_session`) but its :class:`SessionID` is built only when read."""
        if self._session_key is None:
            if self._session is not None:
                self._session_key = self._session.key
            else:
                parts = self._parts = self._resolve()
                self._session_key = session_key(parts[0], parts[1])
        return self._session_key

    @property
    def session(self) -> SessionID:
        """The request's session identity, resolved once on first read."""
        session = self.resolved_session
        if session is None:
            session = self._session = SessionID(*self._resolve())
        return session

    def _resolve(self) -> SessionParts:
        return resolve_session(
            self.body,
            self.headers,
            self.client_ip,
            self._header_names,
            self._context,
            self._from_ip,
        )


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
    - ``fit``: the fit stage's report (dropped and unchecked services, the request's needs;
      None when the rule has no catalog figures); ``estimated_cost``: the choice's estimate;
    - ``trace`` and :meth:`explain`: every stage, what it saw and did (written on first
      read from what the decision kept).

    Selecting writes nothing: pass the result to :meth:`ServiceSelector.record` (or use an
    execute form) so its outcome pins the session, moves the pin, or releases it.

    The selector's stages fill it in as they decide: besides the names above it keeps the
    ``plan``, the ``request``, the ``snapshot`` read (and its ``now`` and ``read_seq``), the
    ``candidates`` the balancer chose among (``scope``: the services of the rule or of the
    matched block), the ``unhealthy`` ids, the ``pinned`` entry read, ``took_turn``, the
    tactic's ``reason`` (a template and its arguments), ``moved_back`` (the service a
    fallback pin gave way to, and why), ``fitted`` (the fit stage's report when it ran) and
    ``unusable_blocks`` (the blocks passed over: none of their services usable, or none
    fits the request); treat them as read-only.
    """

    __slots__ = (
        "_fallbacks",
        "_trace",
        "candidates",
        "degraded",
        "fitted",
        "matched_smart_rule_index",
        "moved_back",
        "now",
        "pin_key",
        "pinned",
        "plan",
        "read_seq",
        "reason",
        "request",
        "scope",
        "service",
        "snapshot",
        "source",
        "took_turn",
        "unhealthy",
        "unusable_blocks",
    )

    def __init__(self, plan: RulePlan, request: Request, snapshot: StateSnapshot) -> None:
        self.plan = plan
        self.request = request
        self.snapshot = snapshot  # kept for explain()'s per-op trace of live ops
        self.now = snapshot.now
        self.read_seq = snapshot.seq
        self.candidates = self.scope = plan.base
        self.unhealthy: frozenset[ServiceID] = _HEALTHY
        self.degraded = False
        self.matched_smart_rule_index = -1
        self.pin_key: str | None = None
        self.pinned: AffinityEntry | None = None
        self.moved_back: tuple[ServiceID, str] | None = None
        self.reason: tuple[str, tuple[object, ...]] | None = None
        self.source: Source = "load_balancer"
        self.took_turn = False
        self._fallbacks: tuple[Service, ...] | None = None
        self.unusable_blocks = plan.unusable_blocks
        self.fitted: FitReport | None = None
        self._trace: list[TraceStep] | None = None

    service: Service  # set by the stage that chooses

    @property
    def rule(self) -> Rule:
        """The rule the selection ran under."""
        return self.plan.rule

    @property
    def provider(self) -> Provider | None:
        """The chosen service's :class:`Provider` (None without providers)."""
        return self.plan.providers.get(self.service.service_id)

    @property
    def fit(self) -> FitReport | None:
        """The fit stage's report; for a rule with catalog figures but nothing to check (the
        stage did not run) a report of no drops, made on first read; None without figures."""
        report = self.fitted
        if report is None and self.plan.fit is not None:
            report = self.fitted = self.plan.fit.report(Needs(self.request))
        return report

    def tokens(self) -> tuple[int, int]:
        """The request's estimated (input, output) tokens, what it is priced at."""
        report = self.fit
        return report.needs.tokens() if report is not None else (0, 0)

    @property
    def service_id(self) -> ServiceID:
        """The chosen service's id."""
        return self.service.service_id

    @property
    def session_id(self) -> SessionID | None:
        """The session identity used (None when nothing needed it)."""
        return self.request.resolved_session

    @property
    def evaluated_stages(self) -> tuple[str, ...]:
        """The names of the stages that ran, in order (``fit`` first when the rule has catalog
        figures; affinity chose: all but the load balancer)."""
        stages = STAGES if self.plan.fit is not None else STAGES[1:]
        if self.source == "probe_header":
            return (*stages[:-3], "probe_header")
        return stages[:-1] if self.source == "affinity" else stages

    @property
    def trace(self) -> list[TraceStep]:
        """Each stage's line: ``(stage, str.format template, its arguments)``."""
        if self._trace is None:
            self._trace = render_trace(self)
        return self._trace

    @property
    def fallbacks(self) -> tuple[Service, ...]:
        """The other services to fail over to, best first (computed on first read)."""
        if self._fallbacks is None:
            tiered = self.plan.tactic.tactic.prefers_tiers
            self._fallbacks = failover_order(self.scope, self.service_id, self.unhealthy, tiered)
        return self._fallbacks

    @property
    def estimated_cost(self) -> float | None:
        """The chosen service's estimated cost for this request (its estimated input tokens
        and asked-for output, at the catalog's prices); None when the rule has no catalog
        figures or the service's prices are unknown."""
        fit, spec = self.fit, self.plan.specs.get(self.service.service_id)
        if fit is None or spec is None:
            return None
        return fit.needs.estimated_cost(spec)

    def explain(self) -> str:
        """A readable multi-line account of the selection: every stage, what it saw and did."""
        head = f"rule {self.rule.uuid!r} -> {self.service_id} (by {self.source})"
        if self.degraded:
            head += ", degraded: every candidate was unhealthy"
        lines = [head]
        session = self.session_id
        if session is not None and session.source != "none":
            lines.append(f"  session: {session.source} {session.value!r}")
        ops_shown = False
        for number, (stage, template, args) in enumerate(self.trace, 1):
            text = template.format(*args) if args else template
            lines.append(f"  {number}. {stage}: {text}")
            if stage == "smart_routing" and not ops_shown:
                ops_shown = True
                lines.extend(self._op_lines())
        if self.fallbacks:
            lines.append(f"  fallbacks: {', '.join(s.service_id for s in self.fallbacks)}")
        if self.fit is not None:
            cost = self.estimated_cost
            shown = "unknown (no prices)" if cost is None else f"{cost:.6f}"
            lines.append(
                f"  estimated cost: {shown} (~{self.fit.needs.input_tokens:,} input tokens)"
            )
        return "\n".join(lines)

    def _op_lines(self) -> list[str]:
        """The per-op trace of the blocks tried, evaluated again now on the context and the
        snapshot the selection read (the selection itself recorded nothing of it)."""
        router, request = self.plan.router, self.request
        if router is None or request.embeddings:
            return []
        lines: list[str] = []
        skip = self.unusable_blocks
        for block in router.trace(request.context, self.snapshot, skip):
            lines.append(f"     block {block.index} {block.description!r}: {block.outcome}")
            lines.extend(f"       {op}" for op in block.ops)
        return lines

    def __repr__(self) -> str:
        return (
            f"SelectionResult(service={self.service_id!r}, source={self.source!r}, "
            f"matched_smart_rule_index={self.matched_smart_rule_index}, "
            f"degraded={self.degraded})"
        )


#: No unhealthy service (shared).
_HEALTHY: frozenset[ServiceID] = frozenset()
