"""The price tactics: lowest_cost (cheapest for the request's tokens, ties by latency EWMA,
unknown prices last) and price_weighted (inverse-square blended price, observed over many
seeded draws)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from llmroute import ServiceSelector
from llmroute.config import ModelSpec, RoutingConfig, Service
from llmroute.state import StateSnapshot
from llmroute.tactics import CandidateSet, create_tactic


def _service(name: str, weight: int = 1, **figures: Any) -> Service:
    info = ModelSpec(**figures) if figures else None
    return Service(provider="p", model=name, weight=weight, model_info=info)


def _set(tactic: str, *services: Service) -> tuple[Any, CandidateSet]:
    built = create_tactic(tactic)
    candidates = CandidateSet(services)
    candidates.data = built.prepare(candidates)
    return built, candidates


def _selector(tactic: str, models: dict[str, dict[str, Any]]) -> ServiceSelector:
    return ServiceSelector(
        RoutingConfig.model_validate(
            {
                "providers": [{"name": "p", "api_base": "http://127.0.0.1", "token": "t"}],
                "models": models,
                "rules": [
                    {
                        "uuid": "r",
                        "services": [{"provider": "p", "model": m} for m in models],
                        "lb_tactic": {"type": tactic},
                    }
                ],
            }
        ),
        rng=random.Random(7),
    )


def _body(chars: int, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "a" * chars}], **extra}


def _no_tokens() -> tuple[int, int]:
    raise AssertionError("the tokens were counted")


# -- lowest_cost -----------------------------------------------------------------------


def test_lowest_cost_picks_the_cheapest_for_the_request_tokens() -> None:
    # "in" is cheap to read, dear to write; "out" the other way round
    models = {
        "in": {"input": 0.5, "output": 20.0},
        "out": {"input": 5.0, "output": 1.0},
        "unknown": {"context_window": 1_000_000},
    }
    selector = _selector("lowest_cost", models)
    long_prompt = selector.select("r", _body(400_000, max_tokens=100))  # ~100k in, 100 out
    assert long_prompt.service.model == "in"
    long_answer = selector.select("r", _body(40, max_tokens=50_000))  # ~10 in, 50k out
    assert long_answer.service.model == "out"
    assert "cheapest" in long_answer.explain()


def test_lowest_cost_puts_unknown_prices_after_known_ones() -> None:
    tactic, candidates = _set(
        "lowest_cost", _service("unknown"), _service("dear", input=90.0, output=90.0)
    )
    snapshot = StateSnapshot(now=0.0, ewma={"p:unknown": 1.0, "p:dear": 900.0})
    assert tactic.pick(snapshot, candidates, random.Random(1))[0].model == "dear"


def test_lowest_cost_ties_go_to_the_lower_latency_ewma() -> None:
    same = {"input": 1.0, "output": 20.0}
    tactic, candidates = _set(
        "lowest_cost",
        _service("slow", **same),
        _service("fast", **same),
        _service("x", input=5.0, output=1.0),  # cheaper output: the tokens decide
    )
    snapshot = StateSnapshot(now=0.0, ewma={"p:slow": 800.0, "p:fast": 120.0, "p:x": 1.0})
    service, template, args = tactic.pick_for(
        snapshot, candidates, random.Random(1), lambda: (1000, 10)
    )
    assert service.model == "fast"
    assert "shared by 2 of 3 priced" in template.format(*args)
    # cheapest on both prices: no tokens counted, the EWMA still breaks the tie
    tactic, candidates = _set("lowest_cost", _service("slow", **same), _service("fast", **same))
    service, template, args = tactic.pick_for(snapshot, candidates, random.Random(1), _no_tokens)
    assert service.model == "fast" and "any token count" in template
    # every price unknown: the EWMA alone decides
    tactic, candidates = _set("lowest_cost", _service("u1"), _service("u2"))
    snapshot = StateSnapshot(now=0.0, ewma={"p:u1": 50.0, "p:u2": 10.0})
    assert tactic.pick(snapshot, candidates, random.Random(1))[0].model == "u2"


def test_lowest_cost_takes_a_free_service_first() -> None:
    tactic, candidates = _set(
        "lowest_cost", _service("cheap", input=0.01, output=0.01), _service("local", free=True)
    )
    assert tactic.pick(StateSnapshot(now=0.0), candidates, random.Random(1))[0].model == "local"


def test_lowest_cost_caps_the_output_at_the_model_maximum() -> None:
    # 50k asked; "capped" writes at most 1k, so its dear output costs less in all
    tactic, candidates = _set(
        "lowest_cost",
        _service("open", input=1.0, output=2.0),
        _service("capped", input=1.0, output=10.0, max_output_tokens=1_000),
    )
    pick = tactic.pick_for(
        StateSnapshot(now=0.0), candidates, random.Random(1), lambda: (10, 50_000)
    )
    assert pick[0].model == "capped"


# -- price_weighted --------------------------------------------------------------------


def _draws(candidates: CandidateSet, tactic: Any, n: int, seed: int = 11) -> Counter[str]:
    rng = random.Random(seed)
    snapshot = StateSnapshot(now=0.0)
    return Counter(tactic.pick(snapshot, candidates, rng)[0].model for _ in range(n))


def _chi_square(seen: Counter[str], expected: dict[str, float], n: int) -> float:
    return sum((seen[k] - p * n) ** 2 / (p * n) for k, p in expected.items())


def test_price_weighted_draws_by_the_inverse_square_of_the_blended_price() -> None:
    # blended (3 x input + output) / 4: 1.0, 2.0 and 4.0 -> weights 1, 1/4, 1/16
    tactic, candidates = _set(
        "price_weighted",
        _service("one", input=0.5, output=2.5),
        _service("two", input=1.0, output=5.0),
        _service("four", input=2.0, output=10.0),
    )
    total = 1 + 1 / 4 + 1 / 16
    expected = {"one": 1 / total, "two": 0.25 / total, "four": 0.0625 / total}
    n = 40_000
    seen = _draws(candidates, tactic, n)
    # 2 degrees of freedom: 13.8 is the 0.999 quantile; a wrong law lands in the thousands
    assert _chi_square(seen, expected, n) < 13.8
    wrong = {"one": 1 / 1.75, "two": 0.5 / 1.75, "four": 0.25 / 1.75}  # inverse price
    assert _chi_square(seen, wrong, n) > 1_000


def test_price_weighted_multiplies_the_service_weight() -> None:
    tactic, candidates = _set(
        "price_weighted",
        _service("heavy", weight=3, input=1.0, output=1.0),
        _service("light", weight=1, input=1.0, output=1.0),
    )
    n = 20_000
    seen = _draws(candidates, tactic, n)
    assert _chi_square(seen, {"heavy": 0.75, "light": 0.25}, n) < 10.8


def test_price_weighted_sends_everything_to_free_services() -> None:
    tactic, candidates = _set(
        "price_weighted",
        _service("local", free=True),
        _service("zero", input=0.0, output=0.0),
        _service("paid", input=0.1, output=0.1),
    )
    seen = _draws(candidates, tactic, 2_000)
    assert seen["paid"] == 0 and seen["local"] > 800 and seen["zero"] > 800


def test_price_weighted_weighs_an_unknown_price_as_the_dearest_known() -> None:
    tactic, candidates = _set(
        "price_weighted",
        _service("cheap", input=1.0, output=1.0),
        _service("dear", input=2.0, output=2.0),
        _service("unknown"),
    )
    n = 30_000
    seen = _draws(candidates, tactic, n)
    total = 1 + 0.25 + 0.25
    expected = {"cheap": 1 / total, "dear": 0.25 / total, "unknown": 0.25 / total}
    assert _chi_square(seen, expected, n) < 13.8


def test_price_weighted_without_prices_is_weighted_random() -> None:
    tactic, candidates = _set("price_weighted", _service("a", weight=1), _service("b", weight=0))
    assert _draws(candidates, tactic, 500) == Counter({"a": 500})


@pytest.mark.parametrize("tactic", ["lowest_cost", "price_weighted"])
def test_the_price_tactics_read_the_catalog_through_the_selector(tactic: str) -> None:
    models = {"cheap": {"input": 0.1, "output": 0.1}, "dear": {"input": 50.0, "output": 50.0}}
    selector = _selector(tactic, models)
    seen = Counter(selector.select("r", _body(100)).service.model for _ in range(300))
    assert seen["cheap"] >= 299  # 1/0.1^2 vs 1/50^2: one in 250,000
