"""Glob patterns for the ``glob`` operation, translated to anchored regular expressions."""

from __future__ import annotations

import re

from ._bounds import MAX_PATTERN_DEPTH


def glob_to_regex(pattern: str) -> str:
    """Translate a glob into the source of an anchored regular expression.

    ``*`` matches any run of characters (``/`` included), ``?`` any one character,
    ``[abc]`` / ``[a-z]`` one of a set (``[!x]`` one not in it; a ``]`` right after ``[``
    or ``[!`` is literal), ``{a,b}`` one of the alternatives (nesting allowed) and ``\\``
    makes the next character literal. Everything else matches itself, case-sensitively.
    Raises ``ValueError`` for an unterminated ``[`` or ``{``, a trailing ``\\``, or ``{``
    nested more than ``MAX_PATTERN_DEPTH`` (50) deep.
    """
    out: list[str] = []
    opened: list[int] = []  # positions of the '{' still open
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "\\":
            if i == n:
                raise ValueError(f"trailing '\\' at position {i - 1}")
            out.append(re.escape(pattern[i]))
            i += 1
        elif char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            i = _char_class(pattern, i, out)
        elif char == "{":
            if len(opened) == MAX_PATTERN_DEPTH:
                raise ValueError(f"'{{' alternatives nest more than {MAX_PATTERN_DEPTH} deep")
            opened.append(i - 1)
            out.append("(?:")
        elif char == "," and opened:
            out.append("|")
        elif char == "}" and opened:
            opened.pop()
            out.append(")")
        else:
            out.append(re.escape(char))
    if opened:
        raise ValueError(f"unterminated '{{' at position {opened[-1]}")
    return "\\A(?s:" + "".join(out) + ")\\Z"


def _char_class(pattern: str, start: int, out: list[str]) -> int:
    """Append the class opening at ``start - 1``; return the index after its ``]``."""
    i, n = start, len(pattern)
    body = ["["]
    if i < n and pattern[i] == "!":
        body.append("^")
        i += 1
    first = i
    while True:
        if i >= n:
            raise ValueError(f"unterminated '[' at position {start - 1}")
        char = pattern[i]
        if char == "]" and i > first:
            break
        if char == "\\" and i + 1 < n:
            body.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "-" and i > first and i + 1 < n and pattern[i + 1] != "]":
            body.append("-")
        else:
            body.append(re.escape(char))
        i += 1
    body.append("]")
    out.append("".join(body))
    return i + 1


def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a glob (see :func:`glob_to_regex`); ``.match(text)`` tests the whole text.

    Raises ``ValueError`` when the glob is malformed or its class range is reversed.
    """
    source = glob_to_regex(pattern)
    try:
        return re.compile(source)
    except re.error as exc:
        raise ValueError(exc.msg) from None
    except (RecursionError, OverflowError) as exc:
        raise ValueError(str(exc)) from None
