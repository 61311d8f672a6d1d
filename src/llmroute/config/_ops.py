"""The registry of smart-routing operations, and compiling one op into a matcher.

This module depends only on :mod:`llmroute.errors` and :mod:`llmroute.request`: the
configuration models check their ops with it at load, and :class:`llmroute.SmartRouter`
compiles them with it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Literal

from ..errors import ConfigError
from ..request import RequestContext
from ._added import ADDED_POSITIONS, OpProblem, compile_added
from ._agent import AGENT_KINDS
from ._bounds import MAX_PATTERN_DEPTH, MAX_TOKEN_OP
from ._document import short_repr
from ._figures import LiveMatcher
from ._find import Needle, occurs
from ._glob import compile_glob
from ._literals import required_literals

#: The type an op's value must have: checked and converted at config load.
ValueType = Literal["string", "int", "bool", "float"]

#: A compiled op: tells whether a request context satisfies it.
Matcher = Callable[[RequestContext], bool]

#: The values ``latest_user type`` accepts.
CONTENT_TYPES = ("text", "image", "audio", "file", "document")


@dataclass(frozen=True, slots=True)
class SmartOpSpec:
    """One (position, operation) pair of the registry: what it means and its value's type.

    ``choices`` lists the accepted values when they are a closed set (else it is empty).
    ``cost`` ranks how much reading a request for the op takes (0: a field; higher: text
    to scan); the ops of a block are evaluated cheapest first, which, ops being pure,
    changes only how soon a block that does not match is given up. ``reads`` names what a
    live op reads besides the request (``"clock"``, ``"stats"`` or ``"sessions"`` of the
    state snapshot; ``""`` for the ops that read the request only): a live op compiles to
    a :class:`LiveMatcher` over the block's :class:`LiveFigures`, run after the block's
    request ops.
    """

    position: str
    operation: str
    value_type: ValueType
    description: str
    choices: tuple[str, ...] = ()
    cost: int = 0
    reads: Literal["", "clock", "stats", "sessions"] = ""


_S = SmartOpSpec
_TOOL_CONTAINS = "the latest message is a tool use whose name or arguments contain the value"
_WITHIN = "now is inside the daily window 'HH:MM-HH:MM' (meta.timezone, UTC by default)"
_TTFT = "the {} TTFT (ms) of the block's services {} the value"
_UTIL = "the block's live sessions over its model_capacity {} the value (a fraction)"
_SPECS = (
    _S("model", "contains", "string", "the request's model name contains the value"),
    _S("model", "glob", "string", "the request's model name matches the glob"),
    _S("model", "equals", "string", "the request's model name equals the value"),
    _S("thinking", "enabled", "bool", "thinking is on (a value of false inverts the op)"),
    _S("thinking", "disabled", "bool", "thinking is off (a value of false inverts the op)"),
    _S("context_system", "contains", "string", "a system message contains the value", cost=4),
    _S("context_system", "regex", "string", "a system message matches the regex", cost=5),
    _S("context_user", "contains", "string", "a user message contains the value", cost=6),
    _S("context_user", "regex", "string", "the combined user text matches the regex", cost=7),
    _S("latest_user", "contains", "string", "the last user message contains the value", cost=2),
    _S(
        "latest_user",
        "type",
        "string",
        "the last user message has this content type",
        CONTENT_TYPES,
    ),
    _S("tool_use", "equals", "string", "the latest message is a use of the tool of this name"),
    _S("tool_use", "contains", "string", _TOOL_CONTAINS, cost=1),
    _S("token", "ge", "int", "estimated tokens >= the value", cost=3),
    _S("token", "gt", "int", "estimated tokens > the value", cost=3),
    _S("token", "le", "int", "estimated tokens <= the value", cost=3),
    _S("token", "lt", "int", "estimated tokens < the value", cost=3),
    _S("messages", "has_image", "bool", "some message carries an image (false inverts)"),
    _S(
        "agent",
        "claude_code",
        "string",
        "the request is Claude Code's main loop, a sub-agent or a compaction",
        AGENT_KINDS,
        cost=5,
    ),
    _S("time_range", "within", "string", _WITHIN, reads="clock"),
    _S("time_range", "outside", "string", "now is outside the daily window", reads="clock"),
    _S("service_ttft", "avg_le", "float", _TTFT.format("mean", "<="), reads="stats"),
    _S("service_ttft", "avg_ge", "float", _TTFT.format("mean", ">="), reads="stats"),
    _S("service_ttft", "max_le", "float", _TTFT.format("slowest", "<="), reads="stats"),
    _S("service_ttft", "max_ge", "float", _TTFT.format("slowest", ">="), reads="stats"),
    _S("service_capacity", "util_le", "float", _UTIL.format("<="), reads="sessions"),
    _S("service_capacity", "util_ge", "float", _UTIL.format(">="), reads="sessions"),
    _S("service_capacity", "util_lt", "float", _UTIL.format("<"), reads="sessions"),
    _S("service_capacity", "util_gt", "float", _UTIL.format(">"), reads="sessions"),
)
del _S, _TOOL_CONTAINS, _WITHIN, _TTFT, _UTIL

#: Every valid ``(position, operation)`` pair and its :class:`SmartOpSpec`, in doc order.
OPERATIONS: Mapping[tuple[str, str], SmartOpSpec] = MappingProxyType(
    {(spec.position, spec.operation): spec for spec in _SPECS}
)

#: The valid positions, in doc order.
POSITIONS: tuple[str, ...] = tuple(dict.fromkeys(spec.position for spec in _SPECS))

_INT = re.compile(r"[+-]?[0-9]+")
_BOOLS = {"": True, "true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def compile_op(
    position: str, operation: str, value: str, *, timezone: str = ""
) -> Matcher | LiveMatcher:
    """Check an op against :data:`OPERATIONS` and compile it into a matcher.

    A request op (``spec.reads == ""``) compiles to a :data:`Matcher` of the request
    context; a live op to a :class:`LiveMatcher` of a block's :class:`LiveFigures`.
    ``timezone`` is the op's ``meta.timezone`` (``time_range`` only). Raises
    :class:`ConfigError` whose single problem's path is the field at fault (``position``,
    ``operation``, ``value`` or ``meta.timezone``).
    """
    if position not in POSITIONS:
        shown = position or "''"
        raise _problem("position", f"invalid position: {shown} (one of {', '.join(POSITIONS)})")
    spec = OPERATIONS.get((position, operation))
    if spec is None:
        valid = ", ".join(op for pos, op in OPERATIONS if pos == position)
        raise _problem(
            "operation",
            f"operation {operation!r} is not valid for position {position!r} (one of {valid})",
        )
    if timezone and position != "time_range":
        raise _problem("meta.timezone", "only time_range ops read a time zone")
    parsed = _parse_value(spec, value)
    if position in ADDED_POSITIONS:
        try:
            return compile_added(position, operation, parsed, timezone)
        except OpProblem as exc:
            raise _problem(exc.field, exc.message) from None
    if spec.value_type == "string":
        if operation == "regex":
            parsed = _compile_regex(value)
            literals = required_literals(parsed)
            if literals:  # a text holding none of them cannot match: skip its search
                needles = tuple(Needle(literal) for literal in literals)
                return partial(_FILTERED[position], parsed, needles)
        elif operation == "glob":
            try:
                parsed = compile_glob(value)
            except ValueError as exc:
                shown = short_repr(value)
                raise _problem("value", f"value {shown} is not a valid glob: {exc}") from None
        elif operation == "contains" and position in _LONG_TEXTS:
            if "\n" in value and position in _EACH:
                return partial(_EACH[position], Needle(value))
            parsed = Needle(value)
    return partial(_MATCHERS[position, operation], parsed)


def _compile_regex(value: str) -> re.Pattern[str]:
    """``re.compile(value)``, with every way it can fail (a nesting too deep for its
    recursive parser, a repeat count past its limit) as the op's problem."""
    shown = short_repr(value)
    depth = _group_depth(value)
    if depth > MAX_PATTERN_DEPTH:
        raise _problem(
            "value",
            f"value {shown} nests groups {depth} deep; at most {MAX_PATTERN_DEPTH} are allowed",
        )
    try:
        return re.compile(value)
    except (re.error, ValueError) as exc:  # ValueError: a repeat count of 4,300+ digits
        reason = exc if isinstance(exc, re.error) else "the repetition number is too large"
        raise _problem("value", f"value {shown} is not a valid regex: {reason}") from None
    except (RecursionError, OverflowError) as exc:
        raise _problem("value", f"value {shown} is not a valid regex: {exc}") from None


