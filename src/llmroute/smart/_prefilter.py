"""Literals of a regular expression that let a search be skipped or narrowed.

``re`` scans a long text position by position for a pattern such as ``\\bdebug\\b``; a
substring test (``"debug" in text``) runs at memory speed. When every match of a pattern
must contain one of a few literals, a text holding none of them cannot match, and the
search is skipped; when every match must *start* with one, only the places where one occurs
need trying. The analysis reads the parse tree of ``re``'s own parser; when that is
unavailable or the pattern is anything but plain (case-insensitive, ...), it gives up and
the search simply runs as usual.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

try:  # the parser of the running Python's re (moved in 3.11)
    _parser: Any = importlib.import_module("re._parser")
    _const: Any = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - Python 3.10
    _parser = importlib.import_module("sre_parse")
    _const = importlib.import_module("sre_constants")

_BOUNDARIES = {_const.AT_BOUNDARY, _const.AT_NON_BOUNDARY}
_REPEATS = {
    getattr(_const, name)
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
    if hasattr(_const, name)
}


def required_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literals of which every match of ``pattern`` contains at least one, or None.

    None means no such set is known (the pattern must always be searched). Of the sets
    :func:`required_literal_groups` finds, this is the one that looks most selective.
    """
    best: tuple[str, ...] | None = None
    for group in _groups_of(pattern):
        best = _better(best, group)
    return best


def required_literal_groups(pattern: re.Pattern[str]) -> tuple[tuple[str, ...], ...]:
    """Every literal set of which each match of ``pattern`` contains at least one literal
    (at most :data:`MAX_GROUPS`, single literals first); empty when none is known.

    A text missing every literal of any one group cannot match. Checking all the groups
    catches what one group misses: in ``(?:invoice|order)#42`` the words may be common while
    ``#42`` is rare.
    """
    groups = tuple(dict.fromkeys(_groups_of(pattern)))
    return tuple(sorted(groups, key=len)[:MAX_GROUPS])


#: The most literal groups a prefilter checks (each check is one scan of the text).
MAX_GROUPS = 4


def _groups_of(pattern: re.Pattern[str]) -> list[tuple[str, ...]]:
    if pattern.flags & re.IGNORECASE:
        return []
    try:
        tree = _parser.parse(pattern.pattern, pattern.flags)
        if tree.state.flags & re.IGNORECASE:
            return []
        return _sequence_groups(tree)
    except Exception:  # an unexpected parse tree: no prefilter, never a failure
        return []


def leading_literals(pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """Literals of which every match of ``pattern`` starts with one, or None.

    Only word-boundary assertions (``\\b``, ``\\B``) may come before them: those read the
    text before a match the same way when ``pattern.match(text, pos)`` starts at ``pos``.
    """
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        tree = _parser.parse(pattern.pattern, pattern.flags)
        if tree.state.flags & re.IGNORECASE:
            return None
        items = list(tree)
        while items and items[0][0] is _const.AT and items[0][1] in _BOUNDARIES:
            items.pop(0)
        return _leading(items)
    except Exception:  # an unexpected parse tree: no narrowing, never a failure
        return None


def _leading(items: Any) -> tuple[str, ...] | None:
    prefix: list[str] = []
    rest: tuple[str, ...] | None = None
    for op, arg in items:
        if op is _const.LITERAL:
            prefix.append(chr(arg))
            continue
        if op is _const.SUBPATTERN and not arg[1] & re.IGNORECASE:
            rest = _leading(arg[3])
        elif op is _const.BRANCH:
            branches = [_leading(branch) for branch in arg[1]]
            if all(b is not None for b in branches):
                rest = tuple(dict.fromkeys(lit for b in branches if b for lit in b))
        break
    head = "".join(prefix)
    if rest:
        return tuple(head + lit for lit in rest)
    return (head,) if head else None


def _better(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The more selective of two candidate sets (fewer, longer literals)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (min(map(len, a)), -len(a)) >= (min(map(len, b)), -len(b)) else b


def _sequence(items: Any) -> tuple[str, ...] | None:
    """The most selective required literal set of a sequence of parse items, or None."""
    best: tuple[str, ...] | None = None
    for group in _sequence_groups(items):
        best = _better(best, group)
    return best


def _sequence_groups(items: Any) -> list[tuple[str, ...]]:
    """Each literal set of which every match of the sequence contains one, in order."""
    groups: list[tuple[str, ...]] = []
    run: list[str] = []
    for op, arg in items:
        if op is _const.LITERAL:
            run.append(chr(arg))
            continue
        if run:
            groups.append(("".join(run),))
            run = []
        candidate: tuple[str, ...] | None = None
        if op is _const.SUBPATTERN:
            _group, add_flags, _del_flags, sub = arg
            if not add_flags & re.IGNORECASE:
                candidate = _sequence(sub)
        elif op is _const.BRANCH:
            candidate = _branches(arg[1])
        elif op in _REPEATS:
            low, _high, sub = arg
            if low >= 1:
                candidate = _sequence(sub)
        elif op is getattr(_const, "ATOMIC_GROUP", None):
            candidate = _sequence(arg)
        if candidate:
            groups.append(candidate)
    if run:
        groups.append(("".join(run),))
    return groups


def _branches(branches: Any) -> tuple[str, ...] | None:
    literals: list[str] = []
    for branch in branches:
        found = _sequence(branch)
        if found is None:
            return None
        literals.extend(found)
    return tuple(dict.fromkeys(literals))
