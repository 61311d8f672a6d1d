"""The model catalog, the fit stage and cost: match order, overrides, validation paths, fit
drops and the funnel, cost figures for OpenAI and Anthropic usage (with and without cache
fields, responses and streams)."""

from __future__ import annotations

from typing import Any

import pytest

from llmroute import ConfigError, NoServiceAvailableError, ServiceSelector, Usage
from llmroute.config import ModelCatalog, ModelEntry, ModelSpec, RoutingConfig

PRICES = {"input": 3.0, "output": 15.0, "cached_input": 0.3, "cache_write": 3.75}


def _config(services: list[dict[str, Any]], models: Any) -> RoutingConfig:
    names = sorted({s["provider"] for s in services})
    return RoutingConfig.model_validate(
        {
            "providers": [{"name": n, "api_base": "http://127.0.0.1", "token": "t"} for n in names],
            "models": models,
            "rules": [{"uuid": "r", "services": services}],
        }
    )


def _body(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


# -- catalog ---------------------------------------------------------------------------


def test_exact_name_beats_glob_and_provider_narrowed_beats_plain() -> None:
    catalog = ModelCatalog(
        ModelEntry.model_validate(e)
        for e in (
            {"model": "claude-*", "context_window": 1000, "input": 1.0, "output": 2.0},
            {"model": "claude-*", "provider": "anth", "context_window": 2000},
            {"model": "claude-x", "context_window": 3000},
            {"model": "claude-x", "provider": "anth", "context_window": 4000},
        )
    )
    assert catalog.lookup("claude-x", ("anth",)).context_window == 4000
    assert catalog.lookup("claude-x", ("other",)).context_window == 3000
    assert catalog.lookup("claude-y", ("anth",)).context_window == 2000
    assert catalog.lookup("claude-y", ("other",)).context_window == 1000
    # less specific entries fill the fields the winner leaves unknown
    assert catalog.lookup("claude-x", ("anth",)).input == 1.0
    assert catalog.lookup("gpt-4o", ("anth",)) == ModelSpec()


def test_among_globs_of_one_kind_the_first_listed_wins() -> None:
    catalog = ModelCatalog(
        ModelEntry.model_validate(e)
        for e in ({"model": "c*", "context_window": 10}, {"model": "cl*", "context_window": 20})
    )
    assert catalog.lookup("claude", ()).context_window == 10


def test_unknown_fields_are_none_not_false() -> None:
    spec = _config([{"provider": "p", "model": "m"}], {"m": {"context_window": 10}}).catalog
    found = spec.lookup("m", ("p",))
    assert found.vision is None and found.tools is None and found.free is None


def test_a_service_overrides_the_catalog() -> None:
    config = _config(
        [{"provider": "p", "model": "m", "model_info": {"context_window": 50, "tools": False}}],
        {"m": {"context_window": 100, "input": 1, "output": 2}},
    )
    plan_spec = ServiceSelector(config).select("r", _body()).plan.specs
    spec = next(iter(plan_spec.values()))
    assert (spec.context_window, spec.tools, spec.input) == (50, False, 1.0)


@pytest.mark.parametrize(
    ("models", "path", "words"),
    [
        ({"claude-[": {}}, "models[0].model", "invalid glob"),
        ([{"model": "x", "input": -1}], "models[0].input", ">= 0"),
        ([{"model": "x", "output": 1e9}], "models[0].output", "<="),
        ({"x": {"context_window": 10, "max_output_tokens": 20}}, "models[0]", "smaller"),
        ({"x": {"contxt_window": 10}}, "models[0].contxt_window", "context_window"),
        ({"x": {"vision": "maybe"}}, "models[0].vision", "bool"),
    ],
)
def test_bad_catalog_entries_are_config_errors_with_paths(
    models: Any, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _config([{"provider": "p", "model": "m"}], models)
    assert any(p == path and words in msg for p, msg in caught.value.problems), caught.value


def test_an_override_that_breaks_the_window_is_an_error_at_the_service() -> None:
    with pytest.raises(ConfigError) as caught:
        _config(
            [{"provider": "p", "model": "m", "model_info": {"max_output_tokens": 200}}],
            {"m": {"context_window": 100}},
        )
    assert caught.value.problems[0][0] == "rules[0].services[0].model_info"


# -- fit -------------------------------------------------------------------------------

FIT_MODELS = {
    "gpt-128k": {"context_window": 128_000, "vision": True, "tools": True},
    "claude-200k": {"context_window": 200_000, "vision": True, "tools": True},
    "text-only": {"context_window": 200_000, "vision": False, "tools": False},
}
FIT_SERVICES = [{"provider": "p", "model": m} for m in FIT_MODELS]


def test_a_150k_token_request_skips_the_128k_model() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES, FIT_MODELS))
    body = _body("a" * 600_000)  # ~150k tokens
    picks = {selector.select("r", body).service.model for _ in range(30)}
    assert "gpt-128k" not in picks
    assert "dropped p:gpt-128k" in selector.select("r", body).explain()


