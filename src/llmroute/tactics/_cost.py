"""Tactics that choose by price: lowest_cost and price_weighted.

Both read the candidates' catalog figures (:meth:`CandidateSet.spec`): prices per million
tokens, ``free``. A free service costs 0 whatever its prices say.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate

from ..config import LowestCostParams, ModelSpec, PriceWeightedParams, ServiceID, Tactic
from ..state import StateSnapshot
from ..typing import Rng
from ._base import BalancingTactic, CandidateSet, Pick, Tokens, params_of

# Costs this close (relative) are a tie: the same prices reached by other sums.
_TIE = 1e-9
#: The (input, output) tokens a request is priced at when its own are not known (the
#: standalone balancer, a selector without figures): the 3:1 mix of blended prices.
BLENDED_MIX = (3_000, 1_000)


def _prices(spec: ModelSpec) -> tuple[float, float, int | None] | None:
    """(input, output, max output) per token-million of a priced spec; None if unpriced."""
    if spec.free:
        return 0.0, 0.0, None
    if spec.input is None or spec.output is None:
        return None
    return spec.input, spec.output, spec.max_output_tokens


class _Prices:
    """A candidate set's prices, for :class:`LowestCostTactic`: ``priced`` (positions),
    ``rates`` ((input, output, max output) of each), ``capped`` (whether some model caps its
    output) and ``cheapest``: the positions whose input and output prices are both the
    lowest, when some are and no output is capped (they win at any token count, so the
    request's tokens need not be counted)."""

    __slots__ = ("capped", "cheapest", "priced", "rates")

    def __init__(self, candidates: CandidateSet) -> None:
        found = [(i, _prices(candidates.spec(i))) for i in range(len(candidates))]
        known = [(i, p) for i, p in found if p is not None]
        self.priced = tuple(i for i, _ in known)
        self.rates = tuple(p for _, p in known)
        self.capped = any(most is not None for _, _, most in self.rates)
        self.cheapest: tuple[int, ...] = ()
        if known and not self.capped:
            low_in = min(p[0] for _, p in known)
            low_out = min(p[1] for _, p in known)
            self.cheapest = tuple(i for i, p in known if p[0] == low_in and p[1] == low_out)


class LowestCostTactic(BalancingTactic):
    """``lowest_cost``: the candidate whose estimated cost for this request is lowest.

    A candidate's cost: the request's estimated input tokens at its ``input`` price, plus
    its output (the request's ``max_tokens``, else 1,000; at most the model's
    ``max_output_tokens``) at its ``output`` price. Candidates with unknown prices come
    after every priced one. Equal costs (or every price unknown) go to the lower latency
    EWMA (no samples counts as 0, so an untried service gets tried), then config order.
    Without the request's tokens (:meth:`pick`) it prices :data:`BLENDED_MIX`. When one
    candidate is cheapest on both prices, the request's tokens are not counted at all.
    """

    name = "lowest_cost"
    reads_tokens = True

    def __init__(self, config: Tactic) -> None:
        super().__init__(config)
        self.decay = params_of(config, LowestCostParams).decay_seconds
        self.ewma_decay = self.decay

    def prepare(self, candidates: CandidateSet) -> _Prices:
        return _Prices(candidates)

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        return self.pick_for(snapshot, candidates, rng, lambda: BLENDED_MIX)

    def pick_for(
        self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng, tokens: Tokens
    ) -> Pick:
        prices: _Prices = candidates.data
        ids, ewma = candidates.ids, snapshot.ewma
        if not prices.priced:
            won = _fastest(range(len(ids)), ids, ewma)
            why = "no prices known: lowest latency EWMA ({:.1f} ms)"
            return candidates.services[won], why, (ewma.get(ids[won], 0.0),)
        if prices.cheapest:
            won = _fastest(prices.cheapest, ids, ewma)
            rate = prices.rates[prices.priced.index(won)]
            return (
                candidates.services[won],
                "cheapest at any token count (input {}/M, output {}/M), shared by {} of {} "
                "priced: lowest latency EWMA ({:.1f} ms)",
                (
                    rate[0],
                    rate[1],
                    len(prices.cheapest),
                    len(prices.priced),
                    ewma.get(ids[won], 0.0),
                ),
            )
        inputs, output = tokens()
        if prices.capped:
            costs = [
                a * inputs + b * (output if most is None else min(output, most))
                for a, b, most in prices.rates
            ]
        else:
            costs = [a * inputs + b * output for a, b, _ in prices.rates]
        best = min(costs)
        edge = best + _TIE * best
        tied = [prices.priced[k] for k, cost in enumerate(costs) if cost <= edge]
        won = _fastest(tied, ids, ewma)
        why = (
            "cheapest: {:.6f} for ~{} input + {} output tokens, shared by {} of {} priced: "
            "lowest latency EWMA ({:.1f} ms)"
        )
        return (
            candidates.services[won],
            why,
            (best * 1e-6, inputs, output, len(tied), len(prices.priced), ewma.get(ids[won], 0.0)),
        )


def _fastest(
    positions: Sequence[int], ids: tuple[ServiceID, ...], ewma: Mapping[str, float]
) -> int:
    """The position with the lowest latency EWMA (none counts as 0); ties: the first."""
    if len(positions) == 1:
        return positions[0]
    return min(positions, key=lambda i: ewma.get(ids[i], 0.0))


class _Weights:
    """Cumulative price weights of a candidate set (see :class:`PriceWeightedTactic`)."""

    __slots__ = ("blended", "chances", "cumulative", "last", "why")

    def __init__(self, candidates: CandidateSet) -> None:
        specs = [candidates.spec(i) for i in range(len(candidates))]
        blended = [spec.blended for spec in specs]
        counts = [s.weight for s in candidates.services]
        if not any(counts):
            counts = [1] * len(counts)
        known = [b for b in blended if b is not None]
        if any(b == 0 for b in known):
            self.why = "free"
            weights = [float(w) if b == 0 else 0.0 for b, w in zip(blended, counts, strict=True)]
        elif known:
            self.why = "priced"
            dearest = max(known)  # an unknown price weighs as the dearest known one
            weights = [
                w / (dearest if b is None else b) ** 2 for b, w in zip(blended, counts, strict=True)
            ]
        else:
            self.why = "unpriced"
            weights = [float(w) for w in counts]
        if not any(weights):  # the free ones all weigh 0: spread among them all
            weights = [1.0 if b == 0 else 0.0 for b in blended]
        self.blended = blended
        self.cumulative = list(accumulate(weights))
        total = self.cumulative[-1]
        self.chances = tuple(w / total for w in weights)
        self.last = max(i for i, w in enumerate(weights) if w > 0)

    def draw(self, rng: Rng) -> int:
        i = bisect_right(self.cumulative, rng.random() * self.cumulative[-1])
        return i if i <= self.last else self.last


class PriceWeightedTactic(BalancingTactic):
    """``price_weighted``: weighted random by the inverse square of the blended price.

    A candidate's weight is its ``weight`` over the square of its blended price per million
    tokens ((3 x input + output) / 4): a service half the price draws four times as often
    (OpenRouter's default provider balancing). A candidate with an unknown price weighs as
    the dearest priced one; with no price known the weights alone decide. Free (or
    zero-priced) candidates take every draw while there are any, spread by their weights.
    """

    name = "price_weighted"

    def __init__(self, config: Tactic) -> None:
        params_of(config, PriceWeightedParams)
        super().__init__(config)

    def prepare(self, candidates: CandidateSet) -> _Weights:
        return _Weights(candidates)

    def pick(self, snapshot: StateSnapshot, candidates: CandidateSet, rng: Rng) -> Pick:
        weights: _Weights = candidates.data
        i = weights.draw(rng)
        service = candidates.services[i]
        if weights.why == "free":
            return service, "price-weighted random: free, chance {:.1%}", (weights.chances[i],)
        if weights.why == "unpriced":
            return service, "no prices known: weighted random, chance {:.1%}", (weights.chances[i],)
        blended = weights.blended[i]
        shown = "unknown" if blended is None else f"{blended:.4g}/M"
        return (
            service,
            "price-weighted random: blended {}, chance {:.1%}",
            (shown, weights.chances[i]),
        )
