"""One classification of failures, read by health, cooldown and fallback.

:func:`classify_error` turns whatever a provider call raised (an ``openai`` or ``anthropic`` SDK
exception, an ``httpx`` / ``requests`` style error with a ``response``, a builtin timeout or
connection error, a cancellation, a bare HTTP status code, or just a message) into an immutable
:class:`Failure`. It reads everything by duck typing, so no SDK is imported, and it never raises.

What counts against a service's health: rate limits, auth (401/402/403), server errors
(409, 5xx, Anthropic 529 "overloaded"), timeouts (408, 504, client-side), connection errors,
NOT_FOUND (404/405/410: the model or endpoint is missing on *that* service) and UNKNOWN errors.
What never does, because it is the request's own fault: BAD_REQUEST (also a ``TypeError``,
``AttributeError``, ``NameError``, ``AssertionError``, ``ImportError`` or
``NotImplementedError`` without an HTTP status: a bug in the calling code, which no other
service would fix, and which the execute forms re-raise unchanged), CONTEXT_LENGTH (incl. 413
"request too large", which another service with a larger limit may accept), CONTENT_POLICY and
CANCELLED (``asyncio.CancelledError``, ``KeyboardInterrupt``, HTTP 499).
"""

from ._classify import classify_error
from ._kinds import Failure, FailureKind
from ._text import mask_secrets

__all__ = ["Failure", "FailureKind", "classify_error", "mask_secrets"]