def test_requested_max_tokens_count_against_the_window() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES[:2], FIT_MODELS))
    body = _body("a" * 400_000, max_tokens=50_000)  # 100k + 50k
    assert selector.select("r", body).service.model == "claude-200k"


def test_an_image_skips_the_text_model() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES, FIT_MODELS))
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    body = {"messages": [{"role": "user", "content": [image, {"type": "text", "text": "?"}]}]}
    picks = {selector.select("r", body).service.model for _ in range(30)}
    assert picks == {"gpt-128k", "claude-200k"}


def test_tools_skip_a_no_tools_model() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES, FIT_MODELS))
    tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
    picks = {selector.select("r", _body(tools=[tool])).service.model for _ in range(30)}
    assert "text-only" not in picks


def test_unknown_windows_stay_and_are_marked_unchecked() -> None:
    services = [*FIT_SERVICES[:1], {"provider": "q", "model": "mystery"}]
    selector = ServiceSelector(_config(services, FIT_MODELS))
    result = selector.select("r", _body("a" * 600_000))
    assert result.service.model == "mystery"
    assert "unchecked: q:mystery (context_window unknown)" in result.explain()


def test_the_funnel_lists_every_drop() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES, FIT_MODELS))
    with pytest.raises(NoServiceAvailableError) as caught:
        selector.select("r", _body("a" * 1_000_000))
    text = str(caught.value)
    for model in FIT_MODELS:
        assert f"p:{model}: ~250,000 input tokens exceed" in text


def test_a_rule_without_catalog_figures_runs_no_fit_stage() -> None:
    selector = ServiceSelector(_config(FIT_SERVICES, {}))
    result = selector.select("r", _body())
    assert "fit" not in result.evaluated_stages and result.fit is None


# -- cost ------------------------------------------------------------------------------

SPEC = ModelSpec(**PRICES)


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        # OpenAI: prompt_tokens include cached_tokens
        ({"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}, 1000 * 3 + 100 * 15),
        (
            {
                "usage": {
                    "prompt_tokens": 1000,
                    "completion_tokens": 100,
                    "prompt_tokens_details": {"cached_tokens": 800},
                }
            },
            200 * 3 + 800 * 0.3 + 100 * 15,
        ),
        # Anthropic: input_tokens leave the cache reads and writes out
        ({"usage": {"input_tokens": 1000, "output_tokens": 100}}, 1000 * 3 + 100 * 15),
        (
            {
                "usage": {
                    "input_tokens": 100,
                    "output_tokens": 100,
                    "cache_read_input_tokens": 800,
                    "cache_creation_input_tokens": 200,
                }
            },
            100 * 3 + 800 * 0.3 + 200 * 3.75 + 100 * 15,
        ),
    ],
)
def test_cost_table(usage: dict[str, Any], expected: float) -> None:
    assert SPEC.cost(Usage.of(usage)) == pytest.approx(expected / 1e6)


def test_cost_unknown_without_prices_and_zero_when_free() -> None:
    usage = Usage(1000, 10)
    assert ModelSpec(input=1.0).cost(usage) is None
    assert ModelSpec(free=True).cost(usage) == 0.0
    assert ModelSpec(input=1.0, output=2.0).cost(None) is None


def test_an_anthropic_stream_costs_its_merged_usage() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 500,
                    "cache_creation_input_tokens": 90,
                }
            },
        },
        {"type": "message_delta", "usage": {"output_tokens": 40}},
    ]
    total = Usage()
    for event in events:
        total = total.merge(Usage.of(event))
    expected = 10 * 3 + 500 * 0.3 + 90 * 3.75 + 40 * 15
    assert SPEC.cost(total) == pytest.approx(expected / 1e6)


