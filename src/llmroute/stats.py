"""Service statistics: usage windows, latency, time to first token, speed and cache hits.

Runtime state, kept apart from configuration and keyed by :class:`ServiceID`. Writers pass the
:class:`Service` (for its id and ``time_window``); readers get an immutable
:class:`ServiceStats` snapshot. Window counters reset lazily: once ``time_window`` seconds have
passed since ``window_start`` the window reads zero, and the next write opens a new one. The
lifetime ``request_count`` never resets. Latency, TTFT and speed keep the last
``max_samples`` samples; percentiles interpolate linearly between ranks.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ._clock import Clock, system_clock
from .config import Service, ServiceID

__all__ = ["InMemoryStatsStore", "ServiceStats", "StatsStore", "percentile"]


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """An immutable snapshot of one service's statistics (seed field names).

    Times are clock seconds (``None`` before the first event / while no window is open).
    Latency and TTFT figures are milliseconds, speed is tokens per second; all read 0 with no
    samples. ``cache_hit_rate`` is hits / (hits + misses) in the window, 0 with no events.
    ``window_cost_tokens`` is the window's input + output tokens, a cost proxy.
    """

    service_id: ServiceID
    request_count: int = 0
    last_used: float | None = None
    window_start: float | None = None
    window_request_count: int = 0
    window_tokens_consumed: int = 0
    window_input_tokens: int = 0
    window_output_tokens: int = 0
    window_cache_hits: int = 0
    window_cache_misses: int = 0
    cache_hit_rate: float = 0.0
    window_cost_tokens: int = 0
    avg_latency_ms: float = 0.0
    p50_latency_ms: float = 0.0
    p95_latency_ms: float = 0.0
    p99_latency_ms: float = 0.0
    avg_ttft_ms: float = 0.0
    p50_ttft_ms: float = 0.0
    p95_ttft_ms: float = 0.0
    p99_ttft_ms: float = 0.0
    avg_token_speed: float = 0.0
    latency_sample_count: int = 0
    ttft_sample_count: int = 0
    speed_sample_count: int = 0


@runtime_checkable
class StatsStore(Protocol):
    """Where service statistics live. Implementations must be thread-safe."""

    def record_usage(self, service: Service, input_tokens: int, output_tokens: int) -> None:
        """Count one request and its tokens in the lifetime and window counters."""

    def record_latency(self, service: Service, ms: float) -> None:
        """Add a latency sample (milliseconds)."""

    def record_ttft(self, service: Service, ms: float) -> None:
        """Add a time-to-first-token sample (milliseconds)."""

    def record_speed(self, service: Service, tokens_per_second: float) -> None:
        """Add an output speed sample (tokens per second)."""

    def record_cache(self, service: Service, hit: bool) -> None:
        """Count a prompt-cache hit or miss in the window."""

    def snapshot(self, service: Service) -> ServiceStats:
        """The service's current statistics; zeros for a service never recorded."""


def percentile(ordered: list[float], p: float) -> float:
    """The ``p`` quantile (0..1) of ascending ``ordered``, interpolating linearly between ranks."""
    if not ordered:
        return 0.0
    rank = p * (len(ordered) - 1)
    low = int(rank)
    if low + 1 >= len(ordered):
        return float(ordered[-1])
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


class _Samples:
    """A bounded sample window with its aggregates computed once per change."""

    __slots__ = ("avg", "p50", "p95", "p99", "values")

    def __init__(self, max_samples: int) -> None:
        self.values: deque[float] = deque(maxlen=max_samples)
        self.avg = self.p50 = self.p95 = self.p99 = 0.0

    def add(self, value: float, with_percentiles: bool) -> None:
        self.values.append(float(value))
        self.avg = sum(self.values) / len(self.values)
        if with_percentiles:
            ordered = sorted(self.values)
            self.p50 = percentile(ordered, 0.50)
            self.p95 = percentile(ordered, 0.95)
            self.p99 = percentile(ordered, 0.99)


