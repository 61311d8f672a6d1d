"""The whole routing document: providers, rules, health settings and scenarios."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from pydantic import Field, field_validator, model_validator

from ._base import ConfigModel, invalid
from ._bounds import ErrorThreshold, HoldSeconds, MaxRecoverySeconds, RecoverySeconds
from ._catalog import ModelCatalog, ModelEntry, ModelSpec, models_from_document
from ._provider import Provider
from ._rule import Rule
from ._scenario import ScenarioConfig
from ._service import Service

_Problems = list[tuple[tuple[int | str, ...], str]]


class HealthConfig(ConfigModel):
    """How the health monitor ejects and re-admits services.

    A service turns unhealthy after ``consecutive_error_threshold`` errors in a row (or at
    once on a rate limit or an auth error) and is retried after ``recovery_timeout_seconds``;
    each ejection that follows another without a success in between doubles that time, up to
    ``max_recovery_timeout_seconds``. With ``probe_enabled`` a probe decides recovery. A
    session pinned to a fallback (or to a weight-0 service, or under the ``tier`` tactic to a
    higher tier) returns to the service the rule would choose once that one has been healthy
    for ``promotion_hold_seconds``.
    """

    consecutive_error_threshold: ErrorThreshold = 3
    recovery_timeout_seconds: RecoverySeconds = 60.0
    max_recovery_timeout_seconds: MaxRecoverySeconds = 600.0
    probe_enabled: bool = False
    promotion_hold_seconds: HoldSeconds = 60.0

    @model_validator(mode="after")
    def _max_covers_base(self) -> HealthConfig:
        if self.max_recovery_timeout_seconds < self.recovery_timeout_seconds:
            raise ValueError(
                "max_recovery_timeout_seconds must be >= recovery_timeout_seconds "
                f"({self.max_recovery_timeout_seconds} < {self.recovery_timeout_seconds})"
            )
        return self


class RoutingConfig(ConfigModel):
    """Providers, rules, health settings, scenarios and the model catalog, validated
    together.

    Beyond each model's own checks: rule uuids are unique, provider names and uuids are
    unique, scenario names are unique, when providers are given every service names one of
    them, and every active rule has a usable service (an active one whose provider, when
    providers are given, is enabled; a rule with ``smart_enabled`` may have it in a
    smart-routing block). A rule with nothing usable must say ``active: false``.
    ``models`` (the catalog, see :class:`ModelEntry`) may be a list of entries or a mapping
    from model name (or glob) to its fields; each service's figures, catalog and
    ``model_info`` together, must hold (a context window no smaller than the max output).
    """

    providers: tuple[Provider, ...] = ()
    rules: tuple[Rule, ...] = ()
    health: HealthConfig = Field(default_factory=HealthConfig)
    scenarios: tuple[ScenarioConfig, ...] = ()
    models: tuple[ModelEntry, ...] = ()

    @field_validator("models", mode="before")
    @classmethod
    def _models_mapping(cls, value: Any) -> Any:
        return models_from_document(value)

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("providers", "rules", "scenarios", "models"):
                if key in data and data[key] is None:
                    data = {**data, key: ()}
        return data

    @model_validator(mode="after")
    def _cross_checks(self) -> RoutingConfig:
        errors: list[tuple[tuple[int | str, ...], str]] = []

        def problem(loc: tuple[int | str, ...], message: str) -> None:
            errors.append((loc, message))

        seen_keys: dict[str, int] = {}
        for i, provider in enumerate(self.providers):
            for field, key in (("uuid", provider.uuid), ("name", provider.name)):
                if not key:
                    continue
                first = seen_keys.setdefault(key, i)
                if first != i:
                    problem(
                        ("providers", i, field), f"duplicate provider {key!r} (providers[{first}])"
                    )
        seen_rules: dict[str, int] = {}
        for i, rule in enumerate(self.rules):
            first = seen_rules.setdefault(rule.uuid, i)
            if first != i:
                problem(("rules", i, "uuid"), f"duplicate rule uuid {rule.uuid!r} (rules[{first}])")
        if self.providers:
            for i, rule in enumerate(self.rules):
                for j, service in enumerate(rule.services):
                    if service.provider not in seen_keys:
                        problem(
                            ("rules", i, "services", j, "provider"),
                            f"unknown provider {service.provider!r}",
                        )
                for b, block in enumerate(rule.smart_routing):
                    for j, service in enumerate(block.services):
                        if service.provider not in seen_keys:
                            problem(
                                ("rules", i, "smart_routing", b, "services", j, "provider"),
                                f"unknown provider {service.provider!r}",
                            )
        errors.extend(_unusable_rules(self.rules, self._providers_by_key))
        errors.extend(_unfit_specs(self.rules, self.catalog, self._providers_by_key))
        seen_scenarios: dict[str, int] = {}
        for i, entry in enumerate(self.scenarios):
            first = seen_scenarios.setdefault(entry.scenario, i)
            if first != i:
                problem(
                    ("scenarios", i, "scenario"),
                    f"duplicate scenario {entry.scenario!r} (scenarios[{first}])",
                )
        if errors:
            raise invalid(type(self).__name__, errors)
        return self

    @cached_property
    def catalog(self) -> ModelCatalog:
        """The ``models:`` entries as a :class:`ModelCatalog` (built once)."""
        return ModelCatalog(self.models)

    @cached_property
    def _providers_by_key(self) -> dict[str, Provider]:
        return index_providers(self.providers)

    @cached_property
    def _rules_by_key(self) -> dict[str, Rule]:
        index: dict[str, Rule] = {}
        for rule in self.rules:
            index.setdefault(rule.uuid, rule)
        for rule in self.rules:
            if rule.request_model:
                index.setdefault(rule.request_model, rule)
        return index

    def get_provider(self, key: str) -> Provider | None:
        """The provider whose uuid or name is ``key``, or None."""
        return self._providers_by_key.get(key)

    def get_rule(self, key: str) -> Rule | None:
        """The rule whose uuid is ``key`` or, failing that, whose ``request_model`` is; or None."""
        return self._rules_by_key.get(key)

    @cached_property
    def _rules_by_scenario(self) -> dict[str, tuple[Rule, ...]]:
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.active:
                index.setdefault(rule.scenario, []).append(rule)
        return {name: tuple(rules) for name, rules in index.items()}

    @cached_property
    def _separate_scenarios(self) -> frozenset[str]:
        """The scenarios that keep one rule per model (read per request: worked out once)."""
        return frozenset(
            entry.scenario
            for entry in self.scenarios
            if (flags := entry.default_flags()).separate and not flags.unified
        )

    def scenario_rules(self, name: str) -> tuple[Rule, ...]:
        """The active rules of the scenario ``name`` (their ``scenario`` field), config order."""
        return self._rules_by_scenario.get(name, ())

    def rule_for(self, scenario: str, model: str = "") -> Rule | None:
        """The rule that serves ``model`` in ``scenario``, as tingly-box's scenario flags
        read: when the scenario is ``separate`` (and not ``unified``), its active rule whose
        ``request_model`` is ``model`` (exactly); otherwise (``unified``, the default) its
        active rule, whatever the model (the first in config order if it has several). None
        when there is no such rule. A rule belongs to the scenario its ``scenario`` field
        names. ``selector.select(None, request, scenario=...)`` asks this question."""
        rules = self.scenario_rules(scenario)
        if not self.scenario_separate(scenario):
            return rules[0] if rules else None
        for rule in rules:
            if rule.request_model == model:
                return rule
        return None

    def scenario_separate(self, name: str) -> bool:
        """Whether the scenario ``name`` keeps one rule per model (``separate`` on and
        ``unified`` off); otherwise one rule serves every model (see :meth:`rule_for`)."""
        return name in self._separate_scenarios  # a scenario with no entry is unified

    def scenario(self, name: str) -> ScenarioConfig:
        """The ``scenarios:`` entry for ``name``, or a default one (no flags set, so its
        :meth:`~ScenarioConfig.default_flags` are ``unified``) when there is none."""
        for entry in self.scenarios:
            if entry.scenario == name:
                return entry
        return ScenarioConfig(scenario=name)

    def scenario_flag(self, name: str, flag: str) -> bool:
        """Whether the scenario ``name`` has ``flag`` on: one of its (default) flags, another
        flag it carries, or a boolean in its ``extensions`` (see :meth:`ScenarioConfig.flag`)."""
        return self.scenario(name).flag(flag)


def index_providers(providers: Iterable[Provider]) -> dict[str, Provider]:
    """Providers by name and by uuid, the two ways a service may name its provider (the first
    provider to claim a key keeps it)."""
    index: dict[str, Provider] = {}
    for provider in providers:
        index.setdefault(provider.name, provider)
        if provider.uuid:
            index.setdefault(provider.uuid, provider)
    return index


def _unusable_rules(rules: tuple[Rule, ...], providers: Mapping[str, Provider]) -> _Problems:
    """A problem for each active rule without a service the selector could route to
    (``providers``: by name and uuid, :func:`index_providers`)."""
    problems: _Problems = []

    def usable(service: Service) -> bool:
        if not service.active:
            return False
        if not providers:  # nothing to check against: the selector takes them as they are
            return True
        provider = providers.get(service.provider)
        return provider is not None and provider.enabled

    for i, rule in enumerate(rules):
        if not rule.active:
            continue
        services = list(rule.services)
        if rule.smart_enabled:
            services += [s for block in rule.smart_routing for s in block.services]
        if any(usable(s) for s in services):
            continue
        if not services:
            why = "it has no services"
        elif not any(s.active for s in services):
            why = "none of its services is active"
        else:
            why = _why_providers_unusable(services, providers)
        problems.append(
            (("rules", i, "services"), f"no usable service: {why}; set active: false to keep it")
        )
    return problems


def _unfit_specs(
    rules: tuple[Rule, ...], catalog: ModelCatalog, providers: dict[str, Provider]
) -> _Problems:
    """A problem for each service whose merged figures (catalog + ``model_info``) do not
    hold together, at the service's path."""
    problems: _Problems = []
    if not catalog:
        return problems
    for i, rule in enumerate(rules):
        located: list[tuple[tuple[int | str, ...], Service]] = [
            (("rules", i, "services", j), s) for j, s in enumerate(rule.services)
        ]
        for b, block in enumerate(rule.smart_routing):
            located += [
                (("rules", i, "smart_routing", b, "services", j), s)
                for j, s in enumerate(block.services)
            ]
        for loc, service in located:
            try:
                spec_of(service, catalog, providers)
            except ValueError as exc:
                problems.append(((*loc, "model_info"), _first_message(exc)))
    return problems


def spec_of(service: Service, catalog: ModelCatalog, providers: dict[str, Provider]) -> ModelSpec:
    """The figures of ``service``: the catalog's for its model and provider (matched by the
    provider's name and uuid), with the service's ``model_info`` over them."""
    provider = providers.get(service.provider)
    names = {service.provider}
    if provider is not None:
        names.update(n for n in (provider.name, provider.uuid) if n)
    spec = catalog.lookup(service.model, tuple(sorted(names))) if catalog else ModelSpec()
    return spec if service.model_info is None else service.model_info.over(spec)


def _first_message(exc: ValueError) -> str:
    problems = getattr(exc, "problems", None)
    return problems[0][1] if problems else str(exc)


def _why_providers_unusable(services: list[Service], providers: Mapping[str, Provider]) -> str:
    names = sorted({s.provider for s in services if s.active})
    missing = [name for name in names if name not in providers]
    disabled = [name for name in names if name in providers]
    parts = []
    if missing:
        parts.append(f"missing ({', '.join(missing)})")
    if disabled:
        parts.append(f"disabled ({', '.join(disabled)})")
    return f"the providers of its services are {' or '.join(parts)}"
