"""Compiling the ops tingly-box added since the seed: ``messages has_image``, ``agent
claude_code``, ``time_range`` and the service-figure ops (``service_ttft``,
``service_capacity``). The registry entries live with the others in ``_ops``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from ..request import RequestContext
from ._agent import claude_code_kind
from ._figures import (
    LiveFigures,
    LiveMatcher,
    TtftFigure,
    ttft_ge,
    ttft_le,
    util_ge,
    util_gt,
    util_le,
    util_lt,
)
from ._time import DailyWindow, parse_window

__all__ = ["ADDED_POSITIONS", "OpProblem", "compile_added"]

#: The positions compiled here.
ADDED_POSITIONS = frozenset(("messages", "agent", "time_range", "service_ttft", "service_capacity"))


class OpProblem(ValueError):
    """A bad value of an added op: the op's ``field`` at fault and the ``message``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def compile_added(
    position: str, operation: str, parsed: object, zone: str
) -> Callable[[RequestContext], bool] | LiveMatcher:
    """The matcher of an added op whose value ``parsed`` has its registry type already.

    Raises :class:`OpProblem` for a value its type does not rule out (a malformed window,
    an unknown zone, a negative figure).
    """
    if position == "messages":
        return partial(_has_image, parsed is True)
    if position == "agent":
        return partial(_agent_is, "compaction" if parsed == "compact" else str(parsed))
    if position == "time_range":
        try:
            window = parse_window(str(parsed), zone)
        except ValueError as exc:
            field = "meta.timezone" if "time zone" in str(exc) else "value"
            raise OpProblem(field, str(exc)) from None
        return partial(_time_within if operation == "within" else _time_outside, window)
    number = parsed if isinstance(parsed, float) else float("nan")
    if not number >= 0:
        raise OpProblem("value", f"value {parsed!r} must be a number >= 0")
    if position == "service_ttft":
        figure: TtftFigure = "max" if operation.startswith("max") else "avg"
        return partial(ttft_le if operation.endswith("_le") else ttft_ge, (figure, number))
    return partial(_UTIL_OPS[operation], number)


def _has_image(expected: bool, ctx: RequestContext) -> bool:
    return ctx.has_image is expected


def _agent_is(kind: str, ctx: RequestContext) -> bool:
    return claude_code_kind(ctx) == kind


def _time_within(window: DailyWindow, live: LiveFigures) -> bool:
    return window.contains(live.now)


def _time_outside(window: DailyWindow, live: LiveFigures) -> bool:
    return not window.contains(live.now)


_UTIL_OPS: dict[str, Callable[..., bool]] = {
    "util_le": util_le,
    "util_ge": util_ge,
    "util_lt": util_lt,
    "util_gt": util_gt,
}
