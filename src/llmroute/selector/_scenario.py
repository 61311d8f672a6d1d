"""Finding a request's rule by scenario, the way tingly-box's scenario flags read
(:meth:`RoutingConfig.rule_for`), with an error that says why nothing was found."""

from __future__ import annotations

from ..config import RoutingConfig, Rule
from ..errors import NoServiceAvailableError
from ._result import Request
from ._trace import TraceStep

__all__ = ["scenario_rule"]


def scenario_rule(
    config: RoutingConfig | None, rule: object, scenario: object, request: Request
) -> tuple[Rule, TraceStep]:
    """The rule for ``request`` in ``scenario`` and the trace line saying how it was found.

    Raises ``TypeError`` when the arguments do not ask one question (no rule and no
    scenario, or both), and :class:`NoServiceAvailableError` naming the scenario and the
    request's model when the scenario has no rule for it.
    """
    if scenario is None:
        raise TypeError("rule is None: name a rule, or pass scenario= to find one by scenario")
    if rule is not None:
        raise TypeError(f"pass a rule or scenario= ({scenario!r}), not both")
    if not isinstance(scenario, str) or not scenario.strip():
        raise TypeError(f"scenario must be a non-empty string, got {scenario!r}")
    if config is None:
        raise NoServiceAvailableError(
            f"no rule for scenario {scenario!r}: the selector has no configuration "
            "(build it with ServiceSelector.from_config)"
        )
    separate = config.scenario_separate(scenario)
    model = request.context.model if separate else ""
    found = config.rule_for(scenario, model)
    if found is None:
        raise _miss(config, scenario, request.context.model)
    if separate:
        return found, (
            "rule",
            "scenario {!r} (separate): rule {!r} serves model {!r}",
            (scenario, found.uuid, model),
        )
    return found, (
        "rule",
        "scenario {!r} (unified): rule {!r} serves every model",
        (scenario, found.uuid),
    )


def _miss(config: RoutingConfig, scenario: str, model: str) -> NoServiceAvailableError:
    rules = config.scenario_rules(scenario)
    if not config.scenario_separate(scenario):
        why = "it has no active rule (unified: one rule serves every model)"
    elif not rules:
        why = "it has no active rule (separate: one rule per request_model)"
    else:
        models = ", ".join(repr(r.request_model) for r in rules[:10])
        more = f" (+{len(rules) - 10})" if len(rules) > 10 else ""
        why = (
            f"none of its active rules has request_model {model!r} "
            f"(separate; its models: {models}{more})"
        )
    return NoServiceAvailableError(f"no rule for scenario {scenario!r} and model {model!r}: {why}")