def _group_depth(pattern: str) -> int:
    """The deepest nesting of ``(`` in a regex (escapes and ``[...]`` classes skipped)."""
    depth = deepest = 0
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            if pattern.startswith("]", i + 1) or pattern.startswith("^]", i + 1):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _problem(field: str, message: str) -> ConfigError:
    return ConfigError(problems=[(field, message)])


def _parse_value(spec: SmartOpSpec, value: str) -> object:
    kind = spec.value_type
    if kind == "string":
        if not value:
            raise _problem("value", "value cannot be empty")
        if spec.choices and value not in spec.choices:
            raise _problem(
                "value", f"value {short_repr(value)} is not one of: {', '.join(spec.choices)}"
            )
        return value
    text = value.strip()
    if kind == "int":
        if not _INT.fullmatch(text):
            raise _problem("value", f"value {short_repr(value)} is not an int")
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > len(str(MAX_TOKEN_OP)) or int(digits or 0) > MAX_TOKEN_OP:
            raise _problem(
                "value", f"value {short_repr(value)} is out of range (at most {MAX_TOKEN_OP:,})"
            )
        return int(text)
    if kind == "bool":
        flag = _BOOLS.get(text.lower())
        if flag is None:
            raise _problem("value", f"value {short_repr(value)} is not a bool (true or false)")
        return flag
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _problem("value", f"value {short_repr(value)} is not a float")
    return number


