"""Classifying what a provider call raised into a :class:`Failure`: by HTTP status, provider
error code, exception type and, last, the message text."""

from __future__ import annotations

import asyncio
import re

from ._kinds import Failure, FailureKind
from ._text import clean, get_attr, message_of, retry_after_of, retry_in_text

__all__ = ["classify_error"]


_K = FailureKind

_STATUS_KINDS: dict[int, FailureKind] = {
    400: _K.BAD_REQUEST,
    401: _K.AUTH,
    402: _K.AUTH,  # payment required: the account, not the request
    403: _K.AUTH,
    404: _K.NOT_FOUND,
    405: _K.NOT_FOUND,  # wrong endpoint: the service's configuration
    408: _K.TIMEOUT,
    409: _K.SERVER,
    410: _K.NOT_FOUND,
    413: _K.CONTEXT_LENGTH,
    422: _K.BAD_REQUEST,
    429: _K.RATE_LIMIT,
    499: _K.CANCELLED,  # client closed request
    504: _K.TIMEOUT,
    524: _K.TIMEOUT,  # a proxy timed out waiting for the origin
}

# Statuses whose kind the provider's code or message may refine (a 400 can be a context-length
# error, a content-policy refusal, a missing model or an exhausted credit balance).
_REFINABLE = frozenset({400, 413, 422})
_REFINED_KINDS = frozenset({_K.CONTEXT_LENGTH, _K.CONTENT_POLICY, _K.NOT_FOUND, _K.AUTH})

_CODE_KINDS: dict[str, FailureKind] = {
    # OpenAI codes and Anthropic error types (compared lower-case)
    "context_length_exceeded": _K.CONTEXT_LENGTH,
    "model_max_prompt_tokens_exceeded": _K.CONTEXT_LENGTH,
    "prompt_too_long": _K.CONTEXT_LENGTH,
    "request_too_large": _K.CONTEXT_LENGTH,
    "content_policy_violation": _K.CONTENT_POLICY,
    "content_filter": _K.CONTENT_POLICY,
    "content_filtered": _K.CONTENT_POLICY,
    "moderation_blocked": _K.CONTENT_POLICY,
    "responsibleaipolicyviolation": _K.CONTENT_POLICY,
    "model_not_found": _K.NOT_FOUND,
    "deployment_not_found": _K.NOT_FOUND,
    "deploymentnotfound": _K.NOT_FOUND,
    "not_found_error": _K.NOT_FOUND,
    "rate_limit_exceeded": _K.RATE_LIMIT,
    "rate_limit_error": _K.RATE_LIMIT,
    "insufficient_quota": _K.RATE_LIMIT,
    "invalid_api_key": _K.AUTH,
    "authentication_error": _K.AUTH,
    "permission_error": _K.AUTH,
    "billing_error": _K.AUTH,
    "account_deactivated": _K.AUTH,
    "overloaded_error": _K.SERVER,
    "api_error": _K.SERVER,
    "server_error": _K.SERVER,
    "internal_error": _K.SERVER,
    "service_unavailable": _K.SERVER,
    "timeout_error": _K.TIMEOUT,
    "invalid_request_error": _K.BAD_REQUEST,
}

_CONTEXT_RE = re.compile(
    r"context[ _-]?(?:length|window|limit)|maximum context|prompt is too long|prompt too long"
    r"|input is too long|too many (?:input |prompt )?tokens|reduce the length"
    r"|exceeds? the (?:model'?s? )?max(?:imum)? (?:context|input|prompt|number of tokens)"
    r"|request[ _]too[ _]large|max_tokens.? exceed"
)
_CONTENT_RE = re.compile(
    r"content[ _-]?(?:policy|filter|management|moderation)|safety system|usage polic"
    r"|responsible ?ai|flagged (?:by|as)"
)
_BILLING_RE = re.compile(r"credit balance|billing|payment required")
# Ordered: the first match wins (after context length and content policy, tried first).
_TEXT_RULES: tuple[tuple[re.Pattern[str], FailureKind], ...] = (
    (re.compile(r"rate[ _-]?limit|too many requests|quota|tokens per min"), _K.RATE_LIMIT),
    (
        re.compile(
            r"unauthori[sz]ed|forbidden|permission denied|authentication"
            r"|invalid (?:api|x-api)[ _-]?key"
        ),
        _K.AUTH,
    ),
    (re.compile(r"timed? ?out|timeout|deadline exceeded"), _K.TIMEOUT),
    (re.compile(r"connection|connect |network|unreachable|name resolution"), _K.CONNECTION),
    (re.compile(r"not found|does not exist|no such model"), _K.NOT_FOUND),
    (
        re.compile(r"internal server|server error|service unavailable|bad gateway|overloaded"),
        _K.SERVER,
    ),
    (re.compile(r"bad request|invalid request|invalid argument"), _K.BAD_REQUEST),
)
_STATUS_IN_TEXT_RE = re.compile(
    r"(?:error code|status(?: code)?|http(?:/\d(?:\.\d)?)?)\W{0,3}([45]\d\d)\b|^\s*([45]\d\d)\b"
)
_CANCELLATIONS = (asyncio.CancelledError, KeyboardInterrupt, SystemExit, GeneratorExit)
_TYPE_KINDS: dict[type, FailureKind | None] = {}
_TYPE_CACHE_LIMIT = 1024


