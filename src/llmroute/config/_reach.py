"""Which smart-routing blocks can never match: a pure reading of a rule's ops.

The router takes the first block whose ops all match, so a block is dead when an earlier
block matches every request it does, or when its own ops contradict each other. Both are
proved from the ops alone, conservatively: :func:`dead_blocks` reports a block only when
the reason holds for every request; ops it cannot compare (two different regexes) are
taken to differ, so it may miss a dead block but never calls a live one dead.

One op *implies* another when every request matching the first matches the second:

- the same position, operation and value;
- ``token`` bounds: the block's combined token range lies inside the other op's range;
- ``thinking``: ``enabled true`` and ``disabled false`` say the same;
- ``contains`` at the same position: the implying value contains the implied one;
- ``model equals X``: the other ``model`` op matches the model name ``X``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from ..errors import ConfigError
from ..request import RequestContext
from ._ops import Matcher, compile_op
from ._rule import SmartOp, SmartRouting

__all__ = ["dead_blocks"]

#: An inclusive range of token counts; ``None`` is unbounded above.
_Range = tuple[int, int | None]

_TRUE = frozenset({"", "true", "1", "yes"})


def dead_blocks(blocks: Sequence[SmartRouting]) -> list[tuple[int, str]]:
    """``(block index, why it can never match)`` for each dead block, in order."""
    dead: list[tuple[int, str]] = []
    for j, block in enumerate(blocks):
        why = _contradiction(block.ops)
        if why is None:
            for i in range(j):
                if _covers(blocks[i].ops, block.ops):
                    why = (
                        f"smart_routing[{i}] comes first and matches every request this block "
                        "matches (each of its ops is implied by this block's ops)"
                    )
                    break
        if why is not None:
            dead.append((j, why))
    return dead


def _contradiction(ops: Sequence[SmartOp]) -> str | None:
    low, high = _token_range(ops)
    if high is not None and low > high:
        return "its token ops contradict each other: no token count satisfies them all"
    wanted = {_thinking(op) for op in ops if op.position == "thinking"}
    if len(wanted) > 1:
        return "its thinking ops contradict each other: one wants thinking on, one off"
    return None


def _covers(earlier: Sequence[SmartOp], later: Sequence[SmartOp]) -> bool:
    """Whether every request matching all of ``later`` matches all of ``earlier``."""
    later_range = _token_range(later)
    return all(_implied(op, later, later_range) for op in earlier)


def _implied(op: SmartOp, ops: Sequence[SmartOp], tokens: _Range) -> bool:
    if op.position == "token":
        return _inside(tokens, _token_range((op,)))
    if op.position == "thinking":
        return any(o.position == "thinking" and _thinking(o) == _thinking(op) for o in ops)
    return any(_implies(other, op) for other in ops)


def _implies(first: SmartOp, second: SmartOp) -> bool:
    """Whether a request matching ``first`` surely matches ``second`` (non-token ops)."""
    if first.position != second.position:
        return False
    if first.operation == second.operation and first.value == second.value:
        return True
    if first.operation == "contains" and second.operation == "contains":
        return second.value in first.value
    if first.position == "model" and first.operation == "equals":
        return _model_matches(second, first.value)
    return False


def _model_matches(op: SmartOp, model: str) -> bool:
    try:
        matcher = compile_op(op.position, op.operation, op.value)
    except ConfigError:  # a loaded op always compiles; an unchecked one proves nothing
        return False
    return cast(Matcher, matcher)(RequestContext(model=model))  # a model op reads the request


def _thinking(op: SmartOp) -> bool:
    """The thinking state an op asks for (True: on)."""
    flag = op.value.strip().lower() in _TRUE
    return flag if op.operation == "enabled" else not flag


def _token_range(ops: Sequence[SmartOp]) -> _Range:
    """The token counts satisfying every ``token`` op of ``ops`` (counts are >= 0)."""
    low, high = 0, None
    for op in ops:
        if op.position != "token":
            continue
        try:
            value = int(op.value.strip())
        except ValueError:
            continue
        if op.operation == "ge":
            low = max(low, value)
        elif op.operation == "gt":
            low = max(low, value + 1)
        elif op.operation == "le":
            high = value if high is None else min(high, value)
        elif op.operation == "lt":
            high = value - 1 if high is None else min(high, value - 1)
    return low, high


def _inside(inner: _Range, outer: _Range) -> bool:
    """Whether the (non-empty) range ``inner`` lies within ``outer``."""
    (low, high), (out_low, out_high) = inner, outer
    if low < out_low:
        return False
    return out_high is None or (high is not None and high <= out_high)
