"""Tactics that stay on the current service until its usage window fills: token_based, hybrid."""

from __future__ import annotations

from ..config import HybridParams, Tactic, TokenBasedParams
from ..state import StateSnapshot
from ..stats import ServiceStats
from ..typing import Rng
from ._base import BalancingTactic, CandidateSet, Pick, current_of, params_of
from ._ranking import LowestFirst


def window_tokens(stats: ServiceStats) -> int:
    """The token_based tactic's load figure: the window's tokens."""
    return stats.window_tokens_consumed


class TokenBasedTactic(BalancingTactic):
    """``token_based``: keep the current service while its window tokens are under the
    threshold; otherwise the service with the fewest window tokens (ties: first).

    The fewest is found without reading every candidate: window tokens only grow until the
    window rolls, so the candidate set keeps them ordered (:class:`LowestFirst`) and a pick
    reads the few at the front. The answer is the one a scan of every candidate gives.
    """

    name = "token_based"
    reads_stats = True
    keeps_current = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.threshold = params_of(config, TokenBasedParams).token_threshold

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        stats = snapshot.stats_of
        current = current_of(snapshot, candidates)
        if current is not None:
            tokens = stats(current.service_id).window_tokens_consumed
            if tokens < self.threshold:
                return (
                    current,
                    "kept the current service: {} window tokens < threshold {}",
                    (tokens, self.threshold),
                )
        lowest: LowestFirst = candidates.data
        i, tokens = lowest.lowest(snapshot, candidates)
        return (
            candidates.services[i],
            "fewest window tokens ({}); the current service was {}",
            (tokens, "at its threshold" if current is not None else "not a candidate"),
        )

    def prepare(self, candidates: CandidateSet) -> LowestFirst:
        return LowestFirst(window_tokens)


def hybrid_score(stats: ServiceStats) -> int:
    """The hybrid tactic's load figure: ``10 * window_requests + window_tokens``."""
    return 10 * stats.window_request_count + stats.window_tokens_consumed


class HybridTactic(BalancingTactic):
    """``hybrid``: keep the current service while its window requests and window tokens are
    both under their thresholds; otherwise the lowest ``10 * requests + tokens`` (ties:
    first), found as token_based finds the fewest tokens (:class:`LowestFirst`)."""

    name = "hybrid"
    reads_stats = True
    keeps_current = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        params = params_of(config, HybridParams)
        self.request_threshold = params.request_threshold
        self.token_threshold = params.token_threshold

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        stats = snapshot.stats_of
        current = current_of(snapshot, candidates)
        if current is not None:
            figures = stats(current.service_id)
            requests, tokens = figures.window_request_count, figures.window_tokens_consumed
            if requests < self.request_threshold and tokens < self.token_threshold:
                return (
                    current,
                    "kept the current service: {} window requests < {} and {} tokens < {}",
                    (requests, self.request_threshold, tokens, self.token_threshold),
                )
        lowest: LowestFirst = candidates.data
        i, score = lowest.lowest(snapshot, candidates)
        return (
            candidates.services[i],
            "lowest 10 * window requests + window tokens ({}); the current service was {}",
            (score, "at a threshold" if current is not None else "not a candidate"),
        )

    def prepare(self, candidates: CandidateSet) -> LowestFirst:
        return LowestFirst(hybrid_score)
