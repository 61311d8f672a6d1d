"""Timing primitives of the benchmark: individually timed calls, medians and p99s.

Every figure is the distribution of many calls timed one by one with
``time.perf_counter_ns`` after a warm-up, in this process. Nothing is subtracted from a
figure; :func:`empty_case` measures what an empty timed call costs so a reader can see the
floor under every number. :func:`run_interleaved` times many cases in turns, so a slow spell
of a shared machine spreads over all of them.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter_ns

__all__ = [
    "Case",
    "Figure",
    "Sizes",
    "empty_case",
    "run_interleaved",
    "time_calls",
]


@dataclass(frozen=True)
class Sizes:
    """How many calls a case times, after how many untimed warm-up calls."""

    iterations: int
    warmup: int

    def scaled(self, factor: float, minimum: int = 20) -> Sizes:
        """The same sizes times ``factor`` (for cases far slower than a select)."""
        return Sizes(
            max(minimum, int(self.iterations * factor)), max(minimum, int(self.warmup * factor))
        )


@dataclass(frozen=True)
class Figure:
    """Median and p99 of ``iterations`` individually timed calls, in nanoseconds."""

    median_ns: int
    p99_ns: int
    iterations: int

    @classmethod
    def of(cls, samples: list[int]) -> Figure:
        """The figure of raw per-call samples (ns)."""
        ordered = sorted(samples)
        n = len(ordered)
        return cls(ordered[n // 2], ordered[min(n - 1, (n * 99) // 100)], n)

    def as_json(self) -> dict[str, float | int]:
        """The stable JSON form: microseconds with three decimals, and the sample count."""
        return {
            "median_us": round(self.median_ns / 1000, 3),
            "p99_us": round(self.p99_ns / 1000, 3),
            "iterations": self.iterations,
        }


#: Each case's timed calls are split into this many rounds (pooled into one figure), so a
#: burst of noise from the rest of the machine weighs on part of a case, not all of it.
ROUNDS = 3


def time_calls(fn: Callable[[], object], sizes: Sizes) -> Figure:
    """Call ``fn`` ``sizes.warmup`` times untimed, then time ``sizes.iterations`` calls.

    Garbage left by earlier calls is collected before each round; the collector stays on
    while timing, so its pauses show in the p99 as they would in an app.
    """
    for _ in range(sizes.warmup):
        fn()
    samples: list[int] = []
    clock = perf_counter_ns
    for size in _rounds(sizes.iterations):
        gc.collect()
        for _ in range(size):
            start = clock()
            fn()
            samples.append(clock() - start)
    return Figure.of(samples)


def _rounds(iterations: int) -> list[int]:
    """``iterations`` split into :data:`ROUNDS` nearly equal rounds."""
    base, extra = divmod(iterations, ROUNDS)
    return [base + (1 if i < extra else 0) for i in range(ROUNDS)]


def _empty() -> None:
    """The function an empty timed call calls."""


@dataclass
class Case:
    """One measured call: ``fn`` (sync) or ``afn`` (a coroutine function), shown as ``label``
    under the stable id ``key``; ``store_calls``: the state-store reads and writes one
    request of the case makes (``{"reads": 1, "writes": 1}``), counted apart, when known."""

    key: str
    label: str
    sizes: Sizes
    fn: Callable[[], object] | None = None
    afn: Callable[[], Awaitable[object]] | None = None
    store_calls: dict[str, int] | None = None


def empty_case(sizes: Sizes) -> Case:
    """The floor: an empty timed call."""
    return Case("floor", "timer floor: an empty timed call", sizes, fn=_empty)


def run_interleaved(cases: list[Case]) -> dict[str, Figure]:
    """Time every case, interleaved: each case is warmed up, then the cases take turns, one
    round of each at a time (:data:`ROUNDS` rounds). A slow spell of the machine thus falls on
    a slice of every case rather than on all of a few, so figures stay comparable."""
    samples: dict[str, list[int]] = {case.key: [] for case in cases}
    for case in cases:
        _run(case, case.sizes.warmup, None)
    for round_number in range(ROUNDS):
        for case in cases:
            gc.collect()
            _run(case, _rounds(case.sizes.iterations)[round_number], samples[case.key])
    return {case.key: Figure.of(samples[case.key]) for case in cases}


def _run(case: Case, calls: int, into: list[int] | None) -> None:
    """Make ``calls`` calls of the case, timing each into ``into`` (None: untimed)."""
    clock = perf_counter_ns
    fn = case.fn
    if fn is not None:
        if into is None:
            for _ in range(calls):
                fn()
            return
        for _ in range(calls):
            start = clock()
            fn()
            into.append(clock() - start)
        return
    afn = case.afn
    assert afn is not None, f"case {case.key} has nothing to call"

    async def run() -> None:  # one event loop per round; its start-up is in no sample
        if into is None:
            for _ in range(calls):
                await afn()
            return
        for _ in range(calls):
            start = clock()
            await afn()
            into.append(clock() - start)

    asyncio.run(run())