def classify_error(error: object, *, now: float | None = None) -> Failure:
    """Classify what a provider call raised (or an HTTP status code) into a :class:`Failure`.

    Reads, in order: cancellations (``asyncio.CancelledError``, ``KeyboardInterrupt``); an HTTP
    status from ``status_code``, ``status`` or an integer ``code`` on the error or its
    ``response``; the provider's error code/type from ``code``, ``type`` and ``body``; the
    exception type (timeouts, connection errors); and last the message text. A :class:`Failure`
    is returned as is. ``now`` (clock seconds) is only needed to turn an HTTP-date
    ``Retry-After`` into seconds; it defaults to the system clock. Never raises: anything it
    cannot read is UNKNOWN.
    """
    if isinstance(error, Failure):
        return error
    if isinstance(error, FailureKind):
        return Failure(error)
    try:
        return _classify(error, now)
    except Exception:
        return Failure(_K.UNKNOWN, message=f"unclassifiable {type(error).__name__}")


def _classify(error: object, now: float | None) -> Failure:
    if isinstance(error, int):
        if isinstance(error, bool):
            return Failure(_K.UNKNOWN, message=f"not an error: {error!r}")
        by_status = _status_kind(error) if error >= 400 else None
        status = error if by_status is not None else None
        return Failure(by_status or _K.UNKNOWN, status_code=status, message=f"HTTP status {error}")
    if isinstance(error, str):
        return _from_text(error, None, None)
    if error is None:
        return Failure(_K.UNKNOWN, message="no error given")
    if isinstance(error, _CANCELLATIONS):
        return Failure(_K.CANCELLED, message=clean(message_of(error)))

    response = get_attr(error, "response")
    status = _status_of(error)
    if status is None and response is not None:
        status = _status_of(response)
    codes = _codes_of(error)
    code = codes[0] if codes else None
    message = message_of(error)

    kind: FailureKind | None
    if status is not None and status >= 400:
        kind = _status_kind(status) or _K.BAD_REQUEST
        if status in _REFINABLE:
            kind = _refine(codes, message, response) or kind
    else:  # no status, or a 2xx/3xx one (an error event inside a streamed 200 response)
        status = None
        kind = _code_kind(codes)
        if kind is _K.BAD_REQUEST:
            kind = _refine(codes, message, None) or kind
        if kind is None:
            kind = _type_kind(type(error))
        if kind is None:
            return _from_text(message, code, retry_after_of(error, now))

    retry_after = retry_after_of(error, now)
    if retry_after is None and kind is _K.RATE_LIMIT:
        retry_after = retry_in_text(message)
    return Failure(kind, status, retry_after, code, clean(message))


def _status_kind(status: int) -> FailureKind | None:
    kind = _STATUS_KINDS.get(status)
    if kind is not None:
        return kind
    if 500 <= status <= 599:
        return _K.SERVER
    if 400 <= status <= 499:
        return _K.BAD_REQUEST
    return None


