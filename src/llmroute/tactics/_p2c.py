"""Power-of-two-choices tactics: least_latency and least_busy.

Both draw two distinct candidates at random and keep the better one, which spreads load like
a global minimum would without herding every request onto the same service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast, overload

from ..config import LeastBusyParams, LeastLatencyParams, Tactic
from ..state import StateSnapshot
from ..typing import Rng
from ._base import BalancingTactic, CandidateSet, Pick, params_of, two_choices


class _Unsampled:
    """The positions of a candidate set not yet seen with a latency sample.

    Latency samples only accumulate, so once a service has one it leaves this list for good;
    the list is replaced (never mutated), so concurrent picks may race harmlessly.
    """

    __slots__ = ("positions",)

    def __init__(self, size: int) -> None:
        self.positions: tuple[int, ...] = tuple(range(size))


class LeastLatencyTactic(BalancingTactic):
    """``least_latency``: power of two choices over a peak-sensitive latency EWMA.

    While some candidates have no latency sample yet, one of them (at random) is tried
    first. Otherwise two distinct candidates are drawn and the lower EWMA wins (equal: either,
    at random). The EWMA comes from :meth:`the snapshot's ``ewma`` figures` with the
    tactic's ``decay_seconds``.
    """

    name = "least_latency"

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.decay = params_of(config, LeastLatencyParams).decay_seconds
        self.ewma_decay = self.decay

    def prepare(self, candidates: CandidateSet) -> _Unsampled:
        return _Unsampled(len(candidates))

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        services, ids = candidates.services, candidates.ids
        ewma = snapshot.ewma
        unsampled: _Unsampled = candidates.data
        positions = unsampled.positions
        while positions:
            # Draw among the positions not known to be sampled; drop one found sampled and
            # draw again, so the cost is O(1) per pick amortised over the set's lifetime.
            k = int(rng.random() * len(positions))
            i = positions[k]
            if ids[i] not in ewma:
                return services[i], "no latency samples yet: tried first", ()
            positions = positions[:k] + positions[k + 1 :]
            unsampled.positions = positions

        def cost(i: int) -> float:
            return ewma.get(ids[i], 0.0)

        won, lost, won_ms, lost_ms = two_choices(rng, range(len(services)), cost)
        return (
            services[won],
            "two random choices: latency EWMA {:.1f} ms, {} had {:.1f} ms",
            (won_ms, candidates.ids[lost], lost_ms),
        )


class LeastBusyTactic(BalancingTactic):
    """``least_busy``: the candidate with the fewest in-flight requests.

    In-flight counts come from the snapshot (the selector counts the calls it has in
    flight). When several tie for the fewest, two of them are drawn at random and the lower
    latency EWMA wins (no samples counts as 0; equal: either, at random).
    """

    name = "least_busy"
    reads_in_flight = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.decay = params_of(config, LeastBusyParams).decay_seconds
        self.ewma_decay = self.decay

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        services, ids = candidates.services, candidates.ids
        in_flight = snapshot.in_flight
        tied: Sequence[int]
        if not in_flight:  # nothing in flight: every candidate ties at 0, no count to scan
            fewest, tied = 0, range(len(ids))
        elif len(busy := _busy(in_flight, candidates)) < len(ids):
            # Some candidate has nothing in flight, so the fewest is 0 and the tied are the
            # idle ones: found from the busy few (bounded by the calls in flight, not by the
            # candidates), with the same draws as a scan of every count.
            fewest, tied = 0, _Idle(len(ids), busy)
            if len(tied) == 1:
                return services[tied[0]], "fewest in-flight requests ({})", (fewest,)
        else:
            counts = [in_flight.get(sid, 0) for sid in ids]  # every candidate is busy
            fewest = min(counts)
            tied = [i for i, n in enumerate(counts) if n == fewest]
            if len(tied) == 1:
                return services[tied[0]], "fewest in-flight requests ({})", (fewest,)
        ewma = snapshot.ewma

        def cost(i: int) -> float:
            return ewma.get(ids[i], 0.0)

        won, _, won_ms, _ = two_choices(rng, tied, cost)
        return (
            services[won],
            "fewest in-flight requests ({}), shared by {}: lower latency EWMA of two ({:.1f} ms)",
            (fewest, len(tied), won_ms),
        )


def _busy(in_flight: Mapping[str, int], candidates: CandidateSet) -> list[int]:
    """The positions of the candidates with calls in flight, ascending."""
    # A ServiceID is a str (same hash and equality), so the counts' plain keys find it.
    index = cast("Mapping[str, int]", candidates.index)
    return sorted(index[sid] for sid, count in in_flight.items() if count > 0 and sid in index)


class _Idle(Sequence[int]):
    """The positions ``0 .. size - 1`` except the ascending ``busy`` ones, without listing
    them: the ``k``-th idle position costs O(len(busy))."""

    __slots__ = ("_busy", "_size")

    def __init__(self, size: int, busy: list[int]) -> None:
        self._size = size
        self._busy = busy

    def __len__(self) -> int:
        return self._size - len(self._busy)

    @overload
    def __getitem__(self, k: int) -> int: ...
    @overload
    def __getitem__(self, k: slice) -> Sequence[int]: ...
    def __getitem__(self, k: int | slice) -> int | Sequence[int]:
        if isinstance(k, slice):
            return [self[j] for j in range(*k.indices(len(self)))]
        if not 0 <= k < len(self):
            raise IndexError(k)
        position = k
        for taken in self._busy:
            if taken > position:
                break
            position += 1
        return position