def _priced() -> ServiceSelector:
    return ServiceSelector(_config([{"provider": "p", "model": "m"}], {"m": PRICES}))


def test_execute_reports_the_cost_and_stats_add_it_up() -> None:
    selector = _priced()
    response = {"usage": {"prompt_tokens": 1000, "completion_tokens": 100}}
    result = selector.execute("r", _body(), lambda service, provider: response)
    assert result.cost == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    selector.execute("r", _body(), lambda service, provider: response)
    stats = selector.stats
    assert stats is not None
    assert stats.get(result.service_id).window_cost == pytest.approx(2 * result.cost)


def test_a_stream_attempt_writes_its_cost() -> None:
    selector = _priced()
    chunks = [
        {"choices": [{"delta": {"content": "hi"}}]},
        {"choices": [], "usage": {"prompt_tokens": 2000, "completion_tokens": 10}},
    ]
    stream = selector.execute_stream("r", _body(), lambda service, provider: iter(chunks))
    assert len(list(stream)) == 2
    stats = selector.stats
    assert stats is not None
    expected = (2000 * 3 + 10 * 15) / 1e6
    assert stats.get(stream.service_id).window_cost == pytest.approx(expected)


def test_explain_shows_the_estimated_cost() -> None:
    result = _priced().select("r", _body("a" * 4000, max_tokens=100))
    assert result.estimated_cost == pytest.approx((1000 * 3 + 100 * 15) / 1e6)
    assert "estimated cost: 0.004500" in result.explain()


# -- the fit stage's cheap scans -------------------------------------------------------

SCANNED_BODIES = [
    _body("hello"),
    _body("é" * 300 + "\U0001f600" * 50),
    {"system": "be brief", "messages": [{"role": "user", "content": "\x00\x01" * 40}]},
    {"input": "a plain Responses input"},
    {
        "messages": [
            {"role": "user", "content": "run it"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "f", "arguments": {"n": 10**40, "x": 1.5e-300}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'},
        ]
    },
    {
        "system": [{"type": "text", "text": "sys " * 50}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": '"quoted"\\' * 30}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t", "name": "f", "input": {"q": "\n" * 99}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done " * 9}],
            },
        ],
    },
]


@pytest.mark.parametrize("body", SCANNED_BODIES)
def test_the_token_bound_is_never_below_the_estimate(body: dict[str, Any]) -> None:
    from llmroute.smart import extract_context, scan_body

    bound = scan_body(body).tokens_bound
    assert bound is not None and bound >= extract_context(body).estimated_tokens


def test_only_plain_text_bodies_skip_the_context() -> None:
    from llmroute.smart import scan_body

    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    assert scan_body(_body("hi")).plain
    assert not scan_body({"messages": [{"role": "user", "content": [image]}]}).plain
    assert not scan_body({"input": [{"type": "input_image", "image_url": "x"}]}).plain
    assert scan_body({"messages": [object()]}) == (None, False)


def test_a_request_near_the_window_is_counted_exactly() -> None:
    # the bound (2x) passes 128k, the exact count (~60k + 8k output) does not: it fits
    models = {"m": {"context_window": 128_000, "max_output_tokens": 8_000}}
    selector = ServiceSelector(_config([{"provider": "p", "model": "m"}], models))
    result = selector.select("r", _body("a" * 240_000))
    assert result.fit is not None and not result.fit.dropped
    assert "all 1 services fit ~60,000 input tokens" in result.explain()


def test_a_custom_token_counter_is_used_for_the_window() -> None:
    models = {"small": {"context_window": 1_000}, "big": {"context_window": 100_000}}
    services = [{"provider": "p", "model": m} for m in models]
    selector = ServiceSelector(_config(services, models), token_counter=lambda text: 5_000)
    picks = {selector.select("r", _body("short")).service.model for _ in range(20)}
    assert picks == {"big"}


def test_thinking_and_tools_are_read_off_a_plain_body() -> None:
    models = {"plain": {"thinking": False, "tools": False}, "able": {"thinking": True}}
    services = [{"provider": "p", "model": m} for m in models]
    selector = ServiceSelector(_config(services, models))
    body = _body("think", thinking={"type": "enabled", "budget_tokens": 1024})
    assert {selector.select("r", body).service.model for _ in range(20)} == {"able"}
    result = selector.select("r", _body("hi"))
    assert "thinking" not in result.explain()  # not asked: not listed as unchecked
