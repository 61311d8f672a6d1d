"""Calls in flight per service, in this process."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["InFlight"]


class InFlight:
    """Calls in flight per service in this process (read by ``least_busy``): the selector's
    counter unless its store keeps one (``typing.CountsInFlight``).

    A call in flight belongs to the process holding its connection, so a count shared by
    several processes must not outlive one that dies: ``RedisState`` shares them as
    per-replica leases that expire.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, service_id: str, delta: int) -> None:
        """Count ``delta`` (+1 started, -1 finished); a count never goes below 0."""
        with self._lock:
            count = max(self._counts.get(service_id, 0) + delta, 0)
            if count:
                self._counts[service_id] = count
            else:
                self._counts.pop(service_id, None)

    def count(self, service_id: str) -> int:
        """The calls in flight to one service."""
        return self._counts.get(service_id, 0)

    def view(self) -> Mapping[str, int]:
        """A read-only copy of every count, taken now."""
        with self._lock:
            return MappingProxyType(dict(self._counts))
