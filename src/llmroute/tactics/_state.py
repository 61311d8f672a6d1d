"""Tactic state: each rule's current service and how many picks in a row it has had."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

from ..config import ServiceID

#: Chooses the next service from the rule's current service (None before the first pick)
#: and its streak; used with :meth:`TacticState.advance`. It must be pure and quick: it may
#: run under a lock, and a shared backend may run it again on a conflict.
Step = Callable[[ServiceID | None, int], ServiceID]


class TacticCursor(NamedTuple):
    """A rule's tactic cursor: its current service and how many picks in a row it has had.

    ``current`` is None (and ``streak`` 0) before the rule's first pick.
    """

    current: ServiceID | None = None
    streak: int = 0


@runtime_checkable
class TacticState(Protocol):
    """Where tactics keep per-rule state, keyed by rule uuid, never in the configuration.

    Implementations must be thread-safe. A pick sets the rule's *current service*; the
    streak counts consecutive picks of the same service (a different pick restarts it at 1).
    :meth:`advance` is the atomic read-choose-write that round_robin needs for exact counts
    under concurrency; :meth:`record` may be last-writer-wins.
    """

    def current(self, rule_uuid: str) -> ServiceID | None:
        """The rule's current service, or None before its first pick."""

    def cursor(self, rule_uuid: str) -> TacticCursor:
        """The rule's current service and streak."""

    def record(self, rule_uuid: str, service_id: ServiceID) -> None:
        """Make ``service_id`` the rule's current service (streak + 1 if it already was)."""

    def advance(self, rule_uuid: str, step: Step) -> tuple[ServiceID, int]:
        """Atomically call ``step(current, streak)`` and record its choice.

        Returns the chosen service id and its new streak.
        """

    def reset(self, rule_uuid: str | None = None) -> None:
        """Forget one rule's state, or every rule's when ``rule_uuid`` is None."""


class InMemoryTacticState:
    """The thread-safe in-process :class:`TacticState`.

    Reads are lock-free; :meth:`advance` holds one lock while its step runs, so concurrent
    round-robin picks never skip or repeat a turn. Memory grows with the number of rules.
    """

    def __init__(self) -> None:
        self._cursors: dict[str, tuple[ServiceID, int]] = {}
        self._lock = threading.Lock()

    def current(self, rule_uuid: str) -> ServiceID | None:
        cursor = self._cursors.get(rule_uuid)
        return None if cursor is None else cursor[0]

    def cursor(self, rule_uuid: str) -> TacticCursor:
        cursor = self._cursors.get(rule_uuid)
        return TacticCursor() if cursor is None else TacticCursor(*cursor)

    def record(self, rule_uuid: str, service_id: ServiceID) -> None:
        cursor = self._cursors.get(rule_uuid)
        if cursor is not None and cursor[0] == service_id:
            self._cursors[rule_uuid] = (cursor[0], cursor[1] + 1)
        else:
            self._cursors[rule_uuid] = (service_id, 1)

    def advance(self, rule_uuid: str, step: Step) -> tuple[ServiceID, int]:
        with self._lock:
            cursor = self._cursors.get(rule_uuid)
            if cursor is None:
                chosen = step(None, 0)
                new = (chosen, 1)
            else:
                chosen = step(cursor[0], cursor[1])
                new = (cursor[0], cursor[1] + 1) if chosen == cursor[0] else (chosen, 1)
            self._cursors[rule_uuid] = new
            return new

    def reset(self, rule_uuid: str | None = None) -> None:
        with self._lock:
            if rule_uuid is None:
                self._cursors.clear()
            else:
                self._cursors.pop(rule_uuid, None)

    def __repr__(self) -> str:
        return f"InMemoryTacticState({len(self._cursors)} rules)"
