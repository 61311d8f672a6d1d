"""Service statistics: usage windows, latency, time to first token, speed and cache hits.

Runtime state, kept apart from configuration and keyed by :class:`ServiceID`. Writers pass the
:class:`Service` (for its id and ``time_window``); readers get an immutable
:class:`ServiceStats` snapshot. Window counters reset lazily: once ``time_window`` seconds have
passed since ``window_start`` the window reads zero, and the next write opens a new one. The
lifetime ``request_count`` never resets. Latency, TTFT and speed keep the last
``max_samples`` samples; percentiles interpolate linearly between ranks.

A peak-sensitive moving average of latency (``latency_ewma``) sits beside the snapshot and
never invalidates it; it only changes when a sample arrives.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from ..config import Service, ServiceID
from ..typing import Clock, system_clock
from ..usage import Usage
from ._samples import Samples, ewma_step

__all__ = ["InMemoryStatsStore", "ServiceStats"]


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """An immutable snapshot of one service's statistics (seed field names).

    Times are clock seconds (``None`` before the first event / while no window is open).
    Latency and TTFT figures are milliseconds, speed is tokens per second; all read 0 with no
    samples. ``cache_hit_rate`` is hits / (hits + misses) in the window, 0 with no events.
    ``window_cost_tokens`` is the window's input + output tokens, a cost proxy;
    ``window_cost`` the window's cost at the catalog's prices (the requests whose cost was
    known; 0.0 without a catalog).
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
    window_cost: float = 0.0
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


#: How many distinct ``decay_seconds`` values a record keeps a cached EWMA for.
_MAX_EWMA_DECAYS = 16


class _Record:
    """Mutable per-service state behind one lock; ``snap`` caches the last snapshot.

    ``ewma`` maps a decay to the current latency EWMA; it is replaced (never mutated) under
    the lock so readers may look it up without one. ``latency_times`` holds the clock time of
    each sample in ``latency``.
    """

    __slots__ = (
        "cache_hits",
        "cache_misses",
        "cost",
        "ewma",
        "input_tokens",
        "last_used",
        "latency",
        "latency_times",
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
        self.cost = 0.0
        self.latency = Samples(max_samples, True)
        self.ttft = Samples(max_samples, True)
        self.speed = Samples(max_samples, False)
        self.snap: ServiceStats | None = None
        self.latency_times: deque[float] = deque(maxlen=max_samples)
        self.ewma: dict[float, float] = {}

    def roll(self, now: float) -> None:
        """Close the window if it has run out (lock held)."""
        start = self.window_start
        if start is not None and now - start >= self.time_window:
            self.window_start = None
            self.window_requests = self.input_tokens = self.output_tokens = 0
            self.cache_hits = self.cache_misses = 0
            self.cost = 0.0
            self.snap = None

    def open(self, now: float) -> None:
        """Roll, then make sure a window is open (lock held)."""
        self.roll(now)
        if self.window_start is None:
            self.window_start = now
        self.snap = None

    def count(self, now: float, input_tokens: int, output_tokens: int) -> None:
        """Count one request and its tokens (lock held)."""
        self.open(now)
        self.request_count += 1
        self.window_requests += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.last_used = now

    def count_cache(self, now: float, hit: bool) -> None:
        """Count a prompt-cache hit or miss in the window (lock held)."""
        self.open(now)
        if hit:
            self.cache_hits += 1
        else:
            self.cache_misses += 1

    def success(
        self, now: float, usage: Usage | None, latency_ms: float | None, ttft_ms: float | None
    ) -> None:
        """Count one served request: tokens, latency, speed, TTFT, cache hit (lock held)."""
        inputs = usage.input_tokens if usage is not None else 0
        outputs = usage.output_tokens if usage is not None else 0
        self.count(now, inputs, outputs)  # opens the window: the samples need no more
        if latency_ms is not None:
            self.add_latency(latency_ms, now)
            generating_ms = latency_ms - (ttft_ms or 0.0)
            if outputs > 0 and generating_ms > 0:
                self.speed.add(outputs * 1000.0 / generating_ms)
        if ttft_ms is not None:
            self.ttft.add(ttft_ms)
        if usage is not None and inputs > 0:
            self.count_cache(now, usage.cached_tokens > 0)

    def add_sample(self, samples: Samples, value: float) -> None:
        """Add a TTFT or speed sample (lock held)."""
        samples.add(value)
        self.snap = None

    def add_latency(self, ms: float, now: float) -> None:
        """Add a latency sample taken at ``now`` and move every cached EWMA (lock held)."""
        times = self.latency_times
        dt = now - times[-1] if times else 0.0
        self.latency.add(ms)
        times.append(now)
        if self.ewma:
            self.ewma = {
                decay: ewma_step(value, ms, dt, decay) for decay, value in self.ewma.items()
            }
        self.snap = None

    def fold_ewma(self, decay_seconds: float) -> float | None:
        """Compute and cache the EWMA for a new decay from the kept samples (lock held)."""
        cached = self.ewma.get(decay_seconds)
        if cached is not None:
            return cached
        values = self.latency.values
        if not values:
            return None
        value = values[0]
        previous = self.latency_times[0]
        for sample, at in zip(values, self.latency_times, strict=True):
            value = ewma_step(value, sample, at - previous, decay_seconds)
            previous = at
        kept = self.ewma if len(self.ewma) < _MAX_EWMA_DECAYS else {}
        self.ewma = {**kept, decay_seconds: value}
        return value

    def build(self) -> ServiceStats:
        cache_events = self.cache_hits + self.cache_misses
        tokens = self.input_tokens + self.output_tokens
        lat, ttft = self.latency, self.ttft
        lat_avg, lat_p50, lat_p95, lat_p99 = lat.aggregates()
        ttft_avg, ttft_p50, ttft_p95, ttft_p99 = ttft.aggregates()
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
            window_cost=self.cost,
            avg_latency_ms=lat_avg,
            p50_latency_ms=lat_p50,
            p95_latency_ms=lat_p95,
            p99_latency_ms=lat_p99,
            avg_ttft_ms=ttft_avg,
            p50_ttft_ms=ttft_p50,
            p95_ttft_ms=ttft_p95,
            p99_ttft_ms=ttft_p99,
            avg_token_speed=self.speed.aggregates()[0],
            latency_sample_count=len(lat.values),
            ttft_sample_count=len(ttft.values),
            speed_sample_count=len(self.speed.values),
        )


