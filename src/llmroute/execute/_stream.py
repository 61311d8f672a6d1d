"""``execute_stream()`` and ``aexecute_stream()``: fallback for streamed responses.

A stream fails over only until its first chunk: the drivers fetch that chunk before they
return, so a provider that errors, ends the call, or (async) stays silent for
``first_chunk_timeout`` is replaced by the next. From the first chunk on, the stream is
committed; a later error raises :class:`StreamInterruptedError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
)
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

from typing_extensions import Unpack

from ..typing import CooldownTracker
from ._calls import check_iterable
from ._io import (
    NOTHING,
    aclose_stream,
    check_timeout,
    close_stream,
    open_stream,
    opened_pair,
    within,
)
from ._limits import apause, pause
from ._loop import AttemptLoop
from ._options import AsyncRetryArgs, ExecuteOptions, SyncRetryArgs
from ._types import Attempt, ExecuteHooks, RoundRobinCounter, SkippedProvider, Strategy

__all__ = ["AsyncStreamResult", "StreamResult", "aexecute_stream", "execute_stream"]

T = TypeVar("T")
P = TypeVar("P")


class _StreamInfo(Generic[T]):
    """What the sync and async stream results share: how the provider was chosen, and the
    bookkeeping when the stream ends."""

    __slots__ = (
        "_chunks",
        "_completed",
        "_done",
        "_iterator",
        "_loop",
        "_pending",
        "_source",
        "_ttft",
    )

    def __init__(
        self, loop: AttemptLoop[Any], source: object, iterator: object, first: object
    ) -> None:
        self._ttft = loop.committed(first is not NOTHING)
        self._loop = loop
        self._source = source
        self._iterator = iterator
        self._pending = first
        self._chunks = 0
        self._completed = False
        self._done = False
        if first is NOTHING:  # an empty stream: it is over already (close() still closes it)
            self._completed = True
            self._done = True
            loop.stream_ended(self)

    def _release(self) -> tuple[object, object]:
        """Take (iterator, source) out of the result, to close them exactly once."""
        iterator, source = self._iterator, self._source
        self._iterator = self._source = None
        return iterator, source

    @property
    def provider(self) -> str:
        """The name of the provider whose stream this is."""
        return self._loop.name

    @property
    def time_to_first_chunk(self) -> float:
        """Seconds from calling the provider to its first chunk (to its end when empty)."""
        return self._ttft

    @property
    def attempt_num(self) -> int:
        """1-based number of the attempt that streams, counting only providers called."""
        return self._loop.attempt_num

    @property
    def was_terminus(self) -> bool:
        """True when the last provider of a ``fallback`` chain (the last resort) streams."""
        return self._loop.was_terminus

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The attempts that failed before the first chunk, in order."""
        return self._loop.attempts

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The providers skipped because they were cooling down, in order."""
        return self._loop.skipped

    @property
    def chunks_delivered(self) -> int:
        """How many chunks you have received so far."""
        return self._chunks

    @property
    def completed(self) -> bool:
        """True once the provider's stream ran to its end (not when closed early)."""
        return self._completed

    def _end(self, completed: bool) -> None:
        if self._done:
            return
        self._done = True
        self._completed = completed
        self._pending = NOTHING
        self._loop.stream_ended(self)

    def __repr__(self) -> str:
        state = "completed" if self._completed else "closed" if self._done else "open"
        return (
            f"{type(self).__name__}(provider={self.provider!r}, attempt_num={self.attempt_num}, "
            f"chunks_delivered={self._chunks}, {state})"
        )


