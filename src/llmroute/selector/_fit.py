"""The fit stage's checks: what a request needs of a model (its tokens, modalities, tools,
thinking), and whether each service's catalog figures can take it. Pure: reads the plan's
specs and the request, nothing else.

A figure the catalog does not know passes (fail open): the service stays, marked
"unchecked" for explain().
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from ..config import ModelSpec, ServiceID
from ..request import RequestContext

__all__ = ["DEFAULT_OUTPUT_ESTIMATE", "FitReport", "Needs", "check_fit", "needs_of"]

#: The output tokens assumed for a request that asks for no maximum, when its cost is
#: estimated (``lowest_cost``, explain()); an upper bound is what a request asks for.
DEFAULT_OUTPUT_ESTIMATE = 1000

# The body fields that bound a request's output, in the order they are read.
_MAX_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")


class Needs(NamedTuple):
    """What a request needs of a model. ``max_output``: the output tokens it asks for at
    most (None when it asks none)."""

    input_tokens: int
    max_output: int | None
    images: bool
    audio: bool
    pdf: bool
    tools: bool
    thinking: bool

    def output_for(self, spec: ModelSpec) -> int | None:
        """The output tokens counted against ``spec``'s window: the request's maximum, else
        the model's ``max_output_tokens`` (None when neither is known)."""
        return self.max_output if self.max_output is not None else spec.max_output_tokens

    def estimated_cost(self, spec: ModelSpec) -> float | None:
        """The request's estimated cost on ``spec``: its input tokens, and its maximum output
        (or :data:`DEFAULT_OUTPUT_ESTIMATE`); None when the model is unpriced."""
        output = self.max_output if self.max_output is not None else DEFAULT_OUTPUT_ESTIMATE
        if spec.max_output_tokens is not None:
            output = min(output, spec.max_output_tokens)
        return spec.estimate(self.input_tokens, output)


def _field(body: Any, name: str) -> Any:
    if isinstance(body, Mapping):
        return body.get(name)
    return getattr(body, name, None)


def _max_output(body: Any) -> int | None:
    if body is None:
        return None
    for name in _MAX_FIELDS:
        value = _field(body, name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def needs_of(ctx: RequestContext, body: Any) -> Needs:
    """What a request needs: read off its context and (the output maximum) its body."""
    kind = ctx.latest_content_type
    return Needs(
        input_tokens=ctx.estimated_tokens,
        max_output=_max_output(body),
        images=ctx.has_image or kind == "image",
        audio=kind == "audio",
        pdf=kind in ("file", "document"),
        tools=bool(ctx.offered_tools),
        thinking=ctx.thinking_enabled,
    )


# (the request's need, the capability field, what a drop says)
_CAPABILITY_CHECKS = (
    ("images", "vision", "the request has images and the model has no vision"),
    ("audio", "audio", "the request has audio and the model takes none"),
    ("pdf", "pdf", "the request has a PDF and the model takes none"),
    ("tools", "tools", "the request offers tools and the model has no tools"),
    ("thinking", "thinking", "the request asks for thinking and the model has none"),
)


def check(spec: ModelSpec, needs: Needs) -> tuple[str, tuple[str, ...]]:
    """Why ``spec`` cannot take the request ('' when it can), and the checks left
    unchecked for unknown figures."""
    unchecked: list[str] = []
    window = spec.context_window
    output = needs.output_for(spec)
    if window is None:
        unchecked.append("context_window")
    else:
        total = needs.input_tokens + (output or 0)
        if total > window:
            asked = f" + {output:,} output" if output else ""
            return (
                f"~{needs.input_tokens:,} input tokens{asked} exceed its "
                f"{window:,}-token context window",
                (),
            )
    for need, field, why in _CAPABILITY_CHECKS:
        if not getattr(needs, need):
            continue
        able = getattr(spec, field)
        if able is None:
            unchecked.append(field)
        elif not able:
            return why, ()
    return "", tuple(unchecked)


class FitReport(NamedTuple):
    """The fit stage's findings for one request: ``dropped`` (service id -> why) and
    ``unchecked`` (service id -> the figures that were unknown), ``needs`` the request's."""

    dropped: dict[ServiceID, str]
    unchecked: dict[ServiceID, tuple[str, ...]]
    needs: Needs


def check_fit(
    specs: Mapping[ServiceID, ModelSpec], ids: tuple[ServiceID, ...], needs: Needs
) -> FitReport:
    """Check every service of ``ids``; a service without a spec is unchecked throughout."""
    dropped: dict[ServiceID, str] = {}
    unchecked: dict[ServiceID, tuple[str, ...]] = {}
    empty = ModelSpec()
    for sid in ids:
        why, unknown = check(specs.get(sid, empty), needs)
        if why:
            dropped[sid] = why
        elif unknown:
            unchecked[sid] = unknown
    return FitReport(dropped, unchecked, needs)
