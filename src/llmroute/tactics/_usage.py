"""Tactics that stay on the current service until its usage window fills: token_based, hybrid."""

from __future__ import annotations

from ..config import HybridParams, Service, Tactic, TokenBasedParams
from ..stats import ServiceStats
from ._base import BalancingTactic, CandidateSet, Pick, TacticEnv, first_min, params_of


def current_of(env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Service | None:
    """The rule's current service when it is still a candidate, else None."""
    current = env.state.current(rule_uuid)
    if current is None:
        return None
    pos = candidates.index.get(current)
    return None if pos is None else candidates.services[pos]


class TokenBasedTactic(BalancingTactic):
    """``token_based``: keep the current service while its window tokens are under the
    threshold; otherwise the service with the fewest window tokens (ties: first)."""

    name = "token_based"

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.threshold = params_of(config, TokenBasedParams).token_threshold

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        snapshot = env.stats.snapshot
        current = current_of(env, rule_uuid, candidates)
        if current is not None:
            tokens = snapshot(current).window_tokens_consumed
            if tokens < self.threshold:
                return (
                    current,
                    "kept the current service: {} window tokens < threshold {}",
                    (tokens, self.threshold),
                )
        usage = [snapshot(s).window_tokens_consumed for s in candidates.services]
        i = first_min(usage)
        return (
            candidates.services[i],
            "fewest window tokens ({}); the current service was {}",
            (usage[i], "at its threshold" if current is not None else "not a candidate"),
        )


def hybrid_score(stats: ServiceStats) -> int:
    """The hybrid tactic's load figure: ``10 * window_requests + window_tokens``."""
    return 10 * stats.window_request_count + stats.window_tokens_consumed


class HybridTactic(BalancingTactic):
    """``hybrid``: keep the current service while its window requests and window tokens are
    both under their thresholds; otherwise the lowest ``10 * requests + tokens``."""

    name = "hybrid"

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        params = params_of(config, HybridParams)
        self.request_threshold = params.request_threshold
        self.token_threshold = params.token_threshold

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        snapshot = env.stats.snapshot
        current = current_of(env, rule_uuid, candidates)
        if current is not None:
            stats = snapshot(current)
            requests, tokens = stats.window_request_count, stats.window_tokens_consumed
            if requests < self.request_threshold and tokens < self.token_threshold:
                return (
                    current,
                    "kept the current service: {} window requests < {} and {} tokens < {}",
                    (requests, self.request_threshold, tokens, self.token_threshold),
                )
        scores = [hybrid_score(snapshot(s)) for s in candidates.services]
        i = first_min(scores)
        return (
            candidates.services[i],
            "lowest 10 * window requests + window tokens ({}); the current service was {}",
            (scores[i], "at a threshold" if current is not None else "not a candidate"),
        )
