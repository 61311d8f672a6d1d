"""Cheap scans of a request body, for the checks that need one figure of it and not the
whole :class:`RequestContext` (the catalog's fit stage): an upper bound of its token
estimate, whether its messages are plain text (so carry no media), whether it offers tools
or asks for thinking.

Each reads a plain ``dict`` body only, and only while no extractor is registered for
``dict``; otherwise it answers None and the caller extracts the context (which is exact).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ._extract import _EXTRACTORS, _find_extractor, _offered_tools, _thinking

__all__ = ["BodyScan", "offers_tools", "scan_body", "scannable", "thinking_requested"]

# What a number, a bool or None adds to the bound: its JSON text (at most ~24 characters
# for a float) when a tool call's arguments are dumped for counting.
_SCALAR = 8


def scannable(body: Any) -> bool:
    """Whether the scans read ``body``: a plain dict, with no extractor for ``dict``."""
    return type(body) is dict and (not _EXTRACTORS or _find_extractor(dict) is None)


def offers_tools(body: dict[str, Any]) -> bool:
    """Whether a :func:`scannable` body offers tools (``offered_tools`` is not empty)."""
    return bool(body.get("tools")) and bool(_offered_tools(body))


def thinking_requested(body: dict[str, Any]) -> bool:
    """Whether a :func:`scannable` body asks for thinking (``thinking_enabled``)."""
    return _thinking(body)


class BodyScan(NamedTuple):
    """What one cheap walk over a body's system text and messages found: ``tokens_bound``,
    an upper bound of the token estimate :func:`extract_context` gives (None when a value is
    not JSON-like: count exactly); ``plain``, whether all of it is plain text (every content
    a string or absent, no typed item), hence carries no image, audio or file (False means
    "maybe": read the context to know)."""

    tokens_bound: int | None
    plain: bool


def scan_body(body: dict[str, Any]) -> BodyScan:
    """One walk over a :func:`scannable` body.

    The bound counts every string ``2 * len + 2``: its UTF-8 bytes (at most 4 a character,
    so at most ``len`` tokens) or its JSON text with escapes (at most 6 a character) when it
    sits in dumped tool arguments, plus separators; a key the same, a scalar
    :data:`_SCALAR`.
    """
    total: int | None = 0
    plain = True
    for key in ("system", "instructions"):
        value = body.get(key)
        if value is not None:
            plain = plain and type(value) is str
            total = _add(total, _bound(value))
    messages: Any = body.get("messages")
    if messages is None:
        messages = body.get("input")
    if isinstance(messages, str):
        return BodyScan(_add(total, 2 * len(messages) + 2), plain)
    if type(messages) is not list and type(messages) is not tuple:
        return BodyScan(total, plain)
    for item in messages:
        if type(item) is not dict:
            return BodyScan(None, False)
        if plain:
            content, kind = item.get("content"), item.get("type")
            plain = (content is None or type(content) is str) and kind in (None, "message")
        total = _add(total, _bound(item))
    return BodyScan(total, plain)


def _add(total: int | None, size: int | None) -> int | None:
    return None if total is None or size is None else total + size


def _bound(value: Any) -> int | None:
    kind = type(value)
    if kind is str:
        return 2 * len(value) + 2
    if kind is dict:
        total = 1
        for key, item in value.items():
            if type(key) is not str:
                return None
            if type(item) is str:
                total += 2 * (len(key) + len(item)) + 5
                continue
            size = _bound(item)
            if size is None:
                return None
            total += 2 * len(key) + 3 + size
        return total
    if kind is list or kind is tuple:
        total = 1
        for item in value:
            size = _bound(item)
            if size is None:
                return None
            total += size
        return total
    if kind is int:
        digits: int = value.bit_length()
        return _SCALAR + digits // 8
    if value is None or kind is bool or kind is float:
        return _SCALAR
    return None
