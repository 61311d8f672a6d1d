"""The kinds of failure and the immutable :class:`Failure` a classification returns."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Failure", "FailureKind"]


class FailureKind(str, Enum):
    """What kind of failure a provider call ended in; the value is a stable snake_case name.

    :attr:`counts_against_health` tells whether the kind is the service's fault (it counts
    towards ejecting the service) or the request's own (it never does).
    """

    RATE_LIMIT = "rate_limit"
    AUTH = "auth"
    SERVER = "server"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_POLICY = "content_policy"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def counts_against_health(self) -> bool:
        """False for the request-scoped kinds (bad request, context length, content policy,
        cancelled); True for every kind that says something about the service."""
        return self not in _REQUEST_SCOPED


_REQUEST_SCOPED = frozenset(
    {
        FailureKind.BAD_REQUEST,
        FailureKind.CONTEXT_LENGTH,
        FailureKind.CONTENT_POLICY,
        FailureKind.CANCELLED,
    }
)


@dataclass(frozen=True, slots=True)
class Failure:
    """The classification of one failed provider call (immutable, hashable, picklable).

    ``status_code`` is the HTTP status when one was found (4xx/5xx only), ``retry_after`` the
    server's hint in seconds (``retry-after-ms`` / ``retry-after`` headers, or the message) or
    None, ``code`` the provider's error code or type when it gave one
    (``"context_length_exceeded"``, ``"overloaded_error"``) and ``message`` a short excerpt of
    the error text with anything that looks like a key or token masked.
    """

    kind: FailureKind
    status_code: int | None = None
    retry_after: float | None = None
    code: str | None = None
    message: str = ""

    @property
    def counts_against_health(self) -> bool:
        """Whether this failure is the service's fault (see :class:`FailureKind`)."""
        return self.kind not in _REQUEST_SCOPED

    def __str__(self) -> str:
        parts = [self.kind.value]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.code:
            parts.append(self.code)
        if self.retry_after is not None:
            parts.append(f"retry after {self.retry_after:g}s")
        head = ", ".join(parts)
        return f"{head}: {self.message}" if self.message else head
