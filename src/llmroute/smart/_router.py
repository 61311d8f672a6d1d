"""Validating smart-routing ops and blocks, and evaluating blocks against a request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ..config import (
    OPERATIONS,
    Matcher,
    Service,
    SmartOp,
    SmartRouting,
    compile_op,
    config_error,
)
from ..request import RequestContext
from ._extract import extract_context

_BLOCKS: TypeAdapter[tuple[SmartRouting, ...]] = TypeAdapter(tuple[SmartRouting, ...])


def validate_smart_op(op: SmartOp | Mapping[str, Any]) -> SmartOp:
    """Check one op against :data:`llmroute.config.OPERATIONS` and return it as a
    validated :class:`SmartOp`.

    Accepts the document form (a mapping) or a :class:`SmartOp`, which is checked again
    (one built with ``model_construct`` skipped validation). Raises :class:`ConfigError`
    naming the field at fault, e.g. ``value: value 'abc' is not an int``; ``TypeError``
    for anything else.
    """
    if isinstance(op, SmartOp):
        return SmartOp.model_validate(op.model_dump())
    if not isinstance(op, Mapping):
        raise TypeError(
            f"validate_smart_op() takes a SmartOp or a mapping, not {type(op).__name__}"
        )
    return SmartOp.model_validate(op)


def validate_smart_routing(block: SmartRouting | Mapping[str, Any]) -> SmartRouting:
    """Check one smart-routing block and return it as a validated :class:`SmartRouting`.

    Accepts the document form (a mapping) or a :class:`SmartRouting`, which is checked
    again. Raises :class:`ConfigError` listing every problem with its path in the block:
    ``description cannot be empty``, ``ops cannot be empty``, ``services cannot be
    empty``, ``services[1].model: cannot be empty``, ``ops[2].position: invalid position:
    X``, ...; ``TypeError`` for anything else.
    """
    if isinstance(block, SmartRouting):
        return SmartRouting.model_validate(block.model_dump())
    if not isinstance(block, Mapping):
        raise TypeError(
            f"validate_smart_routing() takes a SmartRouting or a mapping, "
            f"not {type(block).__name__}"
        )
    return SmartRouting.model_validate(block)


@dataclass(frozen=True, slots=True)
class SmartMatch:
    """The block that matched a request: its position in the list, the block and its services."""

    index: int
    block: SmartRouting = field(repr=False)
    services: tuple[Service, ...]


class SmartRouter:
    """Evaluates ordered smart-routing blocks against requests: the first block whose ops
    all match wins.

    ``blocks`` are :class:`SmartRouting` models (validated when they were built) or their
    document form (mappings, validated here: :class:`ConfigError` with paths like
    ``[1].ops[0].value``). The router compiles every op once, here; evaluation compiles
    nothing and allocates nothing of its own (each block's :class:`SmartMatch` is built
    once too). A router is immutable and safe to share between threads.
    """

    __slots__ = ("_blocks", "_table")

    def __init__(self, blocks: Iterable[SmartRouting | Mapping[str, Any]]) -> None:
        if isinstance(blocks, (str, bytes, Mapping)) or not isinstance(blocks, Iterable):
            raise TypeError(
                f"SmartRouter() takes an iterable of blocks, not {type(blocks).__name__}"
            )
        given = tuple(blocks)
        checked = tuple(block for block in given if isinstance(block, SmartRouting))
        if len(checked) < len(given):
            try:
                checked = _BLOCKS.validate_python(given)
            except ValidationError as exc:
                raise config_error(exc) from None
        self._blocks = checked
        self._table = tuple(
            (_compile_block(block), SmartMatch(i, block, block.services))
            for i, block in enumerate(checked)
        )

    @property
    def blocks(self) -> tuple[SmartRouting, ...]:
        """The blocks, in evaluation order."""
        return self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def __repr__(self) -> str:
        return f"SmartRouter({len(self._blocks)} blocks)"

    def evaluate(self, context: RequestContext | Any) -> SmartMatch | None:
        """The first block whose ops all match ``context``, or None when none does.

        ``context`` is a :class:`RequestContext`; anything else is read with
        :func:`extract_context` first (and raises what that raises). Ops within a block are
        AND-ed and stop at the first that fails.
        """
        if not isinstance(context, RequestContext):
            context = extract_context(context)
        for matchers, match in self._table:
            for matcher in matchers:
                if not matcher(context):
                    break
            else:
                return match
        return None


def _compile_block(block: SmartRouting) -> tuple[Matcher, ...]:
    """The block's ops compiled, cheapest first: ops are pure, so the order only changes
    how soon a block that does not match gives up."""
    ranked = sorted(block.ops, key=lambda op: OPERATIONS[op.position, op.operation].cost)
    return tuple(compile_op(op.position, op.operation, op.value) for op in ranked)
