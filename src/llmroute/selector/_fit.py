"""The fit stage's checks: what a request needs of a model (its tokens, modalities, tools,
thinking), and whether each service's catalog figures can take it. Pure: reads the plan's
specs and the request, nothing else.

A figure the catalog does not know passes (fail open): the service stays, marked
"unchecked" for explain().

What it costs: :class:`FitPlan`, built once per rule, knows which checks can drop anything
(the services with a known window, those known to lack a capability). A request reads only
what those checks need, cheaply: an upper bound of its tokens (exact tokens only when the
bound comes near the smallest window), its content markers only when some service lacks a
capability, and a plain body without extracting its context (``bench/fit.py`` measures it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from ..config import ModelSpec, ServiceID
from ..request import RequestContext
from ..smart import BodyScan, offers_tools, scan_body, scannable, thinking_requested

__all__ = ["DEFAULT_OUTPUT_ESTIMATE", "FitPlan", "FitReport", "Needs"]

#: The output tokens assumed for a request that asks for no maximum, when its cost is
#: estimated (``lowest_cost``, explain()); an upper bound is what a request asks for.
DEFAULT_OUTPUT_ESTIMATE = 1000

# The body fields that bound a request's output, in the order they are read.
_MAX_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")

# (the request's need, the capability field, what a drop says)
_CAPABILITY_CHECKS = (
    ("images", "vision", "the request has images and the model has no vision"),
    ("audio", "audio", "the request has audio and the model takes none"),
    ("pdf", "pdf", "the request has a PDF and the model takes none"),
    ("tools", "tools", "the request offers tools and the model has no tools"),
    ("thinking", "thinking", "the request asks for thinking and the model has none"),
)


class Source(Protocol):
    """The request side the fit stage reads (a selector's ``Request``)."""

    @property
    def body(self) -> Any: ...
    @property
    def context(self) -> RequestContext: ...
    @property
    def extracted(self) -> bool: ...
    @property
    def counts_exactly(self) -> bool: ...


class Markers(NamedTuple):
    """The request's content markers: what it carries or asks for."""

    images: bool
    audio: bool
    pdf: bool
    tools: bool
    thinking: bool


# The report's dropped services when none is (shared: never written to).
_NONE: dict[ServiceID, str] = {}
_MEDIA = frozenset({"images", "audio", "pdf"})


def _field(body: Any, name: str) -> Any:
    if isinstance(body, Mapping):
        return body.get(name)
    return getattr(body, name, None)


def _max_output(body: Any) -> int | None:
    if body is None:
        return None
    plain = type(body) is dict
    for name in _MAX_FIELDS:
        value = body.get(name) if plain else _field(body, name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class Needs:
    """What a request needs of a model, each figure read on first use.

    ``max_output``: the output tokens it asks for at most (None when it asks none);
    :attr:`input_tokens`: its estimated input tokens (exact: extracts the context);
    :attr:`markers`: its :class:`Markers`.
    """

    __slots__ = ("_body_scan", "_markers", "_scan", "_source", "max_output")

    def __init__(self, source: Source) -> None:
        self._source = source
        self._markers: Markers | None = None
        body = source.body
        self.max_output = _max_output(body)
        # whether the cheap scans read the body (else its context is read)
        self._scan = not source.extracted and scannable(body)
        self._body_scan: BodyScan | None = None

    def _scanned(self) -> BodyScan:
        found = self._body_scan
        if found is None:
            found = self._body_scan = scan_body(self._source.body)
        return found

    @property
    def input_tokens(self) -> int:
        return self._source.context.estimated_tokens

    def tokens_at_most(self) -> int:
        """An upper bound of :attr:`input_tokens`, cheap for a plain body (exact when the
        context is extracted already or a custom token counter is set)."""
        source = self._source
        if not self._scan or not source.counts_exactly:
            return self.input_tokens
        bound = self._scanned().tokens_bound
        return self.input_tokens if bound is None else bound

    def has(self, need: str) -> bool:
        """Whether the request has ``need`` (a :class:`Markers` field): read off a plain body
        cheaply, else off its context."""
        if self._scan:
            body = self._source.body
            if need == "tools":
                return offers_tools(body)
            if need == "thinking":
                return thinking_requested(body)
            if need in _MEDIA and self._scanned().plain:
                return False
        return bool(getattr(self._context_markers(), need))

    @property
    def markers(self) -> Markers:
        """All the request's content markers."""
        return Markers(*(self.has(need) for need in Markers._fields))

    def _context_markers(self) -> Markers:
        found = self._markers
        if found is None:
            ctx = self._source.context
            kind = ctx.latest_content_type
            found = self._markers = Markers(
                images=ctx.has_image or kind == "image",
                audio=kind == "audio",
                pdf=kind in ("file", "document"),
                tools=bool(ctx.offered_tools),
                thinking=ctx.thinking_enabled,
            )
        return found

    def tokens(self) -> tuple[int, int]:
        """(estimated input tokens, output tokens: the request's maximum, else
        :data:`DEFAULT_OUTPUT_ESTIMATE`), what a request is priced at."""
        output = self.max_output if self.max_output is not None else DEFAULT_OUTPUT_ESTIMATE
        return self.input_tokens, output

    def output_for(self, spec: ModelSpec) -> int | None:
        """The output tokens counted against ``spec``'s window: the request's maximum, else
        the model's ``max_output_tokens`` (None when neither is known)."""
        return self.max_output if self.max_output is not None else spec.max_output_tokens

    def estimated_cost(self, spec: ModelSpec) -> float | None:
        """The request's estimated cost on ``spec``: its input tokens, and its maximum output
        (or :data:`DEFAULT_OUTPUT_ESTIMATE`); None when the model is unpriced."""
        if not spec.priced:
            return None
        output = self.max_output if self.max_output is not None else DEFAULT_OUTPUT_ESTIMATE
        if spec.max_output_tokens is not None:
            output = min(output, spec.max_output_tokens)
        return spec.estimate(self.input_tokens, output)


class FitPlan:
    """A rule's fit checks, decided once per plan from its services' specs.

    ``windows``: (id, window, the model's max output or 0) of each service with a known
    window; ``room``: the smallest window (less its model's max output): a request whose
    token bound plus asked output is within it fits every window unchecked. ``lacking``:
    (need, why, ids) for each capability some service is known to lack. ``works``: whether
    any check can drop a service (some window known, some capability known lacking); when
    not, the selector does not run the fit stage at all.
    """

    __slots__ = ("ids", "lacking", "room", "smallest", "specs", "windows", "works")

    def __init__(self, specs: Mapping[ServiceID, ModelSpec], ids: tuple[ServiceID, ...]):
        self.specs = specs
        self.ids = ids
        empty = ModelSpec()
        known = [(sid, specs.get(sid, empty)) for sid in ids]
        self.windows = tuple(
            (sid, s.context_window, s.max_output_tokens or 0)
            for sid, s in known
            if s.context_window is not None
        )
        self.smallest = min((w for _, w, _ in self.windows), default=0)
        self.room = min((w - out for _, w, out in self.windows), default=0)
        self.lacking = tuple(
            (need, why, ids_)
            for need, field, why in _CAPABILITY_CHECKS
            if (ids_ := tuple(sid for sid, s in known if getattr(s, field) is False))
        )
        self.works = bool(self.windows or self.lacking)

    def report(self, needs: Needs) -> FitReport:
        """The report of a request the plan does not check (nothing is dropped)."""
        return FitReport(_NONE, needs, self)

    def check(self, needs: Needs) -> FitReport:
        """The services ``needs`` drops, and why."""
        dropped: dict[ServiceID, str] = _NONE  # allocated only when something is dropped
        if self.windows:
            asked = needs.max_output
            bound = needs.tokens_at_most()
            fits_all = bound + asked <= self.smallest if asked else bound <= self.room
            if not fits_all:
                dropped = self._check_windows(needs)
        for need, why, ids in self.lacking:
            if needs.has(need):
                dropped = dropped if dropped else {}
                for sid in ids:
                    dropped.setdefault(sid, why)
        return FitReport(dropped, needs, self)

    def _check_windows(self, needs: Needs) -> dict[ServiceID, str]:
        dropped: dict[ServiceID, str] = {}
        tokens, asked = needs.input_tokens, needs.max_output
        for sid, window, most in self.windows:
            output = asked if asked is not None else most
            if tokens + output > window:
                shown = f" + {output:,} output" if output else ""
                dropped[sid] = (
                    f"~{tokens:,} input tokens{shown} exceed its {window:,}-token context window"
                )
        return dropped

    def unchecked(
        self, needs: Needs, dropped: Mapping[ServiceID, str]
    ) -> dict[ServiceID, tuple[str, ...]]:
        """Each kept service's figures that were unknown for this request."""
        markers = needs.markers
        asked = [field for need, field, _ in _CAPABILITY_CHECKS if getattr(markers, need)]
        empty = ModelSpec()
        found: dict[ServiceID, tuple[str, ...]] = {}
        for sid in self.ids:
            if sid in dropped:
                continue
            spec = self.specs.get(sid, empty)
            unknown = ["context_window"] if spec.context_window is None else []
            unknown += [field for field in asked if getattr(spec, field) is None]
            if unknown:
                found[sid] = tuple(unknown)
        return found


class FitReport:
    """The fit stage's findings for one request: ``dropped`` (service id -> why), ``needs``
    the request's; :attr:`unchecked` (service id -> the figures that were unknown) is worked
    out on first read (explain()). Formatted, it is the stage's trace line."""

    __slots__ = ("_plan", "_unchecked", "dropped", "needs")

    def __init__(self, dropped: dict[ServiceID, str], needs: Needs, plan: FitPlan) -> None:
        self.dropped = dropped
        self.needs = needs
        self._plan = plan
        self._unchecked: dict[ServiceID, tuple[str, ...]] | None = None

    @property
    def unchecked(self) -> dict[ServiceID, tuple[str, ...]]:
        if self._unchecked is None:
            self._unchecked = self._plan.unchecked(self.needs, self.dropped)
        return self._unchecked

    def __format__(self, spec: str) -> str:
        parts = [f"dropped {sid}: {why}" for sid, why in self.dropped.items()]
        if not parts:
            count, tokens = len(self._plan.ids), self.needs.input_tokens
            parts.append(f"all {count} services fit ~{tokens:,} input tokens")
        if self.unchecked:
            parts.append(
                "unchecked: "
                + "; ".join(
                    f"{sid} ({', '.join(what)} unknown)" for sid, what in self.unchecked.items()
                )
            )
        return "; ".join(parts)
