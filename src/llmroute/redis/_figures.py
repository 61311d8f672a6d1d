"""A snapshot's figures: this process's own latency, TTFT and speed samples, with the usage
window's counts (requests, tokens, cache hits) as the whole fleet counted them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace

from ..config import ServiceID
from ..stats import InMemoryStatsStore, ServiceStats
from ._view import Usage

__all__ = ["SharedStats"]


class SharedStats(Mapping[str, ServiceStats]):
    """Figures by service id, each built once on first access: the local store's, with the
    window fields replaced by the shared window's (absent or run out: an empty window)."""

    __slots__ = ("_now", "_read", "_stats", "_usage")

    def __init__(
        self, stats: InMemoryStatsStore, usage: Mapping[str, Usage | None], now: float
    ) -> None:
        self._stats = stats
        self._usage = usage
        self._now = now
        self._read: dict[str, ServiceStats] = {}

    def __getitem__(self, service_id: str) -> ServiceStats:
        found = self._read.get(service_id)
        if found is None:
            found = self._read[service_id] = self._build(service_id)
        return found

    def _build(self, service_id: str) -> ServiceStats:
        sid = service_id if isinstance(service_id, ServiceID) else ServiceID.parse(service_id)
        local = self._stats.get(sid)
        window = self._usage.get(service_id)
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
