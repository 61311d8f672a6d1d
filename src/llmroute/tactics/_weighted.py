"""Tactics that spread requests by weight or turn: random, round_robin, capacity_based and
tier."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate

from ..config import (
    CapacityBasedParams,
    RandomParams,
    RoundRobinParams,
    Service,
    Tactic,
    TierParams,
)
from ..state import StateSnapshot
from ..typing import Rng
from ._base import BalancingTactic, CandidateSet, Pick, params_of

#: The capacity of a service with neither ``model_capacity`` nor a positive ``weight``.
DEFAULT_CAPACITY = 100


class _Table:
    """Cumulative weights for drawing a position in proportion to its weight."""

    __slots__ = ("cumulative", "last", "total", "uniform", "weights")

    def __init__(self, weights: list[int]) -> None:
        self.uniform = not any(weights)
        if self.uniform:
            weights = [1] * len(weights)
        self.weights = tuple(weights)
        self.cumulative = list(accumulate(weights))
        self.total = self.cumulative[-1]
        # The last position with a positive weight: a draw that rounds up to ``total`` lands here.
        self.last = max(i for i, w in enumerate(weights) if w > 0)

    def draw(self, rng: Rng) -> int:
        i = bisect_right(self.cumulative, rng.random() * self.total)
        return i if i <= self.last else self.last


class RandomTactic(BalancingTactic):
    """``random``: weighted by each service's ``weight``; all weights 0 means uniform."""

    name = "random"

    def __init__(self, config: Tactic) -> None:
        params_of(config, RandomParams)
        super().__init__(config)

    def prepare(self, candidates: CandidateSet) -> _Table:
        return _Table([s.weight for s in candidates.services])

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        table: _Table = candidates.data
        i = table.draw(rng)
        if table.uniform:
            return candidates.services[i], "uniform random: every weight is 0", ()
        return (
            candidates.services[i],
            "weighted random: weight {} of {}",
            (table.weights[i], table.total),
        )


class RoundRobinTactic(BalancingTactic):
    """``round_robin``: ``request_threshold`` consecutive requests to each service in turn.

    The turn is the rule's counter, taken atomically by the state read that precedes the
    pick, so N picks over n services spread exactly however many callers make them; when the
    candidate set changes (a service ejected), the rotation goes on over the services left.
    The rotation starts at the rule's configured current service (``current_service_index``;
    :attr:`CandidateSet.start`).
    """

    name = "round_robin"
    takes_turn = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.threshold = params_of(config, RoundRobinParams).request_threshold

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        turn, threshold = snapshot.turn, self.threshold
        position = (turn // threshold + candidates.start) % len(candidates.services)
        return (
            candidates.services[position],
            "round robin: request {} of {} in a row",
            (turn % threshold + 1, threshold),
        )


def service_capacity(service: Service) -> int:
    """A service's capacity: ``model_capacity``, else ``weight`` if > 0, else 100."""
    if service.model_capacity is not None:
        return service.model_capacity
    return service.weight if service.weight > 0 else DEFAULT_CAPACITY


class CapacityBasedTactic(BalancingTactic):
    """``capacity_based``: random in proportion to free session capacity.

    With live session counts (an affinity store), each service's free capacity is its
    capacity minus its live sessions; full services are skipped unless every service is
    full, then (as without live counts) the draw is in proportion to plain capacity.

    A pick first draws by capacity and keeps the draw with probability free / capacity (up
    to :data:`_DRAWS` tries), which is in proportion to free capacity without reading every
    candidate's sessions; only when every try misses (services mostly full) does it read
    them all. Either way a service's odds are its free capacity over the total free (only the
    sequence of picks a given seed yields differs from a single draw over the full table).
    """

    name = "capacity_based"
    reads_sessions = True

    def __init__(self, config: Tactic) -> None:
        params_of(config, CapacityBasedParams)
        super().__init__(config)

    def prepare(self, candidates: CandidateSet) -> _Table:
        return _Table([service_capacity(s) for s in candidates.services])

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        table: _Table = candidates.data
        sessions = snapshot.sessions
        if not sessions:
            i = table.draw(rng)
            return (
                candidates.services[i],
                "capacity-proportional random (no live sessions): capacity {} of {}",
                (table.weights[i], table.total),
            )
        if not table.uniform:
            # Rejection sampling: draw by capacity, keep the draw with probability free /
            # capacity. A kept draw is in proportion to free capacity, as the full table
            # below, but costs O(1) instead of a read of every candidate's sessions.
            for _ in range(_DRAWS):
                i = table.draw(rng)
                capacity = table.weights[i]
                free_here = capacity - sessions.get(candidates.ids[i], 0)
                if free_here > 0 and rng.random() * capacity < free_here:
                    return candidates.services[i], _FREE_REASON, (free_here, capacity)
        free = [
            max(cap - sessions.get(sid, 0), 0)
            for cap, sid in zip(table.weights, candidates.ids, strict=True)
        ]
        if not any(free):
            i = table.draw(rng)
            return (
                candidates.services[i],
                "every service is at capacity: capacity-proportional random ({} of {})",
                (table.weights[i], table.total),
            )
        i = _Table(free).draw(rng)
        return candidates.services[i], _FREE_REASON, (free[i], table.weights[i])


#: How many capacity-proportional draws capacity_based tries before it reads every
#: candidate's free capacity (mostly full services: each draw is kept with probability free
#: / capacity, so at 10% free all 8 miss 43% of the time).
_DRAWS = 8
_FREE_REASON = "free-capacity random: {} of {} session slots free"


class _Tiers:
    """The lowest tier of a candidate set, the positions of its services, and their weights."""

    __slots__ = ("positions", "table", "tier")

    def __init__(self, services: tuple[Service, ...]) -> None:
        self.tier = min(s.tier for s in services)
        self.positions = tuple(i for i, s in enumerate(services) if s.tier == self.tier)
        self.table = _Table([services[i].weight for i in self.positions])


class TierTactic(BalancingTactic):
    """``tier`` (alias ``priority``): the lowest ``tier`` among the candidates serves,
    weighted random by ``weight`` inside it (all weights 0: uniform).

    The candidates are the healthy services (the health stage dropped the others), so the
    lowest tier with a healthy service serves; in panic mode, the lowest tier of all. A
    session pinned to a higher tier returns to the lower one once that one's choice has
    been healthy for ``promotion_hold_seconds`` (the selector's failback).
    """

    name = "tier"
    prefers_tiers = True

    def __init__(self, config: Tactic) -> None:
        params_of(config, TierParams)
        super().__init__(config)

    def prepare(self, candidates: CandidateSet) -> _Tiers:
        return _Tiers(candidates.services)

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        tiers: _Tiers = candidates.data
        table = tiers.table
        k = table.draw(rng)
        service = candidates.services[tiers.positions[k]]
        if len(tiers.positions) == 1:
            return service, "tier {}, the lowest with a candidate: its only service", (tiers.tier,)
        how = "uniform random" if table.uniform else "weighted random"
        return (
            service,
            "tier {}, the lowest with a candidate: " + how + " over its {}: weight {} of {}",
            (tiers.tier, len(tiers.positions), service.weight, table.total),
        )
