"""The I/O helpers of the stream drivers: opening a stream up to the chunk that commits it,
bounding a wait by a timeout in the same task, and closing streams quietly."""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar, cast

from ._calls import check_async_iterable, check_iterable

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")

#: "No chunk": the stream ended before its first one.
NOTHING: Any = object()


async def open_stream(
    fn: Callable[[P], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    provider: P,
    opened: list[Any],
    commits: Callable[[Any], bool],
) -> tuple[list[Any], bool]:
    """Call ``fn``, start its stream and read it up to the chunk that ``commits`` it: (the
    chunks read, that one included; whether the stream ended first).

    Appends the stream and its iterator to ``opened`` as soon as they exist, so whoever
    interrupts this can close them.
    """
    source = await async_iterable(fn(provider))
    opened.append(source)
    iterator = cast(AsyncIterable[T], source).__aiter__()
    opened.append(iterator)
    held: list[Any] = []
    while True:
        try:
            chunk = await iterator.__anext__()
        except StopAsyncIteration:
            return held, True
        held.append(chunk)
        if commits(chunk):
            return held, False


def open_sync(
    fn: Callable[[P], Iterable[T]],
    provider: P,
    opened: list[Any],
    commits: Callable[[Any], bool],
) -> tuple[list[Any], bool]:
    """:func:`open_stream` for a sync ``fn`` that returns an iterable of chunks."""
    source = fn(provider)
    opened.append(source)
    check_iterable(source)
    iterator = iter(source)
    opened.append(iterator)
    held: list[Any] = []
    for chunk in iterator:
        held.append(chunk)
        if commits(chunk):
            return held, False
    return held, True


async def anext_or_nothing(iterator: Any) -> Any:
    """The next chunk of an async iterator, ``NOTHING`` at its end."""
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return NOTHING


async def async_iterable(made: object) -> Any:
    """What a stream's ``fn`` returned, as the async iterable it is or awaits to."""
    if hasattr(made, "__aiter__"):
        return made
    if inspect.isawaitable(made):
        source = await made
        check_async_iterable(source)
        return source
    raise TypeError(
        f"fn must return an async iterable or an awaitable of one, got {type(made).__name__}"
        + ("; use execute_stream() for a sync fn" if hasattr(made, "__iter__") else "")
    )


def opened_pair(opened: list[Any]) -> tuple[Any, Any]:
    """(iterator, source) from what :func:`open_stream` got to open; None for what it did not."""
    return (opened[1] if len(opened) > 1 else None, opened[0] if opened else None)


if sys.version_info >= (3, 11):

    async def within(coro: Coroutine[Any, Any, R], seconds: float) -> tuple[Any, bool]:
        """Await ``coro`` for at most ``seconds``: (result, False), or (None, True) when the
        time ran out (``coro`` was cancelled, in this same task)."""
        scope = asyncio.timeout(seconds)
        try:
            async with scope:
                return await coro, False
        except TimeoutError:
            if scope.expired():
                return None, True
            raise

else:  # pragma: no cover - Python 3.10

    async def within(coro: Coroutine[Any, Any, R], seconds: float) -> tuple[Any, bool]:
        """Await ``coro`` for at most ``seconds``: (result, False), or (None, True) when the
        time ran out (``coro`` was cancelled, in this same task)."""
        task = asyncio.current_task()
        assert task is not None
        fired: list[bool] = []

        def expire() -> None:
            fired.append(True)
            task.cancel()

        handle = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            return await coro, False
        except asyncio.CancelledError:
            if fired:
                return None, True
            raise
        finally:
            handle.cancel()


async def await_within(made: Awaitable[R], left: float | None, name: str) -> R:
    """``made`` awaited within ``left`` seconds, what is left of the call's deadline (None: no
    deadline); ``TimeoutError`` naming the provider ``name`` when they run out."""
    if left is None:
        return await made
    response, expired = await within(_awaited(made), left)
    if expired:
        raise TimeoutError(f"the deadline ran out while {name} was called")
    return cast(R, response)


async def _awaited(made: Awaitable[R]) -> R:
    return await made


def close_stream(iterator: object, source: object, logger: logging.Logger) -> None:
    """Close a stream's iterator, then its source when that is another object; errors are
    logged at DEBUG and dropped (this runs on failure and clean-up paths)."""
    for obj in (iterator,) if source is iterator else (iterator, source):
        close = getattr(obj, "close", None) if obj is not None else None
        if close is None:
            continue
        try:
            close()
        except Exception as exc:
            logger.debug("llmroute: closing a stream raised %s", type(exc).__name__)


async def aclose_stream(iterator: object, source: object, logger: logging.Logger) -> None:
    """:func:`close_stream` for async streams: ``aclose()`` or ``close()``, awaited if need be."""
    for obj in (iterator,) if source is iterator else (iterator, source):
        if obj is None:
            continue
        close = getattr(obj, "aclose", None) or getattr(obj, "close", None)
        if close is None:
            continue
        try:
            result = close()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            logger.debug("llmroute: closing a stream raised %s", type(exc).__name__)
