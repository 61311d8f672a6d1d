"""Validating smart-routing ops and blocks, and evaluating blocks against a request."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from ..config import (
    OPERATIONS,
    LiveMatcher,
    Matcher,
    Service,
    SmartOp,
    SmartRouting,
    compile_op,
    config_error,
)
from ..request import RequestContext
from ._extract import extract_context
from ._figures import BlockFigures, SnapshotFigures
from ._trace import BlockTrace, OpTrace, seen

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


class _Block:
    """One block compiled: its request ops (cheapest first), then its live ops, the
    services whose figures the live ops read, and the match it gives."""

    __slots__ = ("live", "match", "ops", "request", "services")

    def __init__(self, index: int, block: SmartRouting, services: tuple[Service, ...]) -> None:
        ranked = sorted(block.ops, key=lambda op: OPERATIONS[op.position, op.operation].cost)
        request: list[Matcher] = []
        live: list[LiveMatcher] = []
        ops: list[tuple[SmartOp, Matcher | LiveMatcher, bool]] = []
        for op in ranked:
            matcher = compile_op(op.position, op.operation, op.value, timezone=op.meta.timezone)
            is_live = bool(OPERATIONS[op.position, op.operation].reads)
            if is_live:
                live.append(cast(LiveMatcher, matcher))
            else:
                request.append(cast(Matcher, matcher))
            ops.append((op, matcher, is_live))
        self.request = tuple(request)
        self.live = tuple(live)
        self.ops = tuple(op for op in ops if not op[2]) + tuple(op for op in ops if op[2])
        self.services = services
        self.match = SmartMatch(index, block, block.services)


class SmartRouter:
    """Evaluates ordered smart-routing blocks against requests: the first block whose ops
    all match wins.

    ``blocks`` are :class:`SmartRouting` models (validated when they were built) or their
    document form (mappings, validated here: :class:`ConfigError` with paths like
    ``[1].ops[0].value``). ``services`` gives, per block, the services whose live figures
    its ``service_ttft`` / ``service_capacity`` ops read (default: the block's active
    services; the selector passes those with an enabled provider). The router compiles
    every op once, here; evaluation compiles nothing. A router is immutable and safe to
    share between threads.
    """

    __slots__ = ("_blocks", "_rows", "_table", "reads")

    def __init__(
        self,
        blocks: Iterable[SmartRouting | Mapping[str, Any]],
        *,
        services: Sequence[tuple[Service, ...]] | None = None,
    ) -> None:
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
        if services is not None and len(services) != len(checked):
            raise ValueError(f"services= needs one entry per block ({len(checked)})")
        self._blocks = checked
        self._table = tuple(
            _Block(
                i,
                block,
                services[i]
                if services is not None
                else tuple(s for s in block.services if s.active),
            )
            for i, block in enumerate(checked)
        )
        # What evaluate() walks: plain tuples (unpacked in the loop, cheaper than attributes).
        self._rows = tuple((b.request, b.live, b.match, b.services) for b in self._table)
        #: What the live ops read of the state snapshot: some of "clock", "stats", "sessions".
        self.reads: frozenset[str] = frozenset(
            OPERATIONS[op.position, op.operation].reads for block in checked for op in block.ops
        ) - {""}

    @property
    def blocks(self) -> tuple[SmartRouting, ...]:
        """The blocks, in evaluation order."""
        return self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def __repr__(self) -> str:
        return f"SmartRouter({len(self._blocks)} blocks)"

    def evaluate(
        self,
        context: RequestContext | Any,
        figures: SnapshotFigures | None = None,
        skip: Container[int] = (),
    ) -> SmartMatch | None:
        """The first block whose ops all match ``context``, or None when none does.

        ``context`` is a :class:`RequestContext`; anything else is read with
        :func:`extract_context` first (and raises what that raises). Ops within a block are
        AND-ed and stop at the first that fails; a block's live ops (``time_range``,
        ``service_ttft``, ``service_capacity``) run after its request ops, on ``figures``
        (a state snapshot, e.g. ``StateSnapshot(now=time.time())``): without it they do
        not match. Blocks whose index is in ``skip`` are passed over.
        """
        if not isinstance(context, RequestContext):
            context = extract_context(context)
        for request, live, match, services in self._rows:
            for matcher in request:
                if not matcher(context):
                    break
            else:
                if skip and match.index in skip:
                    continue
                if not live:
                    return match
                if figures is not None:
                    view = BlockFigures(figures, services)
                    if all(matcher(view) for matcher in live):
                        return match
        return None

    def trace(
        self,
        context: RequestContext | Any,
        figures: SnapshotFigures | None = None,
        skip: Container[int] = (),
    ) -> tuple[BlockTrace, ...]:
        """How :meth:`evaluate` went, op by op: every block tried, up to the one that
        matched. Evaluates again (nothing is recorded while evaluating); a block in
        ``skip`` whose ops match reads ``"no usable service"``."""
        if not isinstance(context, RequestContext):
            context = extract_context(context)
        traces: list[BlockTrace] = []
        for i, block in enumerate(self._table):
            view = None if figures is None else BlockFigures(figures, block.services)
            ops: list[OpTrace] = []
            for op, matcher, is_live in block.ops:
                if is_live:
                    matched = view is not None and cast(LiveMatcher, matcher)(view)
                else:
                    matched = cast(Matcher, matcher)(context)
                ops.append(
                    OpTrace(op.position, op.operation, op.value, seen(op, context, view), matched)
                )
                if not matched:
                    break
            else:
                outcome = "no usable service" if i in skip else "matched"
                traces.append(BlockTrace(i, block.match.block.description, tuple(ops), outcome))
                if outcome == "matched":
                    break
                continue
            traces.append(BlockTrace(i, block.match.block.description, tuple(ops), "no match"))
        return tuple(traces)
