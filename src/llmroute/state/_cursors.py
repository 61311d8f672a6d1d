"""Tactic cursors in memory: each rule's current service, streak and round-robin turn."""

from __future__ import annotations

import threading

from ..config import ServiceID
from ._types import TacticCursor

__all__ = ["InMemoryTacticState"]


class InMemoryTacticState:
    """The thread-safe in-process table of tactic cursors and round-robin turns, by rule uuid.

    :meth:`record` makes a service the rule's current one (streak + 1 when it already was);
    :meth:`take_turn` hands out the rule's next round-robin turn atomically, so concurrent
    picks never skip or repeat one. Memory grows with the number of rules.
    """

    def __init__(self) -> None:
        self._cursors: dict[str, TacticCursor] = {}
        self._turns: dict[str, int] = {}
        self._lock = threading.Lock()

    def current(self, rule_uuid: str) -> ServiceID | None:
        """The rule's current service, or None before its first."""
        return self.cursor(rule_uuid).current

    def cursor(self, rule_uuid: str) -> TacticCursor:
        """The rule's current service and streak."""
        return self._cursors.get(rule_uuid, TacticCursor())

    def record(self, rule_uuid: str, service_id: ServiceID) -> None:
        """Make ``service_id`` the rule's current service (streak + 1 if it already was)."""
        with self._lock:
            cursor = self._cursors.get(rule_uuid)
            if cursor is not None and cursor.current == service_id:
                self._cursors[rule_uuid] = TacticCursor(service_id, cursor.streak + 1)
            else:
                self._cursors[rule_uuid] = TacticCursor(service_id, 1)

    def peek_turn(self, rule_uuid: str) -> int:
        """The rule's next round-robin turn, without taking it."""
        return self._turns.get(rule_uuid, 0)

    def take_turn(self, rule_uuid: str) -> int:
        """The rule's next round-robin turn, taken (the next caller gets the one after)."""
        with self._lock:
            turn = self._turns.get(rule_uuid, 0)
            self._turns[rule_uuid] = turn + 1
            return turn

    def reset(self, rule_uuid: str | None = None) -> None:
        """Forget one rule's cursor and turn, or every rule's when ``rule_uuid`` is None."""
        with self._lock:
            if rule_uuid is None:
                self._cursors.clear()
                self._turns.clear()
            else:
                self._cursors.pop(rule_uuid, None)
                self._turns.pop(rule_uuid, None)

    def __repr__(self) -> str:
        return f"InMemoryTacticState({len(self._cursors)} rules)"
