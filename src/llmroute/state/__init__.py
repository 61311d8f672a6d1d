"""Routing state: the query / snapshot / outcome values every store speaks, and the in-memory
store.

A request touches the store twice: one :meth:`read` of a :class:`StateQuery` answered by an
immutable :class:`StateSnapshot` before deciding, one :meth:`write` of an :class:`Outcome`
after the call (see ``llmroute.typing.StateStore``). :class:`InMemoryState` is the thread-safe
in-process store; a shared backend implements the same two calls.
"""

from ._cursors import InMemoryTacticState
from ._inflight import InFlight
from ._memory import InMemoryState, ewma_view, stats_view
from ._types import (
    EMPTY,
    NO_CURSOR,
    Outcome,
    OutcomeKind,
    StateQuery,
    StateSnapshot,
    TacticCursor,
)

__all__ = [
    "EMPTY",
    "InFlight",
    "InMemoryState",
    "InMemoryTacticState",
    "NO_CURSOR",
    "Outcome",
    "OutcomeKind",
    "StateQuery",
    "StateSnapshot",
    "TacticCursor",
    "ewma_view",
    "stats_view",
]