# The matchers: module-level functions bound to their value with functools.partial, so a
# compiled op is cheap to call and pickles with the configuration.


def _model_contains(value: str, ctx: RequestContext) -> bool:
    return value in ctx.model


def _model_glob(pattern: re.Pattern[str], ctx: RequestContext) -> bool:
    return pattern.match(ctx.model) is not None


def _model_equals(value: str, ctx: RequestContext) -> bool:
    return ctx.model == value


def _thinking_enabled(expected: bool, ctx: RequestContext) -> bool:
    return bool(ctx.thinking_enabled) is expected


def _thinking_disabled(expected: bool, ctx: RequestContext) -> bool:
    return bool(ctx.thinking_enabled) is not expected


def _system_contains(needle: Needle, ctx: RequestContext) -> bool:
    return occurs(needle, ctx.system_text)  # a value without "\n" cannot span two messages


def _system_contains_each(needle: Needle, ctx: RequestContext) -> bool:
    return any(occurs(needle, text) for text in ctx.system_messages)


def _system_regex(pattern: re.Pattern[str], ctx: RequestContext) -> bool:
    return any(pattern.search(text) is not None for text in ctx.system_messages)


def _system_regex_filtered(
    pattern: re.Pattern[str], needles: tuple[Needle, ...], ctx: RequestContext
) -> bool:
    search = pattern.search
    return any(
        _may_match(needles, text) and search(text) is not None for text in ctx.system_messages
    )


def _user_contains(needle: Needle, ctx: RequestContext) -> bool:
    return occurs(needle, ctx.user_text)


def _user_contains_each(needle: Needle, ctx: RequestContext) -> bool:
    return any(occurs(needle, text) for text in ctx.user_messages)


def _user_regex(pattern: re.Pattern[str], ctx: RequestContext) -> bool:
    return pattern.search(ctx.user_text) is not None


def _user_regex_filtered(
    pattern: re.Pattern[str], needles: tuple[Needle, ...], ctx: RequestContext
) -> bool:
    text = ctx.user_text
    return _may_match(needles, text) and pattern.search(text) is not None


def _may_match(needles: tuple[Needle, ...], text: str) -> bool:
    """Whether ``text`` holds one of ``needles``, which every match of a regex holds one of."""
    return any(occurs(needle, text) for needle in needles)


def _latest_user_contains(needle: Needle, ctx: RequestContext) -> bool:
    return occurs(needle, ctx.latest_user_text)  # "" after a turn of only tool results


def _latest_user_type(value: str, ctx: RequestContext) -> bool:
    return ctx.latest_content_type == value


def _tool_use_equals(value: str, ctx: RequestContext) -> bool:
    return value in ctx.tool_uses


def _tool_use_contains(needle: Needle, ctx: RequestContext) -> bool:
    value = needle.value
    return any(value in name for name in ctx.tool_uses) or any(
        occurs(needle, args) for args in ctx.tool_arguments
    )


def _token_ge(limit: int, ctx: RequestContext) -> bool:
    return ctx.estimated_tokens >= limit


def _token_gt(limit: int, ctx: RequestContext) -> bool:
    return ctx.estimated_tokens > limit


def _token_le(limit: int, ctx: RequestContext) -> bool:
    return ctx.estimated_tokens <= limit


def _token_lt(limit: int, ctx: RequestContext) -> bool:
    return ctx.estimated_tokens < limit


_MATCHERS: dict[tuple[str, str], Callable[..., bool]] = {
    ("model", "contains"): _model_contains,
    ("model", "glob"): _model_glob,
    ("model", "equals"): _model_equals,
    ("thinking", "enabled"): _thinking_enabled,
    ("thinking", "disabled"): _thinking_disabled,
    ("context_system", "contains"): _system_contains,
    ("context_system", "regex"): _system_regex,
    ("context_user", "contains"): _user_contains,
    ("context_user", "regex"): _user_regex,
    ("latest_user", "contains"): _latest_user_contains,
    ("latest_user", "type"): _latest_user_type,
    ("tool_use", "equals"): _tool_use_equals,
    ("tool_use", "contains"): _tool_use_contains,
    ("token", "ge"): _token_ge,
    ("token", "gt"): _token_gt,
    ("token", "le"): _token_le,
    ("token", "lt"): _token_lt,
}
# The regex matchers of patterns whose matches all hold one of some literals (see _literals).
_FILTERED: dict[str, Callable[..., bool]] = {
    "context_system": _system_regex_filtered,
    "context_user": _user_regex_filtered,
}
# The positions whose "contains" searches texts that may be long (a Needle finds fast there).
_LONG_TEXTS = frozenset(("context_system", "context_user", "latest_user", "tool_use"))
_EACH: dict[str, Callable[..., bool]] = {
    "context_system": _system_contains_each,
    "context_user": _user_contains_each,
}
