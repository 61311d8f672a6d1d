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
# Credentials recognised by their shape, wherever they stand: OpenAI / Anthropic style keys
# (sk-, sk-ant-, sk-proj-, pk-, rk-, key-), Google OAuth access tokens (ya29.) and API keys
# (AIza), JWTs (eyJ....), GitHub, Slack and AWS access keys.
_SHAPED = (
    r"\b(?:sk|pk|rk|key)-[A-Za-z0-9_*\-]{6,}"
    r"|\bya29\.[A-Za-z0-9_.\-]+"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]*)?"
    r"|\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}"
    r"|\bxox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
)
_SECRET_RE = re.compile(
    _SHAPED
    # "Bearer <credential>" (not "bearer token", which names one)
    + r"|(?i:bearer)\s+(?!(?i:token|header|auth)\b)[A-Za-z0-9._~+/=\-]{6,}"
    # "api_key=...", "token: ...", "password=..." keep their name, lose their value
    + r"|(?i:((?:api[_-]?)?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?"
    r"(?:bearer\s+)?)[^\s\"',}]+"
)
# A long opaque run (base64, hex, an unrecognised token) shortly after a word that says a
# credential is near: "x-api-key header is invalid: 9f86d0818...".
_NEAR_WORD_RE = re.compile(
    r"(?i:key|token|secret|password|credential|authorization|bearer)[^\n]{0,40}?"
    r"(?<![A-Za-z0-9+/=_\-])([A-Za-z0-9+/=_\-]{20,})"
)
# The password of a URL's user info: "scheme://user:PASSWORD@" (a raw "@" in the password
# included: the user info runs to the last "@" before a "/" or a space), or without a scheme
# when a host and port follow ("user:PASSWORD@proxy:3128").
_URL_PASSWORD_RE = re.compile(
    r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)[^\s/]+@"
    r"|(?<![\w/:@.\-])([A-Za-z0-9._~%+\-]+:)[^\s/:]+@(?=[A-Za-z0-9.\-]+:[0-9]+)"
)
# Ids a provider quotes so that support can find the request: never credentials, and worth
# keeping in a message even next to the word "key" or "token".
_ID_PREFIXES = ("req_", "request_", "msg_", "chatcmpl-", "resp_", "toolu_", "call_", "batch_")
# Cheap pre-check: the masking regexes only run on text containing one of these (one scan
# for all of them).
_SECRET_HINTS = (
    "@",
    "sk-",
    "pk-",
    "rk-",
    "key",
    "bearer",
    "token",
    "secret",
    "password",
    "authori",
    "credential",
    "ya29.",
    "aiza",
    "eyj",
    "gh",
    "xox",
    "akia",
)
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
    text = mask_secrets(" ".join(message[: _MAX_MESSAGE * 2].split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def mask_secrets(text: str) -> str:
    """``text`` with every credential it seems to quote replaced by ``***``: keys and
    tokens of a known shape (``sk-...``, ``ya29....``, JWTs, ...), the password of a URL
    (``http://user:***@proxy``), the value after ``token:`` / ``api_key=`` / ``Bearer``, and
    long opaque runs shortly after such a word (request ids such as ``req_...`` are kept)."""
    if not _SECRET_HINT_RE.search(text.lower()):
        return text
    text = _URL_PASSWORD_RE.sub(_mask_password, text)
    text = _SECRET_RE.sub(_mask, text)
    return _NEAR_WORD_RE.sub(_mask_run, text)


def _mask_password(match: re.Match[str]) -> str:
    return (match.group(1) or match.group(2)) + "***@"


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(1)
    if not (any(c.isdigit() for c in run) and any(c.isalpha() for c in run)):
        return match.group(0)  # a long word, not a credential
    if run.lower().startswith(_ID_PREFIXES):
        return match.group(0)  # a request or message id
    return match.group(0)[: match.start(1) - match.start(0)] + "***"


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
