"""Tactics that spread requests by weight or turn: random, round_robin and capacity_based."""

from __future__ import annotations

import random
from bisect import bisect_right
from itertools import accumulate

from ..config import (
    CapacityBasedParams,
    RandomParams,
    RoundRobinParams,
    Service,
    ServiceID,
    Tactic,
)
from ._base import BalancingTactic, CandidateSet, Pick, TacticEnv, params_of

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

    def draw(self, rng: random.Random) -> int:
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

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        table: _Table = candidates.data
        i = table.draw(env.rng)
        if table.uniform:
            return candidates.services[i], "uniform random: every weight is 0", ()
        return (
            candidates.services[i],
            "weighted random: weight {} of {}",
            (table.weights[i], table.total),
        )


class _Turns:
    """The round-robin step for one candidate set (see :meth:`TacticState.advance`)."""

    __slots__ = ("candidates", "threshold")

    def __init__(self, candidates: CandidateSet, threshold: int) -> None:
        self.candidates = candidates
        self.threshold = threshold

    def __call__(self, current: ServiceID | None, streak: int) -> ServiceID:
        cands = self.candidates
        if current is None:
            return cands.ids[0]
        pos = cands.index.get(current)
        if pos is None:
            return self._after(current)
        if streak < self.threshold:
            return cands.ids[pos]
        pos += 1
        return cands.ids[pos if pos < len(cands.ids) else 0]

    def _after(self, gone: ServiceID) -> ServiceID:
        """The first candidate after ``gone`` in config order, wrapping to the first."""
        cands = self.candidates
        rank = cands.ranks.get(gone)
        if rank is not None:
            for sid in cands.ids:
                later = cands.ranks.get(sid)
                if later is not None and later > rank:
                    return sid
        return cands.ids[0]


class RoundRobinTactic(BalancingTactic):
    """``round_robin``: ``request_threshold`` consecutive requests to each service in turn.

    When the current service left the candidate set, the turn goes on with the next present
    service after it in config order.
    """

    name = "round_robin"
    records_pick = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.threshold = params_of(config, RoundRobinParams).request_threshold

    def prepare(self, candidates: CandidateSet) -> _Turns:
        return _Turns(candidates, self.threshold)

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        chosen, streak = env.state.advance(rule_uuid, candidates.data)
        return (
            candidates.services[candidates.index[chosen]],
            "round robin: request {} of {} in a row",
            (streak, self.threshold),
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
    """

    name = "capacity_based"

    def __init__(self, config: Tactic) -> None:
        params_of(config, CapacityBasedParams)
        super().__init__(config)

    def prepare(self, candidates: CandidateSet) -> _Table:
        return _Table([service_capacity(s) for s in candidates.services])

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        table: _Table = candidates.data
        sessions = env.sessions
        if sessions is None:
            i = table.draw(env.rng)
            return (
                candidates.services[i],
                "capacity-proportional random (no live session counts): capacity {} of {}",
                (table.weights[i], table.total),
            )
        count = sessions.count_by_service
        free = [
            max(cap - count(sid), 0) for cap, sid in zip(table.weights, candidates.ids, strict=True)
        ]
        if not any(free):
            i = table.draw(env.rng)
            return (
                candidates.services[i],
                "every service is at capacity: capacity-proportional random ({} of {})",
                (table.weights[i], table.total),
            )
        i = _Table(free).draw(env.rng)
        return (
            candidates.services[i],
            "free-capacity random: {} of {} session slots free",
            (free[i], table.weights[i]),
        )
