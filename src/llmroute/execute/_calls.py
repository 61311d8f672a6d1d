"""What a caller's ``fn`` may return to each driver, and which of its exceptions are the
caller's own bugs (they propagate unchanged instead of falling over)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

__all__ = [
    "CALLER_BUGS",
    "check_async_iterable",
    "check_awaitable",
    "check_iterable",
    "check_sync",
]

#: Exceptions of the caller's own code: recorded as health-neutral, then re-raised unchanged
#: (a keyword passed twice, a typo in a name, a missing import ... is no provider's fault and
#: the next provider would fail the same way).
CALLER_BUGS: tuple[type[BaseException], ...] = (
    TypeError,
    AttributeError,
    NameError,
    ImportError,
    AssertionError,
    NotImplementedError,
)


def check_sync(made: object) -> None:
    """``execute()``'s ``fn`` must return the response itself, not an awaitable of it."""
    if inspect.isawaitable(made):
        _close(made)
        raise TypeError(
            f"fn returned {type(made).__name__}, an awaitable: execute() calls sync functions; "
            "use aexecute() for an async fn"
        )


def check_iterable(made: object) -> None:
    """``execute_stream()``'s ``fn`` must return an iterable of chunks."""
    if inspect.isawaitable(made) or (hasattr(made, "__aiter__") and not hasattr(made, "__iter__")):
        _close(made)
        raise TypeError(
            f"fn returned {type(made).__name__}, an async stream: execute_stream() reads sync "
            "iterables; use aexecute_stream() for an async fn"
        )
    _refuse_whole(made, "fn returned", "execute_stream()")
    if not hasattr(made, "__iter__"):
        raise TypeError(
            f"fn must return an iterable of chunks, got {type(made).__name__}, "
            "which cannot be iterated"
        )


def check_async_iterable(made: object) -> None:
    """What ``aexecute_stream()``'s ``fn`` returned, once awaited, must be an async iterable
    of chunks."""
    _refuse_whole(made, "fn's awaitable gave", "aexecute_stream()")
    if not hasattr(made, "__aiter__"):
        raise TypeError(
            f"fn's awaitable gave {type(made).__name__}, which is not an async iterable of "
            "chunks"
            + ("; use execute_stream() for a sync stream" if hasattr(made, "__iter__") else "")
        )


#: What a stream form is given when ``fn`` made a whole response or text instead of a stream
#: (``stream=True`` forgotten): iterating it would yield its keys, fields or characters.
_WHOLE = (str, bytes, bytearray, memoryview, Mapping, BaseModel)


def _refuse_whole(made: object, what: str, driver: str) -> None:
    if isinstance(made, _WHOLE):
        raise TypeError(
            f"{what} {type(made).__name__}, a whole response or text, not a stream; {driver} "
            "reads a stream of chunks (ask the SDK for one: stream=True)"
        )


def check_awaitable(made: object) -> None:
    """``aexecute()``'s ``fn`` must return an awaitable (an ``async def`` function's call)."""
    if not inspect.isawaitable(made):
        raise TypeError(
            f"fn returned {type(made).__name__}, which is not awaitable: aexecute() awaits "
            "async functions; use execute() for a sync fn"
        )


def _close(made: Any) -> None:
    """Close an un-awaited coroutine (no "never awaited" warning) or async generator."""
    close = getattr(made, "close", None)
    if inspect.iscoroutine(made) and close is not None:
        close()
