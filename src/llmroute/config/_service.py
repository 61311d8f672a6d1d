"""Services: a provider plus a model, the unit that routing chooses between."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from ._base import ConfigModel
from ._bounds import Capacity, Tier, TimeWindow, Weight
from ._catalog import ModelSpec

#: The usage window of a service whose ``time_window`` is 0 or unset, in seconds.
DEFAULT_TIME_WINDOW = 300


class ServiceID(str):
    """The identity of a service: ``provider:model``.

    It *is* its string form (``str(ServiceID("p", "m")) == "p:m"``), so it hashes fast and a
    store keyed by ``ServiceID`` also answers to the plain string. The model part may contain
    ``":"``; the provider part may not (:meth:`parse` splits on the first ``":"``).
    """

    __slots__ = ()

    def __new__(cls, provider: str, model: str) -> ServiceID:
        if not provider or ":" in provider:
            raise ValueError(f"invalid provider {provider!r} for a service id: empty or has ':'")
        if not model:
            raise ValueError("a service id needs a model")
        return super().__new__(cls, f"{provider}:{model}")

    @classmethod
    def parse(cls, text: str) -> ServiceID:
        """Parse ``"provider:model"``; raises ``ValueError`` when there is no ``":"``."""
        provider, sep, model = str(text).partition(":")
        if not sep:
            raise ValueError(f"invalid service id {text!r}: expected 'provider:model'")
        return cls(provider, model)

    @property
    def provider(self) -> str:
        """The provider part (a provider uuid or name)."""
        return self.partition(":")[0]

    @property
    def model(self) -> str:
        """The model part, which may itself contain ``":"``."""
        return self.partition(":")[2]

    def __repr__(self) -> str:
        return f"ServiceID({self.provider!r}, {self.model!r})"

    def __getnewargs__(self) -> tuple[str, str]:  # type: ignore[override]
        return (self.provider, self.model)


class Service(ConfigModel):
    """One provider + model a rule can route to.

    ``provider`` is a provider's uuid or name. ``weight`` steers weighted tactics (0 means
    "never, unless every weight is 0"); ``time_window`` is the length in seconds of the usage
    window the token-based tactics read; ``model_capacity`` is the number of concurrent
    sessions the model should carry (capacity-based tactic). A ``time_window`` of 0 (what
    tingly-box's UI writes for "not set") means the default, 300 seconds, and is read as 300.
    ``model_info`` overrides the ``models:`` catalog's figures for this service (any
    :class:`ModelSpec` field: window, prices, capabilities, ``free``).
    ``tier`` is the service's priority level for the ``tier`` tactic: 0 (the default) is the
    primary tier, a higher number serves only while no lower tier has a healthy service
    (other tactics do not read it).
    """

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)
    weight: Weight = 1
    active: bool = True
    time_window: TimeWindow = DEFAULT_TIME_WINDOW
    model_capacity: Capacity | None = None
    model_info: ModelSpec | None = None
    tier: Tier = 0

    @field_validator("time_window")
    @classmethod
    def _zero_is_default(cls, value: int) -> int:
        return value or DEFAULT_TIME_WINDOW

    @field_validator("provider")
    @classmethod
    def _provider_has_no_colon(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("must not contain ':' (it separates provider and model in ids)")
        return value

    @model_serializer(mode="wrap")
    def _drop_unset_model_info(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("model_info", 0) is None:
            del data["model_info"]  # dumps keep tingly-box's service shape
        return data

    @cached_property
    def service_id(self) -> ServiceID:
        """This service's :class:`ServiceID` (``provider:model``)."""
        return ServiceID(self.provider, self.model)

    @cached_property
    def name(self) -> str:
        """The service id as a plain string, so a service can stand where a name is expected."""
        return str(self.service_id)