class _Record:
    """Mutable per-service state behind one lock; ``snap`` caches the last snapshot."""

    __slots__ = (
        "cache_hits",
        "cache_misses",
        "input_tokens",
        "last_used",
        "latency",
        "lock",
        "output_tokens",
        "request_count",
        "service_id",
        "snap",
        "speed",
        "time_window",
        "ttft",
        "window_requests",
        "window_start",
    )

    def __init__(self, service: Service, max_samples: int) -> None:
        self.lock = threading.Lock()
        self.service_id = service.service_id
        self.time_window = float(service.time_window)
        self.request_count = 0
        self.last_used: float | None = None
        self.window_start: float | None = None
        self.window_requests = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_hits = 0
        self.cache_misses = 0
        self.latency = _Samples(max_samples)
        self.ttft = _Samples(max_samples)
        self.speed = _Samples(max_samples)
        self.snap: ServiceStats | None = None

    def roll(self, now: float) -> None:
        """Close the window if it has run out (lock held)."""
        start = self.window_start
        if start is not None and now - start >= self.time_window:
            self.window_start = None
            self.window_requests = self.input_tokens = self.output_tokens = 0
            self.cache_hits = self.cache_misses = 0
            self.snap = None

    def open(self, now: float) -> None:
        """Roll, then make sure a window is open (lock held)."""
        self.roll(now)
        if self.window_start is None:
            self.window_start = now
        self.snap = None

    def build(self) -> ServiceStats:
        cache_events = self.cache_hits + self.cache_misses
        tokens = self.input_tokens + self.output_tokens
        lat, ttft = self.latency, self.ttft
        return ServiceStats(
            service_id=self.service_id,
            request_count=self.request_count,
            last_used=self.last_used,
            window_start=self.window_start,
            window_request_count=self.window_requests,
            window_tokens_consumed=tokens,
            window_input_tokens=self.input_tokens,
            window_output_tokens=self.output_tokens,
            window_cache_hits=self.cache_hits,
            window_cache_misses=self.cache_misses,
            cache_hit_rate=self.cache_hits / cache_events if cache_events else 0.0,
            window_cost_tokens=tokens,
            avg_latency_ms=lat.avg,
            p50_latency_ms=lat.p50,
            p95_latency_ms=lat.p95,
            p99_latency_ms=lat.p99,
            avg_ttft_ms=ttft.avg,
            p50_ttft_ms=ttft.p50,
            p95_ttft_ms=ttft.p95,
            p99_ttft_ms=ttft.p99,
            avg_token_speed=self.speed.avg,
            latency_sample_count=len(lat.values),
            ttft_sample_count=len(ttft.values),
            speed_sample_count=len(self.speed.values),
        )


class InMemoryStatsStore:
    """The thread-safe in-process :class:`StatsStore`.

    ``clock`` is a zero-argument callable returning seconds (``time.time`` by default);
    ``max_samples`` bounds each service's latency, TTFT and speed windows. Snapshots are cached
    until the next write or until the window runs out, so reading is cheap on the hot path.
    """

    def __init__(self, *, clock: Clock | None = None, max_samples: int = 100) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}")
        self._clock = clock or system_clock
        self._max_samples = max_samples
        self._records: dict[ServiceID, _Record] = {}
        self._lock = threading.Lock()

    def _record(self, service: Service) -> _Record:
        record = self._records.get(service.service_id)
        if record is None:
            with self._lock:
                record = self._records.get(service.service_id)
                if record is None:
                    record = _Record(service, self._max_samples)
                    self._records[service.service_id] = record
        record.time_window = float(service.time_window)
        return record

    def record_usage(self, service: Service, input_tokens: int, output_tokens: int) -> None:
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got input={input_tokens} output={output_tokens}"
            )
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.open(now)
            record.request_count += 1
            record.window_requests += 1
            record.input_tokens += input_tokens
            record.output_tokens += output_tokens
            record.last_used = now

    def record_latency(self, service: Service, ms: float) -> None:
        self._add_sample(service, "latency", ms, True)

    def record_ttft(self, service: Service, ms: float) -> None:
        self._add_sample(service, "ttft", ms, True)

    def record_speed(self, service: Service, tokens_per_second: float) -> None:
        self._add_sample(service, "speed", tokens_per_second, False)

    def _add_sample(self, service: Service, kind: str, value: float, pcts: bool) -> None:
        if not value >= 0:  # also rejects NaN
            raise ValueError(f"{kind} sample must be a number >= 0, got {value!r}")
        record = self._record(service)
        with record.lock:
            samples: _Samples = getattr(record, kind)
            samples.add(value, pcts)
            record.snap = None

    def record_cache(self, service: Service, hit: bool) -> None:
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.open(now)
            if hit:
                record.cache_hits += 1
            else:
                record.cache_misses += 1

    def snapshot(self, service: Service) -> ServiceStats:
        record = self._records.get(service.service_id)
        if record is None:
            return ServiceStats(service_id=service.service_id)
        now = self._clock()
        snap = record.snap
        start = record.window_start
        if snap is not None and (start is None or now - start < float(service.time_window)):
            return snap
        with record.lock:
            record.time_window = float(service.time_window)
            record.roll(now)
            if record.snap is None:
                record.snap = record.build()
            return record.snap
