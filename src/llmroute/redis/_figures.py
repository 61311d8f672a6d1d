"""A snapshot's figures: this process's own latency, TTFT and speed samples (or, with
``share_samples``, the fleet's), with the usage window's counts (requests, tokens, cache hits)
as the whole fleet counted them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TypeVar

from ..config import ServiceID
from ..state import EMPTY, StateQuery, ewma_view
from ..stats import InMemoryStatsStore, ServiceStats
from ._samples import EMPTY_SAMPLES, FleetSamples
from ._view import Usage, View

__all__ = ["FleetEwma", "SharedStats", "figures"]

V = TypeVar("V")


def figures(
    view: View, query: StateQuery, stats: InMemoryStatsStore, shared: bool, now: float
) -> tuple[Mapping[str, ServiceStats], Mapping[str, float]]:
    """A snapshot's ``stats`` and ``ewma`` for ``query`` (view lock held): the local
    samples, or the fleet's when ``shared``, with the shared usage windows. A shallow copy of
    the view's maps is the snapshot (the view replaces its entries, never changes one), and
    a figure is built only when a tactic reads it."""
    samples: Entries[FleetSamples] | None = None
    if shared and (query.stats or query.ewma_decay):
        samples = dict(view.samples)
    ewma: Mapping[str, float] = EMPTY
    decay = query.ewma_decay
    if decay:
        ewma = (
            FleetEwma(samples, decay, query.services)
            if samples is not None
            else ewma_view(stats, decay)
        )
    if not query.stats:
        return EMPTY, ewma
    return SharedStats(stats, dict(view.usage), now, samples), ewma


#: A view's entries: service id -> (the value, when it was read).
Entries = Mapping[str, tuple[V, float]]


class SharedStats(Mapping[str, ServiceStats]):
    """Figures by service id, each built once on first access: the local store's, with the
    window fields replaced by the shared window's (absent or run out: an empty window), and
    with ``samples`` the latency, TTFT and speed fields by the fleet's samples'."""

    __slots__ = ("_now", "_read", "_samples", "_stats", "_usage")

    def __init__(
        self,
        stats: InMemoryStatsStore,
        usage: Entries[Usage | None],
        now: float,
        samples: Entries[FleetSamples] | None = None,
    ) -> None:
        self._stats = stats
        self._usage = usage
        self._now = now
        self._samples = samples
        self._read: dict[str, ServiceStats] = {}

    def __getitem__(self, service_id: str) -> ServiceStats:
        found = self._read.get(service_id)
        if found is None:
            found = self._read[service_id] = self._build(service_id)
        return found

    def _build(self, service_id: str) -> ServiceStats:
        sid = service_id if isinstance(service_id, ServiceID) else ServiceID.parse(service_id)
        local = self._stats.get(sid)
        if self._samples is not None:
            local = _with_samples(local, self._samples.get(service_id, _NO_SAMPLES)[0])
        window = self._usage.get(service_id, _NO_USAGE)[0]
        window = window.live(self._now) if window is not None else None
        if window is None:
            return replace(
                local,
                window_start=None,
                window_request_count=0,
                window_tokens_consumed=0,
                window_input_tokens=0,
                window_output_tokens=0,
                window_cache_hits=0,
                window_cache_misses=0,
                cache_hit_rate=0.0,
                window_cost_tokens=0,
            )
        tokens = window.inputs + window.outputs
        looked = window.hits + window.misses
        return replace(
            local,
            window_start=window.start,
            window_request_count=window.requests,
            window_tokens_consumed=tokens,
            window_input_tokens=window.inputs,
            window_output_tokens=window.outputs,
            window_cache_hits=window.hits,
            window_cache_misses=window.misses,
            cache_hit_rate=window.hits / looked if looked else 0.0,
            window_cost_tokens=tokens,
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self._read)

    def __len__(self) -> int:
        return len(self._read)


def _with_samples(local: ServiceStats, samples: FleetSamples | None) -> ServiceStats:
    """``local`` with its latency, TTFT and speed figures by the fleet's samples."""
    if samples is None:
        latency = ttft = (0.0, 0.0, 0.0, 0.0)
        speed, counts = 0.0, (0, 0, 0)
    else:
        latency, ttft = samples.latency.aggregates(), samples.ttft.aggregates()
        speed = samples.speed.aggregates()[0] if samples.speed.values else 0.0
        counts = (len(samples.latency.values), len(samples.ttft.values), len(samples.speed.values))
        if not counts[0]:
            latency = (0.0, 0.0, 0.0, 0.0)
        if not counts[1]:
            ttft = (0.0, 0.0, 0.0, 0.0)
    return replace(
        local,
        avg_latency_ms=latency[0],
        p50_latency_ms=latency[1],
        p95_latency_ms=latency[2],
        p99_latency_ms=latency[3],
        avg_ttft_ms=ttft[0],
        p50_ttft_ms=ttft[1],
        p95_ttft_ms=ttft[2],
        p99_ttft_ms=ttft[3],
        avg_token_speed=speed,
        latency_sample_count=counts[0],
        ttft_sample_count=counts[1],
        speed_sample_count=counts[2],
    )


class FleetEwma(Mapping[str, float]):
    """Latency EWMAs by service id from the fleet's samples (a service without latency
    samples is absent), each folded once on first access."""

    __slots__ = ("_decay", "_read", "_samples", "_services")

    def __init__(
        self, samples: Entries[FleetSamples], decay: float, services: tuple[str, ...]
    ) -> None:
        self._samples = samples
        self._decay = decay
        self._services = services
        self._read: dict[str, float | None] = {}

    def __getitem__(self, service_id: str) -> float:
        if service_id not in self._read:
            samples = self._samples.get(service_id, _NO_SAMPLES)[0]
            self._read[service_id] = samples.ewma(self._decay)
        value = self._read[service_id]
        if value is None:
            raise KeyError(service_id)
        return value

    def __iter__(self) -> Iterator[str]:
        return (sid for sid in self._services if sid in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


#: What a service missing from the view reads as: no samples, no usage window.
_NO_SAMPLES: tuple[FleetSamples, float] = (EMPTY_SAMPLES, 0.0)
_NO_USAGE: tuple[None, float] = (None, 0.0)
