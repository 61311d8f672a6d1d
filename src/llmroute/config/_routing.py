"""The whole routing document: providers, rules and health settings; and loading it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from ..errors import ConfigError
from ._base import ConfigModel, config_error, invalid
from ._provider import Provider
from ._rule import Rule


class HealthConfig(ConfigModel):
    """How the health monitor ejects and re-admits services.

    A service turns unhealthy after ``consecutive_error_threshold`` errors in a row (or at
    once on a rate limit or an auth error) and is retried after ``recovery_timeout_seconds``;
    each ejection that follows another without a success in between doubles that time, up to
    ``max_recovery_timeout_seconds``. With ``probe_enabled`` a probe decides recovery. A
    session pinned to a fallback (or to a weight-0 service) returns to the service the rule
    would choose once that one has been healthy for ``promotion_hold_seconds``.
    """

    consecutive_error_threshold: int = Field(default=3, ge=1)
    recovery_timeout_seconds: float = Field(default=60.0, gt=0)
    max_recovery_timeout_seconds: float = Field(default=600.0, gt=0)
    probe_enabled: bool = False
    promotion_hold_seconds: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _max_covers_base(self) -> HealthConfig:
        if self.max_recovery_timeout_seconds < self.recovery_timeout_seconds:
            raise ValueError(
                "max_recovery_timeout_seconds must be >= recovery_timeout_seconds "
                f"({self.max_recovery_timeout_seconds} < {self.recovery_timeout_seconds})"
            )
        return self


class RoutingConfig(ConfigModel):
    """Providers, rules and health settings, validated together.

    Beyond each model's own checks: rule uuids are unique, provider names and uuids are
    unique, and when providers are given every service names one of them.
    """

    providers: tuple[Provider, ...] = ()
    rules: tuple[Rule, ...] = ()
    health: HealthConfig = Field(default_factory=HealthConfig)

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("providers", "rules"):
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
        if errors:
            raise invalid(type(self).__name__, errors)
        return self

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


def index_providers(providers: Iterable[Provider]) -> dict[str, Provider]:
    """Providers by name and by uuid, the two ways a service may name its provider (the first
    provider to claim a key keeps it)."""
    index: dict[str, Provider] = {}
    for provider in providers:
        index.setdefault(provider.name, provider)
        if provider.uuid:
            index.setdefault(provider.uuid, provider)
    return index


def load_config(path: str | Path) -> RoutingConfig:
    """Read a :class:`RoutingConfig` from a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises :class:`ConfigError` (naming the file and the path inside it) for content that
    does not parse or validate, or when YAML is asked for without PyYAML installed;
    ``OSError`` when the file cannot be read.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(
            f"unsupported config file type {file.suffix!r}: use .json, .yaml or .yml",
            source=str(file),
        )
    text = file.read_text(encoding="utf-8")
    data = _parse_yaml(text, str(file)) if suffix != ".json" else _parse_json(text, str(file))
    try:
        config: RoutingConfig = RoutingConfig.__pydantic_validator__.validate_python(data)
    except ValidationError as exc:
        raise config_error(exc, source=str(file)) from None
    return config


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", source=source
        ) from None


def _parse_yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "reading YAML needs PyYAML: pip install 'llmroute[yaml]'", source=source
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML{where}: {reason}", source=source) from None
