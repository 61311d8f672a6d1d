"""The base of every configuration model: frozen, strict about unknown keys, and raising
:class:`ConfigError` (with document paths) instead of pydantic's ``ValidationError``."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError
from typing_extensions import Self

from ..errors import ConfigError
from ._document import check_document, short_repr

# Field names whose input must never be echoed back in an error message.
_SECRET_FIELDS = frozenset({"token", "access_token", "refresh_token"})

# Set while a document checked by check_document is validated: the nested models' own
# __init__ (which pydantic calls for each of them) need not walk their part again.
_CHECKED: ContextVar[bool] = ContextVar("llmroute_config_checked", default=False)


@contextmanager
def checked(data: object) -> Iterator[None]:
    """Run :func:`check_document` on ``data`` (unless an enclosing call did), then validate
    inside the block without checking again."""
    if _CHECKED.get():
        yield
        return
    check_document(data)
    token = _CHECKED.set(True)
    try:
        yield
    finally:
        _CHECKED.reset(token)


class ConfigModel(BaseModel):
    """Frozen, ``extra="forbid"`` pydantic model whose validation errors are ConfigErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            with checked(data):
                super().__init__(**data)
        except ValidationError as exc:
            raise config_error(exc, model=type(self)) from None

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            with checked(obj):
                return super().model_validate(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc, model=cls) from None

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any
    ) -> Self:
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc, model=cls) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        try:
            with checked(obj):
                return super().model_validate_strings(obj, *args, **kwargs)
        except ValidationError as exc:
            raise config_error(exc, model=cls) from None


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


def config_error(
    exc: ValidationError, source: str | None = None, model: type[BaseModel] | None = None
) -> ConfigError:
    """Translate a pydantic ``ValidationError`` into a :class:`ConfigError`.

    ``model`` is the model that was validated: an unknown key's message then suggests the
    nearest field of the model it was found in.
    """
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path = format_path(err["loc"])
        inner = (err.get("ctx") or {}).get("error")
        if isinstance(inner, ConfigError):
            # A nested model raised through its own __init__: splice its paths under ours.
            for sub, msg in inner.problems:
                problems.append((_join(path, sub), msg))
        elif err["type"] == "extra_forbidden" and model is not None:
            problems.append((path, _unknown_key(model, err["loc"])))
        else:
            problems.append((path, _message(err)))
    return ConfigError(problems=problems, source=source)


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    key = loc[-1] if loc else ""
    known = _fields_at(model, loc[:-1])
    close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
    return f"unknown field; did you mean {close[0]!r}?" if close else "unknown field"


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> set[str]:
    """The field names of the model(s) at ``loc`` under ``model`` (a union gives all)."""
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        found: list[type[BaseModel]] = []
        for each in current:
            field = each.model_fields.get(part)
            if field is not None:
                found.extend(_models_in(field.annotation))
        if found:
            current = found
    return {name for each in current for name in each.model_fields}


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return []
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _join(prefix: str, path: str) -> str:
    if not prefix or not path:
        return prefix or path
    return prefix + path if path.startswith("[") else f"{prefix}.{path}"


# pydantic's container errors, in the words of a document.
_SHAPES = {
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "set_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dataclass_type": "must be a mapping",
}


def _message(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    secret = any(isinstance(p, str) and p in _SECRET_FIELDS for p in err["loc"])
    value = err.get("input")
    got = "" if secret or not _is_scalar(value) else f", got {short_repr(value)}"
    if kind in ("value_error", "assertion_error") and "error" in ctx:
        return str(ctx["error"])
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "cannot be empty"
    if kind in _SHAPES:
        return _SHAPES[kind] + (got or f", got {_kind_of(value)}")
    if kind == "int_parsing_size":  # e.g. 1e308 where an int belongs
        return f"is too large a number{got}"
    if kind == "string_type" and not secret:
        return "must be a valid string" + got + _yaml_hint(value)
    for bound, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.startswith(("greater", "less")):
            return f"must be {op} {ctx[bound]}{got}"
    msg = err["msg"]
    if msg.startswith("Input should be"):
        msg = "must be" + msg[len("Input should be") :]
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind.endswith(("_type", "_parsing")):
        msg += got
    return msg


def _kind_of(value: object) -> str:
    if isinstance(value, (dict, typing.Mapping)):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _yaml_hint(value: object) -> str:
    """Why a YAML document may hold a boolean or a date where it wrote text."""
    if isinstance(value, bool):
        return " (YAML reads an unquoted yes/no/on/off/true/false as a boolean: quote it)"
    if type(value).__name__ in ("date", "datetime"):
        return f", got the date {value} (YAML reads an unquoted date as a date: quote it)"
    return ""
