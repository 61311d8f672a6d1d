"""The per-op trace of a smart-routing evaluation: for each block tried, each op, its value,
a short snippet of what it saw and whether it matched.

Built only when a trace is asked for (``SelectionResult.explain()``), by evaluating the
blocks again on the same request context and snapshot: the selection's own evaluation
records nothing. Snippets are one line, at most :data:`SNIPPET` characters, with anything
key-like masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from ..config import SmartOp, claude_code_kind
from ..failures import mask_secrets
from ..request import RequestContext
from ._figures import BlockFigures

__all__ = ["SNIPPET", "BlockTrace", "OpTrace", "seen", "snippet_of"]

#: The longest snippet of a text an op saw.
SNIPPET = 80


@dataclass(frozen=True, slots=True)
class OpTrace:
    """One op as evaluated: ``position operation value``, what it saw, whether it matched."""

    position: str
    operation: str
    value: str
    seen: str
    matched: bool

    def __str__(self) -> str:
        mark = "yes" if self.matched else "no"
        return f"{self.position} {self.operation} {self.value!r}: {mark} (saw {self.seen})"


@dataclass(frozen=True, slots=True)
class BlockTrace:
    """One block as evaluated: its ops up to the first that failed, and the ``outcome``:
    ``"matched"``, ``"no match"`` or ``"no usable service"`` (its ops matched, but none of
    its services is active with an enabled provider: skipped)."""

    index: int
    description: str
    ops: tuple[OpTrace, ...]
    outcome: str


def seen(op: SmartOp, ctx: RequestContext, figures: BlockFigures | None) -> str:
    """A short, secret-free account of what ``op`` read from the request or the figures."""
    position = op.position
    if position in _TEXTS:
        text = _TEXTS[position](ctx)
        if position == "latest_user" and op.operation == "type":
            return repr(ctx.latest_content_type) if ctx.latest_content_type else "no user turn"
        if not text and position == "latest_user" and ctx.user_messages:
            return "no text: the last user turn holds only tool results"
        return snippet_of(text, op.value, op.operation == "regex")
    if position == "model":
        return repr(ctx.model)
    if position == "thinking":
        return "thinking on" if ctx.thinking_enabled else "thinking off"
    if position == "tool_use":
        calls = ", ".join(ctx.tool_uses) or "no pending tool call"
        return snippet_of(calls + " " + " ".join(ctx.tool_arguments), op.value, False)
    if position == "token":
        return f"{ctx.estimated_tokens} estimated tokens"
    if position == "messages":
        return "an image" if ctx.has_image else "no image"
    if position == "agent":
        return repr(claude_code_kind(ctx) or "not a Claude Code request")
    return _live(op, figures)


def _live(op: SmartOp, figures: BlockFigures | None) -> str:
    if figures is None:
        return "no snapshot (live ops need the selection's state)"
    if op.position == "time_range":
        zone = op.meta.timezone
        local = datetime.fromtimestamp(figures.now, ZoneInfo(zone) if zone else timezone.utc)
        return f"{local:%H:%M} {zone or 'UTC'}"
    if op.position == "service_ttft":
        mean, slowest, services = figures.ttft_figures()
        if mean is None or slowest is None:
            return "no TTFT samples yet"
        return f"mean {mean:.0f} ms, slowest {slowest:.0f} ms over {services} services"
    utilization, used, capacity = figures.capacity_figures()
    if utilization is None:
        return "no service with a model_capacity"
    return f"{used} of {capacity} sessions ({utilization:.2f})"


def snippet_of(text: str, value: str, regex: bool) -> str:
    """Up to :data:`SNIPPET` characters of ``text`` around the first match of ``value``
    (its head when there is none), on one line, key-like strings masked."""
    if not text:
        return "nothing"
    text = mask_secrets(text)  # all of it, so no key is cut in half by the window (explain only)
    at, length = -1, 0
    if regex:
        found = re.search(value, text)
        if found is not None:
            at, length = found.start(), found.end() - found.start()
    else:
        at, length = text.find(value), len(value)
    start = 0 if at < 0 else max(0, at - (SNIPPET - min(length, SNIPPET)) // 2)
    line = " ".join(text[start : start + 2 * SNIPPET].split())
    cut = line[:SNIPPET]
    more = len(line) > SNIPPET or start + 2 * SNIPPET < len(text)
    return repr(("..." if start else "") + cut + ("..." if more else ""))


_TEXTS = {
    "context_system": lambda ctx: ctx.system_text,
    "context_user": lambda ctx: ctx.user_text,
    "latest_user": lambda ctx: ctx.latest_user_text,
}
