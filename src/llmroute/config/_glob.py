"""Glob patterns for the ``glob`` operation, translated to anchored regular expressions.

The model name a glob is matched against comes from the request, so matching must stay
linear in its length whatever the glob: a plain translation (``*`` as ``.*``) backtracks
polynomially in the number of stars (``*a*a*a*a*a*a*a*a*b`` took seconds on a 40-character
name). So ``{a,b}`` alternatives are expanded first (each alternative then consists of
one-character pieces and stars only), and the text between two stars is matched at its
leftmost place and never reconsidered, which is exact for pieces of fixed width.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from ._bounds import MAX_GLOB_ALTERNATIVES, MAX_PATTERN_DEPTH

# How many pieces all the alternatives of one glob may hold together, once expanded.
_MAX_EXPANDED = 1_000_000

# A piece is the regex of exactly one character (a literal, "?" or a class), or None: a star.
_Piece = str | None


class _Braces(NamedTuple):
    """A ``{...}`` group: its alternatives, each a list of items."""

    options: tuple[list[_Item], ...]


_Item = _Piece | _Braces


def glob_to_regex(pattern: str) -> str:
    """Translate a glob into the source of an anchored regular expression.

    ``*`` matches any run of characters (``/`` included), ``?`` any one character,
    ``[abc]`` / ``[a-z]`` one of a set (``[!x]`` one not in it; a ``]`` right after ``[``
    or ``[!`` is literal), ``{a,b}`` one of the alternatives (nesting allowed) and ``\\``
    makes the next character literal. Everything else matches itself, case-sensitively.
    The regex never backtracks into a star it has placed, so matching takes time linear in
    the text. Raises ``ValueError`` for an unterminated ``[`` or ``{``, a trailing ``\\``,
    ``{`` nested more than ``MAX_PATTERN_DEPTH`` (50) deep, or alternatives that expand to
    more than ``MAX_GLOB_ALTERNATIVES`` (1,000) forms of the glob.
    """
    groups = itertools.count()
    forms = _expand(_parse(pattern))
    body = "|".join(_form_regex(form, groups) for form in forms)
    return "\\A(?s:" + body + ")\\Z"


def _parse(pattern: str) -> list[_Item]:
    """The glob as a list of pieces and brace groups."""
    root: list[_Item] = []
    current = root
    braces: list[tuple[int, list[list[_Item]]]] = []  # each open '{': position, options
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "\\":
            if i == n:
                raise ValueError(f"trailing '\\' at position {i - 1}")
            current.append(re.escape(pattern[i]))
            i += 1
        elif char == "*":
            if not current or current[-1] is not None:  # "**" is "*"
                current.append(None)
        elif char == "?":
            current.append(".")
        elif char == "[":
            i = _char_class(pattern, i, current)
        elif char == "{":
            if len(braces) == MAX_PATTERN_DEPTH:
                raise ValueError(f"'{{' alternatives nest more than {MAX_PATTERN_DEPTH} deep")
            current = []
            braces.append((i - 1, [current]))
        elif char == "," and braces:
            current = []
            braces[-1][1].append(current)
        elif char == "}" and braces:
            options = braces.pop()[1]
            current = braces[-1][1][-1] if braces else root
            current.append(_Braces(tuple(options)))
        else:
            current.append(re.escape(char))
    if braces:
        raise ValueError(f"unterminated '{{' at position {braces[-1][0]}")
    return root


def _expand(items: list[_Item]) -> list[list[_Piece]]:
    """Every form of the glob with its brace groups resolved, in order."""
    forms: list[list[_Piece]] = [[]]
    size = 0
    for item in items:
        if isinstance(item, _Braces):
            tails = _distinct(tail for option in item.options for tail in _expand(option))
            if len(forms) * len(tails) > MAX_GLOB_ALTERNATIVES:
                raise ValueError(
                    f"'{{' alternatives expand to more than {MAX_GLOB_ALTERNATIVES:,} forms"
                )
            forms = _distinct(head + tail for head in forms for tail in tails)
            size = sum(len(form) for form in forms)
        else:
            for form in forms:
                form.append(item)
            size += len(forms)
        if size > _MAX_EXPANDED:
            raise ValueError(f"'{{' alternatives expand to more than {_MAX_EXPANDED:,} pieces")
    return forms


def _distinct(forms: Iterable[list[_Piece]]) -> list[list[_Piece]]:
    """The forms without repeats (``{a,a}`` or ``{,}`` add nothing), in order."""
    return [list(form) for form in dict.fromkeys(tuple(form) for form in forms)]


def _form_regex(form: list[_Piece], groups: Iterator[int]) -> str:
    """One brace-free form: the text before the first star is anchored at the start, the
    text after the last at the end, and each run between two stars is found at its leftmost
    place by a lookahead (which the engine never re-enters) and consumed by a backreference.
    """
    runs: list[list[str]] = [[]]
    for piece in form:
        if piece is None:
            runs.append([])
        else:
            runs[-1].append(piece)
    texts = ["".join(run) for run in runs]
    if len(texts) == 1:
        return f"(?:{texts[0]})"
    out = [texts[0]]
    for text in texts[1:-1]:
        if text:  # "*{,}*" leaves an empty run between two stars
            name = f"g{next(groups)}"
            out.append(f"(?=(?P<{name}>.*?{text}))(?P={name})")
    out.append(".*" + texts[-1])
    return "(?:" + "".join(out) + ")"


def _char_class(pattern: str, start: int, out: list[_Item]) -> int:
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
