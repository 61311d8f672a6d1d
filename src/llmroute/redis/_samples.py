"""A service's latency, TTFT and speed samples as the fleet recorded them (``share_samples``):
the newest ``max_samples`` outcomes of every replica, kept in one Redis list per service, with
the figures the latency and speed tactics read computed from them once per refresh."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from ..stats import Samples, ewma_step
from ..usage import Usage

__all__ = ["EMPTY_SAMPLES", "SAMPLES_TTL_MS", "FleetSamples", "encode_sample"]

#: How long a service's shared samples outlive its last served request (ms).
SAMPLES_TTL_MS = 3_600_000


class _Sample(NamedTuple):
    at: float
    latency: float | None
    ttft: float | None
    speed: float | None


def encode_sample(
    now: float, latency_ms: float | None, ttft_ms: float | None, usage: Usage | None
) -> str | None:
    """One served request's sample as stored (``"{time}|{latency}|{ttft}|{speed}"``, empty
    for a figure it has none of); None when it has no figure at all. The speed is output
    tokens over the time after the first token, as the in-memory stats count it."""
    speed = None
    outputs = usage.output_tokens if usage is not None else 0
    if latency_ms is not None:
        generating = latency_ms - (ttft_ms or 0.0)
        if outputs > 0 and generating > 0:
            speed = outputs * 1000.0 / generating
    if latency_ms is None and ttft_ms is None:
        return None
    return "|".join((repr(now), _text(latency_ms), _text(ttft_ms), _text(speed)))


def _text(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _number(text: str) -> float | None:
    if not text:
        return None
    value = float(text)
    return value if math.isfinite(value) and value >= 0 else None


class FleetSamples:
    """One service's shared samples, oldest first, with their aggregates (computed on first
    use) and latency EWMAs per decay (folded on first use). Immutable once built."""

    __slots__ = ("_ewma", "_samples", "latency", "speed", "ttft")

    def __init__(self, samples: Sequence[_Sample], max_samples: int) -> None:
        self._samples = tuple(samples)
        self.latency = Samples(max_samples, True)
        self.ttft = Samples(max_samples, True)
        self.speed = Samples(max_samples, False)
        for sample in self._samples:
            if sample.latency is not None:
                self.latency.add(sample.latency)
            if sample.ttft is not None:
                self.ttft.add(sample.ttft)
            if sample.speed is not None:
                self.speed.add(sample.speed)
        self._ewma: dict[float, float] = {}

    @classmethod
    def parse(cls, raw: Sequence[str], max_samples: int) -> FleetSamples:
        """From the list Redis holds (newest first); unreadable entries are skipped."""
        samples = []
        for entry in raw:
            try:
                at, latency, ttft, speed = entry.split("|")
                sample = _Sample(float(at), _number(latency), _number(ttft), _number(speed))
            except ValueError:
                continue
            samples.append(sample)
        samples.sort(key=lambda s: s.at)
        return cls(samples, max_samples)

    def plus(self, entry: str, max_samples: int) -> FleetSamples:
        """These samples and one more (this replica's own, before Redis hears of it)."""
        added = FleetSamples.parse([entry], max_samples)._samples
        return FleetSamples((*self._samples, *added)[-max_samples:], max_samples)

    def ewma(self, decay: float) -> float | None:
        """The peak-sensitive latency EWMA with ``decay`` seconds over the samples in time
        order, as the in-memory stats fold it; None without latency samples."""
        found = self._ewma.get(decay)
        if found is not None:
            return found
        value: float | None = None
        previous = 0.0
        for sample in self._samples:
            if sample.latency is None:
                continue
            if value is None:
                value = sample.latency
            else:
                value = ewma_step(value, sample.latency, sample.at - previous, decay)
            previous = sample.at
        if value is not None:
            self._ewma[decay] = value
        return value


#: No samples.
EMPTY_SAMPLES = FleetSamples((), 1)
