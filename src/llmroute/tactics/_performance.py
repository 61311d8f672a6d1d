"""Tactics that read latency and speed: latency_based, speed_based and adaptive."""

from __future__ import annotations

from operator import attrgetter

from ..config import AdaptiveParams, LatencyBasedParams, SpeedBasedParams, Tactic
from ..state import StateSnapshot
from ..stats import ServiceStats
from ..typing import Rng
from ._base import BalancingTactic, CandidateSet, Pick, current_of, first_max, first_min, params_of
from ._ranking import REFRESH_SECONDS, KeptPick, Refreshed, refreshed

__all__ = ["REFRESH_SECONDS", "AdaptiveTactic", "LatencyBasedTactic", "SpeedBasedTactic"]


class LatencyBasedTactic(BalancingTactic):
    """``latency_based``: keep the current service while its latency figure is under the
    threshold; otherwise the lowest figure (ties: first).

    The figure is the ``comparison_mode`` latency (avg, p50, p95 or p99); a service with no
    samples counts as twice the threshold. The current service's figure is read on every
    pick; the lowest is kept per candidate set and found again at most every
    :data:`REFRESH_SECONDS`, so a fallback pick costs a lookup, not a read of every
    candidate (it may name a service whose figure rose since, for up to that long).
    """

    name = "latency_based"
    reads_stats = True
    keeps_current = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        params = params_of(config, LatencyBasedParams)
        self.threshold = float(params.latency_threshold_ms)
        self.mode = params.comparison_mode
        self._figure = attrgetter(f"{self.mode}_latency_ms")

    def metric(self, stats: ServiceStats) -> float:
        """The service's latency figure in ms, or twice the threshold with no samples."""
        if stats.latency_sample_count == 0:
            return 2 * self.threshold
        value: float = self._figure(stats)
        return value

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        stats = snapshot.stats_of
        current = current_of(snapshot, candidates)
        if current is not None:
            value = self.metric(stats(current.service_id))
            if value < self.threshold:
                return (
                    current,
                    "kept the current service: {} latency {:g} ms < threshold {:g} ms",
                    (self.mode, value, self.threshold),
                )

        def lowest() -> KeptPick:
            values = [self.metric(stats(sid)) for sid in candidates.ids]
            i = first_min(values)
            return i, "lowest {} latency ({:g} ms); the current service was {}", (values[i],)

        i, template, args = refreshed(candidates.data, snapshot.now, lowest)
        why = "too slow" if current is not None else "not a candidate"
        return candidates.services[i], template, (self.mode, *args, why)

    def prepare(self, candidates: CandidateSet) -> Refreshed:
        return Refreshed()


class SpeedBasedTactic(BalancingTactic):
    """``speed_based``: the fastest service in tokens/s among those at or above the threshold.

    A service with fewer than ``min_samples_required`` speed samples scores half the
    threshold (so it gets explored); when no warm service reaches the threshold, the highest
    of the warm averages and the cold half-thresholds wins. Ties go to the first. The winner
    is kept per candidate set and chosen again at most every :data:`REFRESH_SECONDS`, so a
    pick costs a lookup, not a read of every candidate's speed.
    """

    name = "speed_based"
    reads_stats = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        params = params_of(config, SpeedBasedParams)
        self.min_samples = params.min_samples_required
        self.threshold = params.speed_threshold_tps

    def prepare(self, candidates: CandidateSet) -> Refreshed:
        return Refreshed()

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        i, template, args = refreshed(
            candidates.data, snapshot.now, lambda: self.fastest(snapshot, candidates)
        )
        return candidates.services[i], template, args

    def fastest(self, snapshot: StateSnapshot, candidates: CandidateSet) -> KeptPick:
        """The choice among every candidate, read from ``snapshot`` now."""
        scores: list[float] = []
        qualified: list[float] = []
        cold = self.threshold / 2
        for sid in candidates.ids:
            stats = snapshot.stats_of(sid)
            warm = stats.speed_sample_count >= self.min_samples
            score = stats.avg_token_speed if warm else cold
            scores.append(score)
            qualified.append(score if warm and score >= self.threshold else -1.0)
        i = first_max(qualified)
        if qualified[i] >= 0:
            return (
                i,
                "fastest warm service at or above {:g} tokens/s ({:g})",
                (self.threshold, scores[i]),
            )
        i = first_max(scores)
        return (
            i,
            "no warm service reaches {:g} tokens/s: best of warm averages and cold "
            "half-thresholds ({:g})",
            (self.threshold, scores[i]),
        )


class AdaptiveTactic(BalancingTactic):
    """``adaptive``: the highest weighted score of latency, token usage, speed and health.

    score = latency_weight * max(0, 1 - avg_latency / max_latency_ms) (0.5 with no samples)
    + token_weight * max(0, 1 - window_tokens / max_token_usage)
    + speed_weight * min(1, avg_tps / (2 * min_speed_tps)) (0.5 with no samples)
    + health_weight * (1 if healthy else 0). A weight of 0 switches its dimension off.
    """

    name = "adaptive"
    reads_stats = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        p = params_of(config, AdaptiveParams)
        self._latency = (p.latency_weight, float(p.max_latency_ms))
        self._tokens = (p.token_weight, float(p.max_token_usage))
        self._speed = (p.speed_weight, 2.0 * p.min_speed_tps)
        self._health = p.health_weight

    def score(self, stats: ServiceStats, healthy: bool) -> float:
        """The adaptive score of a service with these stats and health."""
        total = 0.0
        weight, most = self._latency
        if weight:
            if stats.latency_sample_count:
                total += weight * max(0.0, 1.0 - stats.avg_latency_ms / most)
            else:
                total += weight * 0.5
        weight, most = self._tokens
        if weight:
            total += weight * max(0.0, 1.0 - stats.window_tokens_consumed / most)
        weight, full = self._speed
        if weight:
            if stats.speed_sample_count:
                total += weight * min(1.0, stats.avg_token_speed / full)
            else:
                total += weight * 0.5
        if healthy:
            total += self._health
        return total

    def prepare(self, candidates: CandidateSet) -> Refreshed:
        return Refreshed()

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        # The best score is kept per candidate set and found again at most every
        # REFRESH_SECONDS, so a pick costs a lookup, not a score of every candidate.
        def best() -> KeptPick:
            scores = [
                self.score(snapshot.stats_of(sid), snapshot.healthy(sid)) for sid in candidates.ids
            ]
            i = first_max(scores)
            return i, "highest adaptive score ({:.4f})", (scores[i],)

        i, template, args = refreshed(candidates.data, snapshot.now, best)
        return candidates.services[i], template, args
