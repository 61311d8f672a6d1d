"""The log records of ``execute()``: one per failed attempt (INFO), per skip and per
cancellation (DEBUG), per failed bookkeeping callback (ERROR), with structured ``extra``
fields. They carry the failure's kind, status, code and type, never its message (which may
quote the request) nor any secret."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import describe_failure
from ..failures import Failure

#: The logger ``execute()`` uses when given none.
default_logger = logging.getLogger("llmroute.execute")


def log_failure(
    logger: logging.Logger,
    name: str,
    error: BaseException,
    failure: Failure,
    latency: float,
    action: str,
    cooling: bool,
    attempt: int,
    fallback: bool,
    wait: float = 0.0,
) -> None:
    """A failed attempt; ``action`` is ``fallback``, ``retry`` (after ``wait`` seconds),
    ``stop`` (fallback_on said no), ``give_up`` (nothing left to try, or a strategy without
    fallback), ``deadline`` or ``budget`` (a limit stopped the call)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    if action == "fallback":
        then = "falling back"
    elif action == "retry":
        then = f"retrying in {wait:.2f}s"
    elif action in ("deadline", "budget"):
        then = "the deadline ran out" if action == "deadline" else "the retry budget is spent"
    elif action == "stop":
        then = f"not falling back on {failure.kind.value}"
    else:
        then = "no provider left" if fallback else "no fallback"
    logger.info(
        "llmroute: provider %s failed: %s%s; %s",
        name,
        describe_failure(failure),
        ", now cooling down" if cooling else "",
        then,
        extra=_fields("attempt_failed", name, error, failure, latency, action, cooling)
        | {"attempt": attempt, "wait_seconds": wait},
    )


def log_interrupted(
    logger: logging.Logger,
    name: str,
    error: BaseException,
    failure: Failure,
    latency: float,
    chunks: int,
    cooling: bool,
) -> None:
    """A committed stream that broke after ``chunks`` chunks."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(
            "llmroute: stream from provider %s broke after %d chunk(s): %s",
            name,
            chunks,
            describe_failure(failure),
            extra=_fields("stream_interrupted", name, error, failure, latency, "raise", cooling)
            | {"chunks_delivered": chunks},
        )


def log_skip(logger: logging.Logger, name: str, remaining: float) -> None:
    """A provider passed over because it is cooling down."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "llmroute: provider %s skipped, cooling down for %.1fs",
            name,
            remaining,
            extra={"event": "provider_skipped", "provider": name, "cooldown_remaining": remaining},
        )


def log_cancelled(logger: logging.Logger, name: str, error: BaseException) -> None:
    """A call that was cancelled (nothing is recorded against the provider)."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "llmroute: call of provider %s cancelled (%s)",
            name,
            type(error).__name__,
            extra={"event": "attempt_cancelled", "provider": name},
        )


def log_bookkeeping_failed(logger: logging.Logger, callback: str, name: str) -> None:
    """A hook or cooldown-tracker callback raised (call it from the ``except`` block): one
    ERROR record with the traceback; the call itself goes on as if it had not raised."""
    logger.error(
        "llmroute: %s for provider %s raised; ignored, the call goes on",
        callback,
        name,
        exc_info=True,
        extra={"event": "bookkeeping_failed", "provider": name, "callback": callback},
    )


def _fields(
    event: str,
    name: str,
    error: BaseException,
    failure: Failure,
    latency: float,
    action: str,
    cooling: bool,
) -> dict[str, Any]:
    return {
        "event": event,
        "provider": name,
        "failure_kind": failure.kind.value,
        "status_code": failure.status_code,
        "error_code": failure.code,
        "error_type": type(error).__name__,
        "retry_after": failure.retry_after,
        "latency_seconds": latency,
        "action": action,
        "cooldown_started": cooling,
    }
