"""Bounded sample windows with lazily computed aggregates, and the latency EWMA step."""

from __future__ import annotations

import math
from collections import deque

__all__ = ["Samples", "ewma_step", "percentile"]


def percentile(ordered: list[float], p: float) -> float:
    """The ``p`` quantile (0..1) of ascending ``ordered``, interpolating linearly between ranks."""
    if not ordered:
        return 0.0
    rank = p * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


class Samples:
    """A bounded sample window; its aggregates are computed on the first read after a change
    (a write costs an append: selections that never read them never pay for the sort)."""

    __slots__ = ("_aggregates", "values", "with_percentiles")

    def __init__(self, max_samples: int, with_percentiles: bool) -> None:
        self.values: deque[float] = deque(maxlen=max_samples)
        self.with_percentiles = with_percentiles
        self._aggregates: tuple[float, float, float, float] | None = (0.0, 0.0, 0.0, 0.0)

    def add(self, value: float) -> None:
        self.values.append(float(value))
        self._aggregates = None

    def aggregates(self) -> tuple[float, float, float, float]:
        """(average, p50, p95, p99); the percentiles read 0 without ``with_percentiles``."""
        aggregates = self._aggregates
        if aggregates is None:
            values = self.values
            avg = sum(values) / len(values)
            if self.with_percentiles:
                ordered = sorted(values)
                aggregates = (
                    avg,
                    percentile(ordered, 0.50),
                    percentile(ordered, 0.95),
                    percentile(ordered, 0.99),
                )
            else:
                aggregates = (avg, 0.0, 0.0, 0.0)
            self._aggregates = aggregates
        return aggregates


def ewma_step(value: float, sample: float, dt: float, decay_seconds: float) -> float:
    """One peak-sensitive EWMA update: jump up to a higher ``sample``, decay towards a lower one.

    ``dt`` is the seconds since the previous sample (negative reads as 0).
    """
    if sample >= value:
        return sample
    weight = math.exp(-max(dt, 0.0) / decay_seconds)
    return value * weight + sample * (1.0 - weight)
