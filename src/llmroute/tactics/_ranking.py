"""What a tactic keeps per candidate set so that a pick need not read every candidate's
figures: the lowest of a figure that only grows within a usage window (exact), and a best
pick refreshed at most every :data:`REFRESH_SECONDS` (for figures that move both ways).

Both live in :attr:`CandidateSet.data` (made by the tactic's ``prepare``); neither changes
what a pick depends on (the snapshot, the candidates and the rng), only how much of the
snapshot it reads.
"""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable

from ..state import StateSnapshot
from ..stats import ServiceStats
from ._base import CandidateSet

__all__ = ["REFRESH_SECONDS", "LowestFirst", "Refreshed", "refreshed"]

#: How long a candidate set's kept ordering or best pick is used before every candidate's
#: figures are read again (the ``ADAPTIVE_REFRESH_SECONDS`` of ``llmroute.tactics``).
REFRESH_SECONDS = 1.0

#: A kept pick: the winner's position in the candidate set, the reason and its arguments.
KeptPick = tuple[int, str, tuple[object, ...]]


class LowestFirst:
    """The candidates of one set ordered by a lower bound of a usage-window figure (window
    tokens, ``10 * requests + tokens``), so that :meth:`lowest` finds the lowest figure
    reading a handful of candidates instead of all of them.

    Within a usage window such a figure only grows, so a figure read once stays a lower bound
    until the window rolls: the heap's top is the lowest as soon as its own figure, read
    again, still equals its bound (ties: the first position, as a full scan). Every figure
    is read again when any candidate's window may have rolled, and at least every
    :data:`REFRESH_SECONDS` (a shared store's figure could otherwise drop unseen). Guarded
    by a lock: picks on several threads share it.
    """

    __slots__ = ("_built_at", "_figure", "_heap", "_lock", "_rolls_at")

    def __init__(self, figure: Callable[[ServiceStats], int]) -> None:
        self._figure = figure
        self._lock = threading.Lock()
        self._heap: list[tuple[int, int]] = []
        self._built_at = -math.inf
        self._rolls_at = -math.inf

    def lowest(self, snapshot: StateSnapshot, candidates: CandidateSet) -> tuple[int, int]:
        """The position of the candidate with the lowest figure in ``snapshot``, and the
        figure; ties go to the first position."""
        now, figure = snapshot.now, self._figure
        stats_of, ids, services = snapshot.stats_of, candidates.ids, candidates.services
        with self._lock:
            if not self._built_at <= now < min(self._rolls_at, self._built_at + REFRESH_SECONDS):
                self._rebuild(snapshot, candidates)
            heap = self._heap
            while True:
                bound, i = heap[0]
                stats = stats_of(ids[i])
                value = figure(stats)
                if value <= bound:
                    if value < bound:  # a figure that dropped inside its window: keep it true
                        heapq.heapreplace(heap, (value, i))
                    return i, value
                heapq.heapreplace(heap, (value, i))
                self._note_window(stats, services[i].time_window)

    def _rebuild(self, snapshot: StateSnapshot, candidates: CandidateSet) -> None:
        """Read every candidate's figure (lock held)."""
        self._rolls_at = math.inf
        heap = []
        for i, (sid, service) in enumerate(zip(candidates.ids, candidates.services, strict=True)):
            stats = snapshot.stats_of(sid)
            heap.append((self._figure(stats), i))
            self._note_window(stats, service.time_window)
        heapq.heapify(heap)
        self._heap = heap
        self._built_at = snapshot.now

    def _note_window(self, stats: ServiceStats, time_window: float) -> None:
        """Remember when this figure's window rolls (lock held)."""
        start = stats.window_start
        if start is not None:
            self._rolls_at = min(self._rolls_at, start + time_window)


class Refreshed:
    """A candidate set's best pick and when it was made; replaced whole, so concurrent picks
    race harmlessly (two may both refresh it)."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        self.kept: tuple[float, KeptPick] | None = None


def refreshed(cache: Refreshed, now: float, choose: Callable[[], KeptPick]) -> KeptPick:
    """``cache``'s pick while it is under :data:`REFRESH_SECONDS` old, else ``choose()``'s
    (which reads every candidate), kept for the next picks."""
    kept = cache.kept
    if kept is not None and 0 <= now - kept[0] < REFRESH_SECONDS:
        return kept[1]
    pick = choose()
    cache.kept = (now, pick)
    return pick
