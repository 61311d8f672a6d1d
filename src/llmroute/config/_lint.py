"""What loads but is probably wrong: :func:`check_config` and its :class:`ConfigWarning`.

A document that validates can still route badly: a model its provider does not list, a
provider nothing uses, a block that never matches. These checks read the configuration
alone (no state, no I/O), so an app can run them at startup and log what they find, and
``llmroute check`` prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ._provider import Provider
from ._reach import dead_blocks
from ._routing import RoutingConfig
from ._rule import Rule
from ._service import Service
from ._tactic import AdaptiveParams, LatencyBasedParams, SpeedBasedParams

__all__ = ["WARNING_CODES", "ConfigWarning", "check_config"]

#: Every code :func:`check_config` may report, and what it means.
WARNING_CODES: dict[str, str] = {
    "model-not-listed": "a service's model is not in its provider's non-empty models list",
    "unused-provider": "no active service of an active rule names the provider",
    "all-weights-zero": "every active service of a rule has weight 0 (backup only)",
    "smart-disabled": "a rule has smart-routing blocks but smart_enabled is false",
    "unreachable-block": "a smart-routing block can never match",
    "tactic-stats": "the rule's tactic reads figures nothing records for its services",
    "ignored-param": "a tactic param kept for tingly-box that routing does not read",
    "tier-ignored": "services have tiers but the rule's tactic is not tier (priority)",
    "scenario-shadowed": "an active rule a lookup by its scenario never finds",
}

#: The latency, TTFT and speed samples kept per service by the default stats store
#: (``InMemoryStatsStore(max_samples=100)``; a test keeps the two equal).
DEFAULT_MAX_SAMPLES = 100


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """One thing in a valid configuration that is probably wrong.

    ``code`` is a stable name (a key of :data:`WARNING_CODES`), ``path`` the place in the
    document (``rules[0].services[1].model``; ``""`` for the document) and ``message`` what
    is wrong and why it matters. ``str()`` is ``path: message [code]``.
    """

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{where}{self.message} [{self.code}]"


def check_config(
    config: RoutingConfig, *, max_samples: int = DEFAULT_MAX_SAMPLES
) -> list[ConfigWarning]:
    """The warnings of a loaded configuration, in document order; ``[]`` when clean.

    A pure function of ``config``: nothing is read or written. ``max_samples`` is the
    stats store's sample bound, for the ``speed_based`` check (pass yours when you build
    ``InMemoryStatsStore(max_samples=...)``). See :data:`WARNING_CODES` for what is checked.
    """
    found: list[ConfigWarning] = []
    found += _unused_providers(config)
    providers = config.get_provider
    for i, rule in enumerate(config.rules):
        at = f"rules[{i}]"
        found += _unlisted_models(rule, at, providers)
        found += _zero_weights(rule, at)
        found += _blocks(rule, at)
        found += _tactic(config, rule, at, max_samples)
        found += _tiers(rule, at)
    found += _shadowed_by_scenario(config)
    return found


def _services(rule: Rule, at: str) -> Iterator[tuple[str, Service]]:
    """Every service of a rule with its path: its own, then each block's."""
    for j, service in enumerate(rule.services):
        yield f"{at}.services[{j}]", service
    for b, block in enumerate(rule.smart_routing):
        for j, service in enumerate(block.services):
            yield f"{at}.smart_routing[{b}].services[{j}]", service


def _unused_providers(config: RoutingConfig) -> list[ConfigWarning]:
    used: set[str] = set()
    for rule in config.rules:
        if rule.active:
            used.update(s.provider for _, s in _services(rule, "") if s.active)
    return [
        ConfigWarning(
            "unused-provider",
            f"providers[{i}]",
            f"provider {provider.name!r} is not used by any active service of an active rule",
        )
        for i, provider in enumerate(config.providers)
        if provider.name not in used and (not provider.uuid or provider.uuid not in used)
    ]


def _unlisted_models(
    rule: Rule, at: str, providers: Callable[[str], Provider | None]
) -> Iterator[ConfigWarning]:
    for path, service in _services(rule, at):
        provider = providers(service.provider)
        if provider is None or not provider.models or service.model in provider.models:
            continue
        listed = ", ".join(provider.models)
        yield ConfigWarning(
            "model-not-listed",
            f"{path}.model",
            f"model {service.model!r} is not among the models of provider {provider.name!r} "
            f"({listed})",
        )


def _zero_weights(rule: Rule, at: str) -> Iterator[ConfigWarning]:
    active = rule.active_services()
    if active and all(service.weight == 0 for service in active):
        yield ConfigWarning(
            "all-weights-zero",
            f"{at}.services",
            f"every active service of rule {rule.uuid!r} has weight 0: weight 0 marks a "
            "backup, and with no primary the weights are ignored (all are drawn alike)",
        )


