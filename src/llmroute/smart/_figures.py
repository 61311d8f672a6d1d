"""The live figures of one block's services, read from the selection's state snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ..config import Service, TtftFigure
from ..stats import ServiceStats

__all__ = ["BlockFigures", "SnapshotFigures"]


class SnapshotFigures(Protocol):
    """What the live ops read of a state snapshot (a ``StateSnapshot`` is one): the clock
    reading, the services' stats and their live session counts (absent: none)."""

    @property
    def now(self) -> float:
        """The clock reading of the selection."""

    @property
    def stats(self) -> Mapping[str, ServiceStats]:
        """The services' figures by id (absent: none yet)."""

    @property
    def sessions(self) -> Mapping[str, int]:
        """Live sessions by service id (absent: none)."""


class BlockFigures:
    """:class:`llmroute.config.LiveFigures` of one block: its services' figures read from a
    snapshot on first use and kept (a block's ops may read the same figure twice)."""

    __slots__ = ("_services", "_snapshot", "_ttft", "_util")

    def __init__(self, snapshot: SnapshotFigures, services: tuple[Service, ...]) -> None:
        self._snapshot = snapshot
        self._services = services
        self._ttft: tuple[float | None, float | None, int] | None = None
        self._util: tuple[float | None, int, int] | None = None

    @property
    def now(self) -> float:
        """The selection's clock reading."""
        return self._snapshot.now

    def ttft(self, figure: TtftFigure) -> float | None:
        """The mean TTFT over all samples of the block's services (``avg``) or the slowest
        service's mean (``max``), in ms; None when none has a sample."""
        mean, slowest, _ = self.ttft_figures()
        return mean if figure == "avg" else slowest

    def ttft_figures(self) -> tuple[float | None, float | None, int]:
        """(mean, slowest service's mean, how many services have samples)."""
        if self._ttft is None:
            stats = self._snapshot.stats
            total = count = 0.0
            slowest: float | None = None
            services = 0
            for service in self._services:
                found = stats.get(service.service_id)
                if found is None or found.ttft_sample_count == 0:
                    continue
                services += 1
                total += found.avg_ttft_ms * found.ttft_sample_count
                count += found.ttft_sample_count
                if slowest is None or found.avg_ttft_ms > slowest:
                    slowest = found.avg_ttft_ms
            self._ttft = (total / count if count else None, slowest, services)
        return self._ttft

    def utilization(self) -> float | None:
        """Live sessions over ``model_capacity``, over the services that have one."""
        return self.capacity_figures()[0]

    def capacity_figures(self) -> tuple[float | None, int, int]:
        """(utilization, sessions in use, total capacity) of the services with a capacity."""
        if self._util is None:
            sessions = self._snapshot.sessions
            used = capacity = 0
            for service in self._services:
                if service.model_capacity is not None:
                    used += sessions.get(service.service_id, 0)
                    capacity += service.model_capacity
            self._util = (used / capacity if capacity else None, used, capacity)
        return self._util