def _as_status(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 100 <= value <= 599 else None
    if isinstance(value, str) and len(value) == 3 and value.isdigit():
        return int(value)
    return None


def _status_of(obj: object) -> int | None:
    for attr in ("status_code", "status", "code"):
        status = _as_status(get_attr(obj, attr))
        if status is not None:
            return status
    return None


def _codes_of(error: object) -> tuple[str, ...]:
    """Provider error codes/types found on the error or its body, lower-cased, best first."""
    found: list[str] = []
    for attr in ("code", "error_code", "type"):
        value = get_attr(error, attr)
        if isinstance(value, str) and value:
            found.append(value.lower())
    body = get_attr(error, "body")
    if isinstance(body, dict):
        inner = body.get("error")
        for source in (inner, body) if isinstance(inner, dict) else (body,):
            for key in ("code", "type"):
                value = source.get(key)
                if isinstance(value, str) and value and value != "error":
                    found.append(value.lower())
    return tuple(dict.fromkeys(found))


def _code_kind(codes: tuple[str, ...]) -> FailureKind | None:
    for code in codes:
        kind = _CODE_KINDS.get(code)
        if kind is not None:
            return kind
    return None


def _refine(codes: tuple[str, ...], message: str, response: object) -> FailureKind | None:
    """The specific kind behind a 400/413/422, from codes first, then the text."""
    for code in codes:
        kind = _CODE_KINDS.get(code)
        if kind in _REFINED_KINDS:
            return kind
    text = message.lower()
    kind = _text_refinement(text)
    if kind is None and response is not None:
        body = get_attr(response, "text")  # requests / httpx style; an unread httpx body raises
        if isinstance(body, str) and body:
            kind = _text_refinement(body[:2000].lower())
    return kind


def _text_refinement(text: str) -> FailureKind | None:
    if _CONTEXT_RE.search(text):
        return _K.CONTEXT_LENGTH
    if _CONTENT_RE.search(text):
        return _K.CONTENT_POLICY
    if _BILLING_RE.search(text):
        return _K.AUTH
    return None


# Exceptions that mean the calling code (or the arguments it built) is wrong, not a service:
# they are BAD_REQUEST, so they neither eject a healthy service nor fail over to the next one.
_CALLER_BUGS = (
    TypeError,
    AttributeError,
    NameError,
    AssertionError,
    ImportError,
    NotImplementedError,
)


def _type_kind(cls: type) -> FailureKind | None:
    """Kind implied by the exception type (builtin or by name), cached per type."""
    try:
        return _TYPE_KINDS[cls]
    except KeyError:
        pass
    kind: FailureKind | None = None
    if issubclass(cls, (TimeoutError, asyncio.TimeoutError)):
        kind = _K.TIMEOUT
    elif issubclass(cls, ConnectionError):
        kind = _K.CONNECTION
    elif issubclass(cls, _CALLER_BUGS):
        kind = _K.BAD_REQUEST  # a bug in the calling code: no provider is to blame
    else:
        for base in cls.__mro__:
            name = base.__name__.lower()
            if "cancel" in name:
                kind = _K.CANCELLED
            elif "timeout" in name:
                kind = _K.TIMEOUT
            elif "contentfilter" in name:
                kind = _K.CONTENT_POLICY
            elif "lengthfinishreason" in name:
                kind = _K.BAD_REQUEST
            elif any(word in name for word in ("connect", "network", "transport", "protocolerr")):
                kind = _K.CONNECTION
            if kind is not None:
                break
        if kind is None and issubclass(cls, OSError):
            kind = _K.CONNECTION  # socket.gaierror, ssl.SSLError, ...
    if len(_TYPE_KINDS) < _TYPE_CACHE_LIMIT:
        _TYPE_KINDS[cls] = kind
    return kind


def _from_text(text: str, code: str | None, retry_after: float | None) -> Failure:
    lowered = text[:2000].lower()
    status: int | None = None
    kind: FailureKind | None = None
    match = _STATUS_IN_TEXT_RE.search(lowered)
    if match:
        status = int(match.group(1) or match.group(2))
        kind = _status_kind(status)
        if status in _REFINABLE:
            kind = _text_refinement(lowered) or kind
    if kind is None:
        status = None
        kind = _text_refinement(lowered) or next(
            (k for pattern, k in _TEXT_RULES if pattern.search(lowered)), _K.UNKNOWN
        )
    if retry_after is None and kind is _K.RATE_LIMIT:
        retry_after = retry_in_text(lowered)
    return Failure(kind, status, retry_after, code, clean(text))