def _blocks(rule: Rule, at: str) -> Iterator[ConfigWarning]:
    if not rule.smart_routing:
        return
    if not rule.smart_enabled:
        count = len(rule.smart_routing)
        blocks = "1 smart-routing block" if count == 1 else f"{count} smart-routing blocks"
        yield ConfigWarning(
            "smart-disabled",
            f"{at}.smart_routing",
            f"rule {rule.uuid!r} has {blocks} but smart_enabled is false: "
            f"{'it never matches' if count == 1 else 'they never match'}",
        )
        return
    for b, why in dead_blocks(rule.smart_routing):
        yield ConfigWarning(
            "unreachable-block", f"{at}.smart_routing[{b}]", f"this block can never match: {why}"
        )


def _tactic(
    config: RoutingConfig, rule: Rule, at: str, max_samples: int
) -> Iterator[ConfigWarning]:
    tactic, params = rule.lb_tactic.type, rule.lb_tactic.params
    where = f"{at}.lb_tactic"
    if tactic == "capacity_based" and not _sessions_pinned(config, rule):
        yield ConfigWarning(
            "tactic-stats",
            where,
            "capacity_based reads the live sessions pinned to each service, and no rule pins "
            "sessions on these services (session_affinity is 0 here and in every rule that "
            "routes to them): it draws in proportion to plain capacity",
        )
    if isinstance(params, SpeedBasedParams) and params.min_samples_required > max_samples:
        yield ConfigWarning(
            "tactic-stats",
            f"{where}.params.min_samples_required",
            f"speed_based waits for {params.min_samples_required} speed samples, but a "
            f"service keeps at most {max_samples}: no service ever counts as warm",
        )
    if isinstance(params, AdaptiveParams):
        yield from _adaptive(params, where)
    if isinstance(params, (LatencyBasedParams, SpeedBasedParams)):
        for name in ("sample_window_size", "percentile"):
            if getattr(params, name, None) is not None:
                yield ConfigWarning(
                    "ignored-param",
                    f"{where}.params.{name}",
                    f"{name} is kept for tingly-box documents but routing does not read it "
                    "(the sample count is the stats store's max_samples; the latency figure "
                    "is comparison_mode)",
                )


def _tiers(rule: Rule, at: str) -> Iterator[ConfigWarning]:
    if rule.lb_tactic.type == "tier":
        return
    for path, service in _services(rule, at):
        if service.tier:
            yield ConfigWarning(
                "tier-ignored",
                f"{path}.tier",
                f"tier {service.tier} is read by the tier tactic only; rule {rule.uuid!r} "
                f"uses {rule.lb_tactic.type}, so this service serves like a tier 0 one",
            )


def _shadowed_by_scenario(config: RoutingConfig) -> Iterator[ConfigWarning]:
    """Active rules of a scenario the document configures that ``rule_for`` never returns:
    a unified scenario's rules after its first, a separate one's repeated models."""
    named = {entry.scenario for entry in config.scenarios}
    first: dict[tuple[str, str], str] = {}
    for i, rule in enumerate(config.rules):
        if not rule.active or rule.scenario not in named:
            continue
        separate = config.scenario_separate(rule.scenario)
        key = (rule.scenario, rule.request_model if separate else "")
        winner = first.setdefault(key, rule.uuid)
        if winner == rule.uuid:
            continue
        why = (
            f"rule {winner!r} comes first with request_model {rule.request_model!r}"
            if separate
            else f"the scenario is unified and rule {winner!r} comes first"
        )
        yield ConfigWarning(
            "scenario-shadowed",
            f"rules[{i}].scenario",
            f"select(None, ..., scenario={rule.scenario!r}) never finds rule {rule.uuid!r}: {why}",
        )


def _adaptive(params: AdaptiveParams, where: str) -> Iterator[ConfigWarning]:
    if params.latency_weight or params.token_weight or params.speed_weight:
        return
    if params.health_weight:
        effect = "it scores health alone and always picks the first healthy service"
    else:
        effect = "every service scores 0 and the first always wins"
    yield ConfigWarning(
        "tactic-stats",
        f"{where}.params",
        f"adaptive with latency_weight, token_weight and speed_weight all 0 reads no "
        f"figures: {effect}",
    )


def _sessions_pinned(config: RoutingConfig, rule: Rule) -> bool:
    """Whether some active rule with session affinity routes to one of ``rule``'s services
    (live session counts are per service, shared by the rules)."""
    ids = {s.service_id for _, s in _services(rule, "")}
    return any(
        other.active
        and other.session_affinity > 0
        and any(s.service_id in ids for _, s in _services(other, ""))
        for other in config.rules
    )
