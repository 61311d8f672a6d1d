"""The results of the stream drivers: :class:`StreamResult` and :class:`AsyncStreamResult`.

A result holds the chunks read before the commit (delivered first, nothing lost), then reads
the provider's stream: inline, or (sync, ``stall_timeout``) on the stream's worker thread
with a bounded wait, or (async, ``stall_timeout``) under a timeout in the same task.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterator
from time import monotonic
from types import TracebackType
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar, cast

from ._io import NOTHING, aclose_stream, anext_or_nothing, close_stream, within
from ._loop import AttemptLoop
from ._types import Attempt, SkippedProvider
from ._worker import Expired, Worker, abandon_close

__all__ = ["AsyncStreamResult", "Opened", "StreamResult"]

T = TypeVar("T")


class Opened(NamedTuple):
    """A stream read up to its commit: what the drivers hand to a result."""

    source: object
    iterator: object
    held: list[Any]
    ended: bool
    worker: Worker | None = None


class _StreamInfo(Generic[T]):
    """What the sync and async stream results share: how the provider was chosen, and the
    bookkeeping when the stream ends."""

    __slots__ = (
        "_chunks",
        "_completed",
        "_done",
        "_hedges",
        "_iterator",
        "_loop",
        "_pending",
        "_source",
        "_stall",
        "_ttft",
        "_worker",
    )

    def __init__(
        self, loop: AttemptLoop[Any], opened: Opened, stall: float | None, hedges: int = 0
    ) -> None:
        self._ttft = loop.committed(not opened.ended)
        self._loop = loop
        self._source = opened.source
        self._iterator = opened.iterator
        self._pending: deque[Any] = deque(opened.held)
        self._worker = opened.worker
        self._stall = stall
        self._hedges = hedges
        self._chunks = 0
        self._completed = False
        self._done = False
        if opened.ended:  # it ended before committing: over already (close() still closes it)
            self._completed = True
            self._done = True
            self._stop_worker()
            loop.stream_ended(self)

    def _release(self) -> tuple[object, object]:
        """Take (iterator, source) out of the result, to close them exactly once."""
        iterator, source = self._iterator, self._source
        self._iterator = self._source = None
        return iterator, source

    def _stop_worker(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop()

    def _stalled(self) -> TimeoutError:
        stall = self._stall
        return TimeoutError(f"no chunk from provider {self.provider} for {stall:g}s")

    @property
    def provider(self) -> str:
        """The name of the provider whose stream this is."""
        return self._loop.name

    @property
    def time_to_first_chunk(self) -> float:
        """Seconds from calling the provider to the chunk that committed its stream (to its
        end when it ended before one)."""
        return self._ttft

    @property
    def attempt_num(self) -> int:
        """1-based number of the attempt that streams, counting failed attempts before it
        (a hedge that lost is not counted: see ``hedges``)."""
        return self._loop.attempt_num

    @property
    def was_terminus(self) -> bool:
        """True when the last provider of a ``fallback`` chain (the last resort) streams."""
        return self._loop.was_terminus

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The attempts that failed before the commit, in order."""
        return self._loop.attempts

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The providers skipped because they were cooling down, in order."""
        return self._loop.skipped

    @property
    def hedges(self) -> int:
        """How many extra attempts ``hedge_after`` started (0 without hedging)."""
        return self._hedges

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
        self._pending.clear()
        self._loop.stream_ended(self)

    def __repr__(self) -> str:
        state = "completed" if self._completed else "closed" if self._done else "open"
        return (
            f"{type(self).__name__}(provider={self.provider!r}, attempt_num={self.attempt_num}, "
            f"chunks_delivered={self._chunks}, {state})"
        )


class StreamResult(_StreamInfo[T]):
    """The stream :func:`execute_stream` chose: iterate it for the chunks (those before the
    commit included).

    Tells which ``provider`` streams, ``time_to_first_chunk``, ``attempt_num``,
    ``was_terminus``, the failed ``attempts`` and ``skipped`` providers, and as it goes
    ``chunks_delivered`` and ``completed``. A failure after the commit, or a gap longer than
    ``stall_timeout``, raises :class:`StreamInterruptedError`. Use it as a context manager or
    :meth:`close` it when you stop early: that closes the provider's stream (its ``close()``)
    and records the attempt (a stream dropped without closing is closed when collected).
    """

    __slots__ = ()

    def __init__(self, loop: AttemptLoop[Any], opened: Opened, stall: float | None) -> None:
        super().__init__(loop, opened, stall)
        if stall is None:  # no limit after the commit: read inline from now on
            self._stop_worker()

    def __iter__(self) -> StreamResult[T]:
        return self

    def __next__(self) -> T:
        if self._pending:
            self._chunks += 1
            return cast(T, self._pending.popleft())
        if self._done:
            raise StopIteration
        iterator = cast(Iterator[T], self._iterator)
        worker = self._worker
        try:
            if worker is None:
                chunk = next(iterator, NOTHING)
            else:
                assert self._stall is not None
                chunk = worker.run(lambda: next(iterator, NOTHING), monotonic() + self._stall)
        except BaseException as exc:
            self._done = True
            self._fail(exc)
        if chunk is NOTHING:
            self._end(completed=True)
            self._stop_worker()
            close_stream(*self._release(), self._loop.logger)
            raise StopIteration
        self._chunks += 1
        return cast(T, chunk)

    def _fail(self, exc: BaseException) -> NoReturn:
        worker, self._worker = self._worker, None
        iterator, source = self._release()
        logger = self._loop.logger
        if worker is None:
            close_stream(iterator, source, logger)
        else:
            worker.abandon(lambda: abandon_close(iterator, source, logger))
        if isinstance(exc, Expired):
            self._loop.stream_failed(self._stalled(), self._chunks)
        self._loop.stream_failed(exc, self._chunks)

    def close(self) -> None:
        """Stop: close the provider's stream and record the attempt. Idempotent."""
        iterator, source = self._release()
        self._end(completed=False)
        self._stop_worker()
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

    The same information as :class:`StreamResult`, plus ``hedges``. Use ``async with`` or
    ``await`` :meth:`aclose` when you stop early: that closes the provider's stream
    (``aclose()`` or ``close()``) and records the attempt. A stream dropped without closing is
    recorded when collected, but its provider stream is left to the event loop to finalize.
    """

    __slots__ = ()

    def __aiter__(self) -> AsyncStreamResult[T]:
        return self

    async def __anext__(self) -> T:
        if self._pending:
            self._chunks += 1
            return cast(T, self._pending.popleft())
        if self._done:
            raise StopAsyncIteration
        iterator = cast(AsyncIterator[Any], self._iterator)
        try:
            if self._stall is None:
                try:
                    chunk = await iterator.__anext__()
                except StopAsyncIteration:
                    chunk = NOTHING
            else:
                chunk, expired = await within(anext_or_nothing(iterator), self._stall)
                if expired:
                    raise self._stalled()
        except BaseException as exc:
            self._done = True
            await aclose_stream(*self._release(), self._loop.logger)
            self._loop.stream_failed(exc, self._chunks)
        if chunk is NOTHING:
            self._end(completed=True)
            await aclose_stream(*self._release(), self._loop.logger)
            raise StopAsyncIteration
        self._chunks += 1
        return cast(T, chunk)

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
