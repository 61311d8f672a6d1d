"""Tactics that read latency and speed: latency_based, speed_based and adaptive."""

from __future__ import annotations

from operator import attrgetter

from ..config import AdaptiveParams, LatencyBasedParams, SpeedBasedParams, Tactic
from ..stats import ServiceStats
from ._base import (
    BalancingTactic,
    CandidateSet,
    Pick,
    TacticEnv,
    first_max,
    first_min,
    params_of,
)
from ._usage import current_of


class LatencyBasedTactic(BalancingTactic):
    """``latency_based``: keep the current service while its latency figure is under the
    threshold; otherwise the lowest figure (ties: first).

    The figure is the ``comparison_mode`` latency (avg, p50, p95 or p99); a service with no
    samples counts as twice the threshold.
    """

    name = "latency_based"

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

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        snapshot = env.stats.snapshot
        current = current_of(env, rule_uuid, candidates)
        if current is not None:
            value = self.metric(snapshot(current))
            if value < self.threshold:
                return (
                    current,
                    "kept the current service: {} latency {:g} ms < threshold {:g} ms",
                    (self.mode, value, self.threshold),
                )
        values = [self.metric(snapshot(s)) for s in candidates.services]
        i = first_min(values)
        return (
            candidates.services[i],
            "lowest {} latency ({:g} ms); the current service was {}",
            (self.mode, values[i], "too slow" if current is not None else "not a candidate"),
        )


class SpeedBasedTactic(BalancingTactic):
    """``speed_based``: the fastest service in tokens/s among those at or above the threshold.

    A service with fewer than ``min_samples_required`` speed samples scores half the
    threshold (so it gets explored); when no warm service reaches the threshold, the highest
    of the warm averages and the cold half-thresholds wins. Ties go to the first.
    """

    name = "speed_based"

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        params = params_of(config, SpeedBasedParams)
        self.min_samples = params.min_samples_required
        self.threshold = params.speed_threshold_tps

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        snapshot = env.stats.snapshot
        scores: list[float] = []
        qualified: list[float] = []
        cold = self.threshold / 2
        for service in candidates.services:
            stats = snapshot(service)
            warm = stats.speed_sample_count >= self.min_samples
            score = stats.avg_token_speed if warm else cold
            scores.append(score)
            qualified.append(score if warm and score >= self.threshold else -1.0)
        i = first_max(qualified)
        if qualified[i] >= 0:
            return (
                candidates.services[i],
                "fastest warm service at or above {:g} tokens/s ({:g})",
                (self.threshold, scores[i]),
            )
        i = first_max(scores)
        return (
            candidates.services[i],
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

    def pick(self, env: TacticEnv, rule_uuid: str, candidates: CandidateSet) -> Pick:
        snapshot = env.stats.snapshot
        health = env.health if self._health else None
        if health is None:
            scores = [self.score(snapshot(s), True) for s in candidates.services]
        else:
            is_healthy = health.is_healthy
            scores = [
                self.score(snapshot(s), is_healthy(sid))
                for s, sid in zip(candidates.services, candidates.ids, strict=True)
            ]
        i = first_max(scores)
        return candidates.services[i], "highest adaptive score ({:.4f})", (scores[i],)