class InMemoryStatsStore:
    """The thread-safe in-process stats store (the stats part of ``InMemoryState``).

    ``clock`` is a zero-argument callable returning seconds (``time.time`` by default);
    ``max_samples`` bounds each service's latency, TTFT and speed windows. Snapshots are cached
    until the next write or until the window runs out, so reading is cheap on the hot path.
    Latency samples are stamped with ``clock`` for :meth:`latency_ewma`. ``ValueError`` for a
    negative (or NaN) sample or token count, and for a ``decay_seconds`` that is not a finite
    number > 0.
    """

    def __init__(self, *, clock: Clock | None = None, max_samples: int = 100) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be >= 1, got {max_samples}")
        self._clock = clock or system_clock
        self._max_samples = max_samples
        self._records: dict[str, _Record] = {}
        self._empty: dict[ServiceID, ServiceStats] = {}
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
        _check_tokens(input_tokens, output_tokens)
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.count(now, input_tokens, output_tokens)

    def record_latency(self, service: Service, ms: float) -> None:
        _check_sample("latency", ms)
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.add_latency(ms, now)

    def record_ttft(self, service: Service, ms: float) -> None:
        _check_sample("ttft", ms)
        record = self._record(service)
        with record.lock:
            record.add_sample(record.ttft, ms)

    def record_speed(self, service: Service, tokens_per_second: float) -> None:
        _check_sample("speed", tokens_per_second)
        record = self._record(service)
        with record.lock:
            record.add_sample(record.speed, tokens_per_second)

    def record_cache(self, service: Service, hit: bool) -> None:
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.count_cache(now, hit)

    def snapshot(self, service: Service) -> ServiceStats:
        """The service's current statistics; zeros for a service never recorded."""
        record = self._records.get(service.service_id)
        if record is not None:
            record.time_window = float(service.time_window)
        return self.get(service.service_id)

    def get(self, service_id: ServiceID) -> ServiceStats:
        """The figures of a service by id, its window as long as its last write said."""
        record = self._records.get(service_id)
        if record is None:
            return self._empty_of(service_id)
        now = self._clock()
        snap = record.snap
        if snap is not None:
            # The snapshot's own window, not the record's: a concurrent write may open a new
            # window, and a snapshot of the expired one must not pass for it.
            start = snap.window_start
            if start is None or now - start < record.time_window:
                return snap
        with record.lock:
            record.roll(now)
            if record.snap is None:
                record.snap = record.build()
            return record.snap

    def _empty_of(self, service_id: ServiceID) -> ServiceStats:
        """The shared all-zero figures of a service never recorded."""
        empty = self._empty.get(service_id)
        if empty is None:
            empty = self._empty.setdefault(service_id, ServiceStats(service_id=service_id))
        return empty

    def ewma_of(self, service_id: str, decay_seconds: float) -> float | None:
        """:meth:`latency_ewma` by service id."""
        if not 0 < decay_seconds < math.inf:  # also rejects NaN
            raise ValueError(f"decay_seconds must be a finite number > 0, got {decay_seconds!r}")
        record = self._records.get(service_id)
        if record is None:
            return None
        value = record.ewma.get(decay_seconds)
        if value is not None:
            return value
        with record.lock:
            return record.fold_ewma(decay_seconds)

    def record_success(
        self,
        service: Service,
        usage: Usage | None,
        latency_ms: float | None,
        ttft_ms: float | None,
        cost: float | None = None,
    ) -> None:
        """Record one served request in one step: its tokens (a :class:`Usage`, valid by
        construction), latency, time to first token, output speed (output tokens over the
        time after the first token), prompt-cache hit (when it reports input tokens) and
        ``cost`` (added to the window's)."""
        if latency_ms is not None:
            _check_sample("latency", latency_ms)
        if ttft_ms is not None:
            _check_sample("ttft", ttft_ms)
        record = self._record(service)
        now = self._clock()
        with record.lock:
            record.success(now, usage, latency_ms, ttft_ms)  # rolls the window first
            if cost is not None and cost > 0:
                record.cost += cost

    def latency_ewma(self, service: Service, decay_seconds: float) -> float | None:
        """The peak-sensitive moving average of the service's latency (ms); None with no samples.

        A sample above the current value replaces it at once; a lower one pulls it down with
        weight ``1 - exp(-dt / decay_seconds)``, ``dt`` being the seconds since the previous
        sample. The value only changes when a sample arrives, so reading it is cheap.
        """
        return self.ewma_of(service.service_id, decay_seconds)


def _check_tokens(input_tokens: int, output_tokens: int) -> None:
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError(
            f"token counts must be >= 0, got input={input_tokens} output={output_tokens}"
        )


def _check_sample(kind: str, value: float) -> None:
    if not value >= 0:  # also rejects NaN
        raise ValueError(f"{kind} sample must be a number >= 0, got {value!r}")