class StreamResult(_StreamInfo[T]):
    """The stream :func:`execute_stream` chose: iterate it for the chunks (the first included).

    Tells which ``provider`` streams, ``time_to_first_chunk``, ``attempt_num``,
    ``was_terminus``, the failed ``attempts`` and ``skipped`` providers, and as it goes
    ``chunks_delivered`` and ``completed``. A failure after the first chunk raises
    :class:`StreamInterruptedError`. Use it as a context manager or :meth:`close` it when you
    stop early: that closes the provider's stream (its ``close()``) and records the attempt
    (a stream dropped without closing is closed when collected).
    """

    __slots__ = ()

    def __iter__(self) -> StreamResult[T]:
        return self

    def __next__(self) -> T:
        pending = self._pending
        if pending is not NOTHING:
            self._pending = NOTHING
            self._chunks += 1
            return cast(T, pending)
        if self._done:
            raise StopIteration
        try:
            chunk = cast(Iterator[T], self._iterator).__next__()
        except StopIteration:
            self._end(completed=True)
            close_stream(*self._release(), self._loop.logger)
            raise
        except BaseException as exc:
            self._done = True
            close_stream(*self._release(), self._loop.logger)
            self._loop.stream_failed(exc, self._chunks)
        self._chunks += 1
        return chunk

    def close(self) -> None:
        """Stop: close the provider's stream and record the attempt. Idempotent."""
        iterator, source = self._release()
        self._end(completed=False)
        if iterator is not None or source is not None:
            close_stream(iterator, source, self._loop.logger)

    def __enter__(self) -> StreamResult[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class AsyncStreamResult(_StreamInfo[T]):
    """The stream :func:`aexecute_stream` chose: ``async for`` it for the chunks.

    The same information as :class:`StreamResult`. Use ``async with`` or ``await``
    :meth:`aclose` when you stop early: that closes the provider's stream (``aclose()`` or
    ``close()``) and records the attempt. A stream dropped without closing is recorded when
    collected, but its provider stream is left to the event loop to finalize.
    """

    __slots__ = ()

    def __aiter__(self) -> AsyncStreamResult[T]:
        return self

    async def __anext__(self) -> T:
        pending = self._pending
        if pending is not NOTHING:
            self._pending = NOTHING
            self._chunks += 1
            return cast(T, pending)
        if self._done:
            raise StopAsyncIteration
        try:
            chunk = await cast(AsyncIterator[T], self._iterator).__anext__()
        except StopAsyncIteration:
            self._end(completed=True)
            await aclose_stream(*self._release(), self._loop.logger)
            raise
        except BaseException as exc:
            self._done = True
            await aclose_stream(*self._release(), self._loop.logger)
            self._loop.stream_failed(exc, self._chunks)
        self._chunks += 1
        return chunk

    async def aclose(self) -> None:
        """Stop: close the provider's stream and record the attempt. Idempotent."""
        iterator, source = self._release()
        self._end(completed=False)
        if iterator is not None or source is not None:
            await aclose_stream(iterator, source, self._loop.logger)

    async def __aenter__(self) -> AsyncStreamResult[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._end(completed=False)


def execute_stream(
    providers: Iterable[P],
    fn: Callable[[P], Iterable[T]],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    **retrying: Unpack[SyncRetryArgs],
) -> StreamResult[T]:
    """:func:`execute` for a streamed call: ``fn(provider)`` returns an iterable of chunks.

    Fails over (with the same strategies, cooldown and ``fallback_on`` as :func:`execute`)
    while the call, or fetching the first chunk, raises. Returns once the first chunk is in,
    as a :class:`StreamResult` that yields it and the rest; a later error raises
    :class:`StreamInterruptedError` (recorded against the provider, no fail-over). A stream
    that ends without any chunk counts as a success. There is no first-chunk timeout in the
    sync form: set your SDK's read timeout. The attempt ends, for the tracker and ``hooks``,
    when the stream is exhausted, closed, or fails. ``retry``, ``deadline``, ``budget`` and
    ``sleep`` bound the attempts before the first chunk as in :func:`execute`.
    """
    options = ExecuteOptions.build(
        strategy=strategy,
        cooldown=cooldown,
        exempt=exempt,
        counter=counter,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        key=key,
        **retrying,
    )
    loop = AttemptLoop(providers, options)
    while True:
        provider = loop.start_next()
        source: Any = None
        iterator: Iterator[T] | None = None
        try:
            source = fn(provider)
            check_iterable(source)
            iterator = iter(source)
            first = next(iterator, NOTHING)
        except BaseException as exc:
            close_stream(iterator, source, loop.logger)
            wait = loop.failed(exc)
            if wait > 0:
                pause(loop, wait)
        else:
            return StreamResult(loop, source, iterator, first)


async def aexecute_stream(
    providers: Iterable[P],
    fn: Callable[[P], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
    *,
    strategy: Strategy | str = "fallback",
    cooldown: CooldownTracker | None = None,
    exempt: Collection[Any] = (),
    counter: RoundRobinCounter | None = None,
    fallback_on: Callable[[BaseException], bool] | None = None,
    logger: logging.Logger | None = None,
    hooks: ExecuteHooks[P] | None = None,
    key: Callable[[P], str] | None = None,
    first_chunk_timeout: float | None = None,
    **retrying: Unpack[AsyncRetryArgs],
) -> AsyncStreamResult[T]:
    """:func:`execute_stream` for async streams: ``fn(provider)`` returns an async iterable
    (an async generator) or an awaitable of one (``client.chat.completions.create(...,
    stream=True)`` of an async SDK client).

    ``first_chunk_timeout`` (seconds, None for no limit) bounds the call plus the wait for
    its first chunk; a provider that stays silent that long is abandoned (its stream closed,
    a ``TimeoutError`` recorded) and the next one tried. Returns an
    :class:`AsyncStreamResult` to ``async for``. A ``deadline`` cuts that timeout to the
    time left; the waits go through ``asleep``.
    """
    timeout = check_timeout(first_chunk_timeout)
    options = ExecuteOptions.build(
        strategy=strategy,
        cooldown=cooldown,
        exempt=exempt,
        counter=counter,
        fallback_on=fallback_on,
        logger=logger,
        hooks=hooks,
        key=key,
        **retrying,
    )
    loop = AttemptLoop(providers, options)
    while True:
        provider = loop.start_next()
        opened: list[Any] = []
        limit = _sooner(timeout, loop.time_left())
        try:
            if limit is None:
                first = await open_stream(fn, provider, opened)
            else:
                first, expired = await within(open_stream(fn, provider, opened), limit)
                if expired:
                    name = loop.name
                    raise TimeoutError(f"no chunk from provider {name} within {limit:g}s")
        except BaseException as exc:
            await aclose_stream(*opened_pair(opened), loop.logger)
            wait = loop.failed(exc)
            if wait > 0:
                await apause(loop, wait)
        else:
            iterator, source = opened_pair(opened)
            return AsyncStreamResult(loop, source, iterator, first)


def _sooner(timeout: float | None, left: float | None) -> float | None:
    """The first-chunk timeout, cut to the time left before the deadline."""
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)
