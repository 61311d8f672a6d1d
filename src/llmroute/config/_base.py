"""The base of every configuration model: frozen, strict about unknown keys, and raising
:class:`ConfigError` (with document paths) instead of pydantic's ``ValidationError``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from typing_extensions import Self

from ..errors import ConfigError

# Field names whose input must never be echoed back in an error message.
_SECRET_FIELDS = frozenset({"token", "access_token", "refresh_token"})


class ConfigModel(BaseModel):
    """Frozen, ``extra="forbid"`` pydantic model whose validation errors are ConfigErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any
    ) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_strings(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc) from None


def invalid(title: str, problems: list[tuple[tuple[int | str, ...], str]]) -> ValidationError:
    """A ``ValidationError`` with one ``value_error`` per ``(loc, message)``, for validators
    that check across fields and must point at the exact field (nested paths stay intact)."""
    errors: list[InitErrorDetails] = [
        {"type": PydanticCustomError("value_error", msg), "loc": loc, "input": None}
        for loc, msg in problems
    ]
    return ValidationError.from_exception_data(title, errors)


def format_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a document path: ``rules[0].services[1].weight``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def config_error(exc: ValidationError, source: str | None = None) -> ConfigError:
    """Translate a pydantic ``ValidationError`` into a :class:`ConfigError`."""
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path = format_path(err["loc"])
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ConfigError):
            # A nested model raised through its own __init__: splice its paths under ours.
            for sub, msg in inner.problems:
                problems.append((_join(path, sub), msg))
        else:
            problems.append((path, _message(err)))
    return ConfigError(problems=problems, source=source)


def _join(prefix: str, path: str) -> str:
    if not prefix or not path:
        return prefix or path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "assertion_error" and "error" in ctx:
        return str(ctx["error"])
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "cannot be empty"
    for bound, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.startswith(("greater", "less")):
            return f"must be {op} {ctx[bound]}"
    msg = err["msg"]
    if msg.startswith("Input should be"):
        msg = "must be" + msg[len("Input should be") :]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    secret = any(isinstance(p, str) and p in _SECRET_FIELDS for p in err["loc"])
    value = err.get("input")
    if not secret and kind.endswith(("_type", "_parsing")) and _is_scalar(value):
        msg += f", got {value!r}"
    return msg


def _is_scalar(value: object) -> bool:
    return value is None or (isinstance(value, (str, int, float, bool)) and len(repr(value)) < 60)
