"""Scenarios: tingly-box's per-client settings (``scenarios:``), kept and readable."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from ._base import ConfigModel


class ScenarioFlags(ConfigModel):
    """The flags of a scenario: ``unified`` (one configuration for all models),
    ``separate`` (one per model), ``smart`` (smart mode), and any other flag a document
    carries, kept as written (read it with :meth:`flag`)."""

    model_config = ConfigDict(extra="allow")

    unified: bool = False
    separate: bool = False
    smart: bool = False

    def flag(self, name: str) -> Any:
        """The value of the flag ``name`` (one of the three, or another the document has);
        None when it has none."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return (self.model_extra or {}).get(name)


class ScenarioConfig(ConfigModel):
    """One entry of ``scenarios:``: ``{scenario, flags: {...}, extensions: {...}}``.

    ``extensions`` is free-form and kept for round trips. Routing reads ``unified`` and
    ``separate`` when a selection names a scenario instead of a rule
    (:meth:`RoutingConfig.rule_for`); an application can read any flag through
    :meth:`RoutingConfig.scenario` and :meth:`RoutingConfig.scenario_flag`.
    """

    scenario: str = Field(min_length=1)
    flags: ScenarioFlags = Field(default_factory=ScenarioFlags)
    extensions: dict[str, Any] = Field(default_factory=dict)

    @field_validator("flags", "extensions", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("scenario")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    def default_flags(self) -> ScenarioFlags:
        """The flags when any of ``unified``, ``separate`` or ``smart`` is set; otherwise
        ``unified`` alone (as tingly-box defaults a scenario)."""
        flags = self.flags
        if flags.unified or flags.separate or flags.smart:
            return flags
        return _UNIFIED

    def flag(self, name: str) -> bool:
        """Whether the flag ``name`` is on: one of :meth:`default_flags`, another flag of
        the entry, or else a boolean in ``extensions``; False when none is true."""
        value = self.default_flags().flag(name)
        if value is None:
            value = self.flags.flag(name)
        if value is None:
            value = self.extensions.get(name)
        return value is True


#: The flags of a scenario that sets none of unified/separate/smart (models are frozen).
_UNIFIED = ScenarioFlags(unified=True)
