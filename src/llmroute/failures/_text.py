"""Text helpers of the failure classification: attribute reads that never raise, the short
masked message excerpt, and Retry-After parsing (headers, an attribute, or the message)."""

from __future__ import annotations

import math
import re
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

from ..typing import system_clock

_RETRY_IN_TEXT_RE = re.compile(
    r"(?:try again|retry)(?: after| in)?\s+(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s\b|sec|seconds?)"
)
_SECRET_RE = re.compile(
    r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_*\-]{6,}|(?i:bearer)\s+[A-Za-z0-9._~+/=\-]+"
    r"|(?i:((?:api[_-]?)?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+)?)[^\s\"',}]+"
)
# Cheap pre-check: the masking regex only runs on text containing one of these (one scan
# for all of them).
_SECRET_HINTS = ("sk-", "pk-", "rk-", "key", "bearer", "token", "secret", "password", "authori")
_SECRET_HINT_RE = re.compile("|".join(map(re.escape, _SECRET_HINTS)))
_MAX_MESSAGE = 200


def get_attr(obj: object, name: str) -> Any:
    """``getattr`` that treats a raising property like a missing attribute."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def message_of(error: object) -> str:
    """The error's ``message`` attribute, else ``str(error)``, else its type name."""
    message = get_attr(error, "message")
    if isinstance(message, str) and message:
        return message
    try:
        text = str(error)
    except Exception:
        text = ""
    return text or type(error).__name__


def clean(message: str) -> str:
    """A short, single-line excerpt with anything key-like masked."""
    text = " ".join(message[: _MAX_MESSAGE * 2].split())
    if _SECRET_HINT_RE.search(text.lower()):
        text = _SECRET_RE.sub(_mask, text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def mask_secrets(text: str) -> str:
    """``text`` with anything key-like (``sk-...``, ``Bearer ...``, ``api_key=...``) masked."""
    if _SECRET_HINT_RE.search(text.lower()):
        return _SECRET_RE.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    prefix = match.group(1)
    if prefix is not None:  # "api_key=..." keeps its name
        head = match.group(0)
        return head[: head.index(prefix) + len(prefix)] + "=***"
    return "***"


def retry_after_of(error: object, now: float | None) -> float | None:
    """Seconds from ``retry-after-ms`` / ``retry-after`` headers or a ``retry_after`` attribute."""
    for holder in (get_attr(error, "response"), error):
        headers = get_attr(holder, "headers") if holder is not None else None
        if headers is not None and hasattr(headers, "get"):
            try:
                seconds = _retry_after_from_headers(headers, now)
            except Exception:  # an odd headers object must not cost us the failure kind
                seconds = None
            if seconds is not None:
                return seconds
    value = get_attr(error, "retry_after")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _non_negative(float(value))
    return None


def _retry_after_from_headers(headers: Any, now: float | None) -> float | None:
    millis = _header(headers, "retry-after-ms")
    if millis is not None:
        seconds = _number(millis)
        if seconds is not None:
            return seconds / 1000.0
    value = _header(headers, "retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = system_clock() if now is None else now  # only an HTTP date needs "now"
    return max(0.0, when.timestamp() - current)


def _header(headers: Any, name: str) -> str | None:
    value = headers.get(name)
    if value is None and headers and isinstance(headers, dict):  # a plain dict: any case
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.strip() if isinstance(value, str) else None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return _non_negative(value)


def _non_negative(value: float) -> float | None:
    return value if math.isfinite(value) and value >= 0 else None


def retry_in_text(text: str) -> float | None:
    """Seconds from a hint like "try again in 20s" / "retry after 7 seconds", or None."""
    match = _RETRY_IN_TEXT_RE.search(text[:2000].lower())
    if not match:
        return None
    seconds = float(match.group(1))
    return seconds / 1000.0 if match.group(2).startswith("m") else seconds
