"""The checks a raw document passes before its fields are validated.

Parsers and pydantic fail badly on a few shapes of data, with errors that name no place in
the document: a mapping key that is not a string (YAML reads ``on:`` as ``True`` and
``2026-01-02:`` as a date), nesting thousands deep, a YAML alias that expands a small file
into billions of values, an integer of thousands of digits, ``NaN`` or ``Infinity``, bytes, a
JSON object naming a key twice (the parser keeps the last silently).
:func:`check_document` walks the data once, iteratively, and reports each of them as a
:class:`ConfigError` problem with its path.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER",
    "MAX_VALUES",
    "RepeatedKeys",
    "TooLongNumber",
    "check_document",
    "short_repr",
]

#: How deeply mappings and lists may nest in a document.
MAX_DEPTH = 64
#: How many values a document may hold, counted as written out (YAML aliases expanded).
MAX_VALUES = 1_000_000
#: No integer in a document may reach this (field bounds are far below it anyway).
MAX_NUMBER = 10**100
# The most problems reported at once: past that, the document is junk, not a typo.
_MAX_PROBLEMS = 20


class TooLongNumber:
    """What the parsers put in place of an integer too long to convert (``digits`` long):
    Python refuses ``int()`` of more than 4,300 digits, so it is reported here instead."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"<a number of {self.digits} digits>"


class RepeatedKeys(dict[str, Any]):
    """What the JSON reader puts in place of an object that names a key more than once: the
    object as parsed (the last value of a key wins) and the keys that were ``repeated``, so
    the document check can report each with its path."""

    __slots__ = ("repeated",)

    def __init__(self, pairs: list[tuple[str, Any]], repeated: list[str]) -> None:
        super().__init__(pairs)
        self.repeated = repeated


def short_repr(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises (a huge int's repr does)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_NUMBER:
        digits = int(abs(value).bit_length() * 0.30103) + 1  # str() of it may be refused
        return f"<a number of about {digits} digits>"
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_document(data: object) -> None:
    """Raise :class:`ConfigError` naming the path of every non-string key, too-deep nesting,
    too-large number, non-finite float and bytes value in ``data``, or when it holds more
    than :data:`MAX_VALUES` values. Other objects (models, dates) are left to the fields."""
    problems: list[tuple[str, str]] = []
    sizes: dict[int, int] = {}  # id of a container walked already -> values in it, expanded
    open_ids: set[int] = set()  # the containers being walked (a cycle comes back to one)
    sums: list[int] = [0]  # the values counted so far in each open container, innermost last
    counted = 0
    # (value, path, depth, leaving): a container is entered, its children walked, then left
    stack: list[tuple[object, str, int, bool]] = [(data, "", 0, False)]
    while stack and len(problems) < _MAX_PROBLEMS and counted <= MAX_VALUES:
        value, path, depth, leaving = stack.pop()
        key = id(value)
        if leaving:
            open_ids.discard(key)
            sizes[key] = size = sums.pop()
            sums[-1] += size
        elif not isinstance(value, (Mapping, list, tuple)):
            counted += 1
            sums[-1] += 1
            message = _scalar_problem(value)
            if message:
                problems.append((path, message))
        elif key in sizes:  # a YAML alias to a container walked already: counted again
            counted += sizes[key]
            sums[-1] += sizes[key]
        elif key in open_ids:
            problems.append((path, "refers to itself (a recursive YAML alias)"))
        elif depth >= MAX_DEPTH:
            problems.append((path, f"nested more than {MAX_DEPTH} levels deep"))
        else:
            counted += 1
            open_ids.add(key)
            sums.append(1)
            stack.append((value, path, depth, True))
            for child, child_path in reversed(_children(value, path, problems)):
                stack.append((child, child_path, depth + 1, False))
    if counted > MAX_VALUES:
        problems.append(("", f"holds more than {MAX_VALUES:,} values (YAML aliases count)"))
    if problems:
        raise ConfigError(problems=problems[:_MAX_PROBLEMS])


def _children(
    value: Mapping[Any, Any] | list[Any] | tuple[Any, ...],
    path: str,
    problems: list[tuple[str, str]],
) -> list[tuple[object, str]]:
    if not isinstance(value, Mapping):
        return [(item, f"{path}[{i}]") for i, item in enumerate(value)]
    for key in getattr(value, "repeated", ()) if isinstance(value, RepeatedKeys) else ():
        where = f"{path}.{key}" if path else key
        problems.append((where, "the key appears more than once in its mapping: keep one"))
    out: list[tuple[object, str]] = []
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append((path, _key_problem(key)))
            continue
        out.append((item, f"{path}.{key}" if path else key))
    return out


def _key_problem(key: object) -> str:
    hint = ""
    if isinstance(key, bool):
        hint = " (YAML reads an unquoted on/off/yes/no/true/false as a boolean: quote it)"
    elif type(key).__name__ in ("date", "datetime"):
        hint = " (YAML reads an unquoted date as a date: quote it)"
    return f"key {short_repr(key)} is not a string{hint}"


def _scalar_problem(value: object) -> str:
    if isinstance(value, TooLongNumber):
        return f"a number of {value.digits} digits is too large"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_NUMBER:
        return f"{short_repr(value)} is too large"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value!r} is not a finite number"
    if isinstance(value, (bytes, bytearray)):
        return "binary data is not supported here: write text"
    return ""
