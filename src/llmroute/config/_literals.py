"""Literals every match of a regex must contain: a cheap test before a costly search.

``re`` scans a long text position by position for a pattern such as ``\\bticket-7\\d+\\b``,
while a substring test runs at memory speed. When every match must contain one of a few
literals, a text holding none of them cannot match, and the search can be skipped.

:func:`required_literals` finds such literals with a small parser of the pattern string of
its own (``re``'s parser is private). The parser is conservative: it understands plain and
escaped characters, the classes ``\\d \\w \\s .`` and ``[...]``, the assertions
``^ $ \\b \\B \\A \\Z``, groups ``(...)``, ``(?:...)`` and ``(?P<name>...)``, alternation and
quantifiers. Anything else (inline flags, lookarounds, backreferences, numeric and unicode
escapes, comments, conditionals, a ``{`` that is not a quantifier) means "no literals
known", and so does a case-insensitive or verbose pattern. Dropping a character from a
literal only ever makes the test weaker, never wrong, so whatever the parser is unsure
about breaks a literal rather than extending it.
"""

from __future__ import annotations

import re

__all__ = ["MAX_LITERALS", "required_literals"]

#: The most literals a prefilter tests (each is one scan of the text): past that, none.
MAX_LITERALS = 8

# Escapes that stand for one character, and escapes that match zero characters or one of
# many (they end a literal). Any other ASCII letter or digit after "\" is not understood.
_CHAR_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_BREAK_ESCAPES = frozenset("dDsSwWbBAZ")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
# "{m}", "{m,}", "{,n}", "{m,n}" (and "{}", "{,}": read as optional, which is safe).
_BRACES = re.compile(r"\{([0-9]*)(?:,[0-9]*)?\}")
# The flags under which a literal of the pattern string is not a literal of the text.
_UNSUPPORTED_FLAGS = re.IGNORECASE | re.VERBOSE

# What an atom of a sequence is: one literal character, or something else; for a group, the
# literals every match of it contains (None: not known).
_Atom = tuple[str | None, tuple[str, ...] | None]


class _Unsupported(Exception):
    """The pattern uses something the parser does not understand."""


def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literals of which every match of ``pattern`` contains at least one, or None if no
    such set (of at most :data:`MAX_LITERALS`) is known.

    For each top-level alternative this is its longest literal run outside groups (or, when
    it has none, the literals of one of its required groups); for the pattern, the union.
    """
    if pattern.flags & _UNSUPPORTED_FLAGS:
        return None
    parser = _Parser(pattern.pattern)
    try:
        literals = parser.alternation()
    except (_Unsupported, RecursionError):  # a prefilter is an optimisation: go without
        return None
    if parser.pos != len(parser.text):  # a stray ")": re would not have compiled it
        return None
    return literals


class _Parser:
    """A recursive-descent reader of a pattern string, one position at a time."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _take(self) -> str:
        char = self._peek()
        if not char:
            raise _Unsupported
        self.pos += 1
        return char

    def alternation(self) -> tuple[str, ...] | None:
        """Reads alternatives up to the end or a ")"; the union of their literals."""
        literals: list[str] = []
        known = True
        while True:
            found = self._sequence()
            if found is None:
                known = False  # keep reading: the rest of the pattern must still parse
            else:
                literals.extend(found)
            if self._peek() != "|":
                break
            self.pos += 1
        unique = tuple(dict.fromkeys(literals))
        return unique if known and len(unique) <= MAX_LITERALS else None

    def _sequence(self) -> tuple[str, ...] | None:
        """Reads one alternative; its longest literal run, else a required group's literals."""
        runs: list[str] = []
        groups: list[tuple[str, ...]] = []
        run: list[str] = []
        while self._peek() not in ("", "|", ")"):
            char, inner = self._atom()
            low = self._quantifier()
            if char is not None and low is None:
                run.append(char)
                continue
            if char is not None and low:  # one copy is required, the next may differ
                run.append(char)
            if run:
                runs.append("".join(run))
                run = []
            if inner and low != 0:
                groups.append(inner)
        if run:
            runs.append("".join(run))
        if runs:
            return (max(runs, key=len),)
        return max(groups, key=_selectivity) if groups else None

    def _atom(self) -> _Atom:
        char = self._take()
        if char == "\\":
            return self._escape()
        if char == "(":
            return None, self._group()
        if char == "[":
            self._skip_class()
            return None, None
        if char in ".^$":
            return None, None
        if char in "*+?{":  # a quantifier with nothing to repeat, or a literal "{"
            raise _Unsupported
        return char, None

    def _escape(self) -> _Atom:
        char = self._take()
        if char in _CHAR_ESCAPES:
            return _CHAR_ESCAPES[char], None
        if char in _BREAK_ESCAPES:
            return None, None
        if char in _ASCII_ALNUM:  # \x \u \U \N \0 \1 ..., or unknown
            raise _Unsupported
        return char, None  # an escaped metacharacter, or any other character

    def _group(self) -> tuple[str, ...] | None:
        if self.text.startswith("?:", self.pos):
            self.pos += 2
        elif self.text.startswith("?P<", self.pos):
            end = self.text.find(">", self.pos)
            if end < 0:
                raise _Unsupported
            self.pos = end + 1
        elif self._peek() == "?":  # flags, lookarounds, (?P=name), (?#...), (?(...)...)
            raise _Unsupported
        inner = self.alternation()
        if self._take() != ")":
            raise _Unsupported
        return inner

    def _skip_class(self) -> None:
        if self._peek() == "^":
            self.pos += 1
        if self._peek() == "]":  # a "]" first in a class is a literal "]"
            self.pos += 1
        while (char := self._take()) != "]":
            if char == "\\":
                self._take()

    def _quantifier(self) -> int | None:
        """Reads a quantifier, if one follows: its minimum count (None: no quantifier)."""
        char = self._peek()
        if char in ("*", "?"):
            low = 0
            self.pos += 1
        elif char == "+":
            low = 1
            self.pos += 1
        elif char == "{":
            braces = _BRACES.match(self.text, self.pos)
            if braces is None:
                raise _Unsupported  # re reads it as a literal "{": too subtle to follow
            low = int(braces.group(1) or 0)
            self.pos = braces.end()
        else:
            return None
        if self._peek() in ("?", "+"):  # lazy or possessive
            self.pos += 1
        return low


def _selectivity(literals: tuple[str, ...]) -> tuple[int, int]:
    """A literal set's rank: the longer its shortest literal and the fewer literals it has,
    the fewer texts it lets through."""
    return min(map(len, literals)), -len(literals)
