"""Rules: a named route with its services, tactic, smart-routing blocks and affinity."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator
from typing_extensions import Self

from ..errors import ConfigError
from ._base import ConfigModel, invalid
from ._bounds import AffinitySeconds, ServiceIndex
from ._document import short_repr
from ._ops import compile_op
from ._service import Service
from ._tactic import Tactic


def _null_is_empty(value: Any) -> Any:
    return () if value is None else value


class _Cached(ConfigModel):
    """A model with cached properties derived from its fields (a rule's active services):
    ``model_copy(update=...)`` drops them from the copy, to be derived again from its fields."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, as pydantic's; values cached from the old fields are not carried over."""
        copy = super().model_copy(update=update, deep=deep)
        if update:
            fields = type(self).model_fields
            for key in [key for key in copy.__dict__ if key not in fields]:
                del copy.__dict__[key]
        return copy


def _op_problems(op: SmartOp) -> list[tuple[str, str]]:
    """The problems of one op (``[]`` when it is valid): compiled to check, then dropped."""
    try:
        compile_op(op.position, op.operation, op.value, timezone=op.meta.timezone)
    except ConfigError as exc:
        return list(exc.problems)
    return []


class SmartOpMeta(ConfigModel):
    """Metadata of a smart-routing op: a description and the value's type name (free-form),
    and ``timezone``, the IANA zone a ``time_range`` op reads its window in (UTC when
    empty; no other op takes one)."""

    description: str = ""
    type: str = ""
    timezone: str = ""


class SmartOp(ConfigModel):
    """One condition of a smart-routing block: ``position`` ``operation`` ``value``.

    ``value`` is text in the document; numbers and booleans are accepted and kept as text.
    Loading checks the op against :data:`llmroute.config.OPERATIONS` (a valid position, an
    operation valid for it, a value of its type) by compiling it, regexes and globs
    included, so a bad op is a :class:`ConfigError` at load, never at request time. The
    model keeps no compiled form: :class:`llmroute.SmartRouter` compiles the ops it runs.
    """

    uuid: str = ""
    position: str
    operation: str
    value: str = ""
    meta: SmartOpMeta = Field(default_factory=SmartOpMeta)

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return "" if value is None else value

    @field_validator("meta", mode="before")
    @classmethod
    def _null_meta(cls, value: Any) -> Any:
        return {} if value is None else value

    @model_validator(mode="after")
    def _check(self) -> SmartOp:
        problems = _op_problems(self)
        if problems:
            raise invalid(type(self).__name__, [(tuple(p.split(".")), m) for p, m in problems])
        return self


class SmartRouting(ConfigModel):
    """A smart-routing block: when all ``ops`` match a request, ``services`` serve it.

    Loading requires a non-blank ``description``, at least one op and at least one
    service, and checks every op (see :class:`SmartOp`).
    """

    description: str = ""
    ops: tuple[SmartOp, ...] = ()
    services: tuple[Service, ...] = ()

    @field_validator("ops", "services", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return _null_is_empty(value)

    @model_validator(mode="after")
    def _check(self) -> SmartRouting:
        problems: list[tuple[tuple[int | str, ...], str]] = []
        if not self.description.strip():
            problems.append(((), "description cannot be empty"))
        if not self.ops:
            problems.append(((), "ops cannot be empty"))
        if not self.services:
            problems.append(((), "services cannot be empty"))
        # every op, so one built with model_construct (which skipped its own check) is too
        for i, op in enumerate(self.ops):
            problems.extend((("ops", i, *p.split(".")), m) for p, m in _op_problems(op))
        if problems:
            raise invalid(type(self).__name__, problems)
        return self


#: The lock time of tingly-box's legacy ``smart_affinity: true``, in seconds (two hours).
LEGACY_AFFINITY_SECONDS = 7200


class Rule(_Cached):
    """A route: the services that may serve requests for it and how to choose among them.

    ``session_affinity`` is the lock time in seconds (0 = off) that keeps a session on the
    service it landed on; ``affinity_scope`` says whether that lock is per rule (``global``)
    or per rule and matched smart-routing block (``smart_rule``). ``flags`` keeps the other
    per-rule flags of a tingly-box document (routing does not read them); a
    ``flags.session_affinity`` there is read as ``session_affinity``. tingly-box's legacy
    ``smart_affinity: true`` (on the rule or in its ``flags``) means a two-hour lock
    (:data:`LEGACY_AFFINITY_SECONDS`) when ``session_affinity`` is not given.
    ``current_service_index`` is the seed's ``Rule.CurrentServiceIndex``: it names the
    rule's current service (:meth:`current_service`), which the tactics that keep one
    (``token_based``, ``hybrid``, ``latency_based``; ``round_robin`` starts its rotation
    there) take as current until the state store has a current service of its own.
    """

    uuid: str = Field(min_length=1)
    scenario: str = Field(default="openai", min_length=1)
    request_model: str = ""
    response_model: str = ""
    description: str = ""
    services: tuple[Service, ...] = ()
    current_service_index: ServiceIndex = 0
    lb_tactic: Tactic = Field(default_factory=Tactic)
    active: bool = True
    smart_enabled: bool = False
    smart_routing: tuple[SmartRouting, ...] = ()
    session_affinity: AffinitySeconds = 0
    smart_affinity: bool = False
    affinity_scope: Literal["global", "smart_rule"] = "global"
    flags: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lift_flags(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = _lift_session_affinity(data)
        for key in ("services", "smart_routing"):
            if key in data and data[key] is None:
                data = {**data, key: ()}
        if data.get("lb_tactic") is None and "lb_tactic" in data:
            data = {**data, "lb_tactic": {}}
        if data.get("flags", {}) is None:
            data = {**data, "flags": {}}
        return _legacy_affinity(data)

    @field_validator("scenario")
    @classmethod
    def _scenario_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @cached_property
    def _active(self) -> tuple[Service, ...]:
        return tuple(s for s in self.services if s.active)

    def active_services(self) -> tuple[Service, ...]:
        """The services with ``active`` set, in config order."""
        return self._active

    def current_service(self) -> Service | None:
        """The current service as the seed's ``Rule.GetCurrentService()`` names it: the
        active service at ``current_service_index`` (counted among the active services, in
        config order), else the first active one; None when no service is active."""
        active = self._active
        if not active:
            return None
        index = self.current_service_index
        return active[index] if index < len(active) else active[0]

    @property
    def affinity_enabled(self) -> bool:
        """True when the rule keeps sessions on the service they landed on."""
        return self.session_affinity > 0


def _lift_session_affinity(data: dict[str, Any]) -> dict[str, Any]:
    """``flags.session_affinity`` moved to ``session_affinity`` (they must agree if both)."""
    flags = data.get("flags")
    if not (isinstance(flags, dict) and "session_affinity" in flags):
        return data
    data = dict(data)
    rest = dict(flags)
    lifted = rest.pop("session_affinity")
    if "session_affinity" not in data:
        data["session_affinity"] = lifted
    elif data["session_affinity"] != lifted:
        raise ValueError(
            "session_affinity and flags.session_affinity disagree "
            f"({short_repr(data['session_affinity'])} vs {short_repr(lifted)}); keep one"
        )
    data["flags"] = rest
    return data


def _legacy_affinity(data: dict[str, Any]) -> dict[str, Any]:
    """tingly-box's ``smart_affinity: true`` (on the rule or in its flags) as a two-hour
    ``session_affinity`` when none is given; an explicit 0 beside it is a contradiction."""
    flags = data.get("flags")
    in_flags = flags.get("smart_affinity", False) if isinstance(flags, dict) else False
    if not isinstance(in_flags, bool):
        raise invalid("Rule", [(("flags", "smart_affinity"), "must be true or false")])
    if not (in_flags or _reads_as_true(data.get("smart_affinity"))):
        return data
    given = data.get("session_affinity")
    if given is None:
        return {**data, "session_affinity": LEGACY_AFFINITY_SECONDS}
    if given == 0 and not isinstance(given, bool):
        raise ValueError(
            "smart_affinity is true but session_affinity is 0 (off); keep one "
            f"(smart_affinity alone means {LEGACY_AFFINITY_SECONDS} seconds)"
        )
    return data


_BOOL = TypeAdapter(bool)


def _reads_as_true(value: Any) -> bool:
    """Whether the ``smart_affinity`` field will read ``value`` as true (``1``, ``"yes"``
    count, as they do for every boolean field); a value it rejects is reported there."""
    try:
        return value is not None and _BOOL.validate_python(value) is True
    except ValueError:
        return False
