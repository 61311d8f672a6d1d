"""What the selector's execute forms return: the call's result in the selector's terms.

Plain :func:`llmroute.execute` speaks the names you gave it; a selector-driven call speaks
services. :class:`RoutedResult` and the two stream forms carry the serving ``service`` (a
:class:`Service`), its ``provider`` (a :class:`Provider` or None) and the ``selection``,
the same types as on :class:`SelectionResult`, beside what the attempt loop reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Generic, TypeVar

from ..config import Provider, Service, ServiceID
from ..execute import AsyncStreamResult, Attempt, ExecuteResult, SkippedProvider, StreamResult
from ._result import SelectionResult

__all__ = ["RoutedAsyncStream", "RoutedResult", "RoutedStream"]

# The writes scheduled for streams dropped without closing, held until they are done.
_LATE_WRITES: set[asyncio.Task[None]] = set()


async def _run(flush: Callable[[], Awaitable[None]]) -> None:
    await flush()


T = TypeVar("T")
Pair = tuple[Service, Provider | None]


class _Routed:
    """The selector's side of a result: which service served, its provider, the selection."""

    __slots__ = ("provider", "selection", "service")

    def __init__(self, selection: SelectionResult, name: str) -> None:
        self.selection = selection
        self.service, self.provider = selection.plan.pair(name)

    @property
    def service_id(self) -> ServiceID:
        """The serving service's id."""
        return self.service.service_id


class RoutedResult(_Routed, Generic[T]):
    """The result of ``selector.execute`` / ``aexecute``: ``response`` (what your ``fn``
    returned), ``service`` / ``provider`` (which served it), ``selection`` (the
    :class:`SelectionResult`), and the attempt loop's ``latency``, ``attempt_num``,
    ``was_terminus``, ``attempts``, ``skipped`` and ``hedges``; ``cost``: the serving
    attempt's cost at the catalog's prices (None when its prices or usage are unknown).
    Read-only."""

    __slots__ = ("_cost", "_result")

    def __init__(
        self, result: ExecuteResult[T], selection: SelectionResult, cost: float | None = None
    ) -> None:
        super().__init__(selection, result.provider)
        self._result = result
        self._cost = cost

    @property
    def cost(self) -> float | None:
        """The serving attempt's cost (the failed attempts reported no usage)."""
        return self._cost

    @property
    def response(self) -> T:
        """What your ``fn`` returned."""
        return self._result.response

    @property
    def latency(self) -> float:
        """Seconds the successful call took."""
        return self._result.latency

    @property
    def attempt_num(self) -> int:
        """1-based number of the successful attempt."""
        return self._result.attempt_num

    @property
    def was_terminus(self) -> bool:
        """True when the last fallback (the last resort) served."""
        return self._result.was_terminus

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The failed attempts before the successful one (named by service id)."""
        return self._result.attempts

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The fallbacks passed over as unhealthy."""
        return self._result.skipped

    @property
    def hedges(self) -> int:
        """How many extra calls ``hedge_after`` started (0 without hedging)."""
        return self._result.hedges

    def __repr__(self) -> str:
        return (
            f"RoutedResult(service={self.service_id!r}, attempt_num={self.attempt_num}, "
            f"source={self.selection.source!r})"
        )


class _RoutedStreamInfo(_Routed, Generic[T]):
    __slots__ = ("_stream",)

    def __init__(
        self,
        stream: StreamResult[T] | AsyncStreamResult[T],
        selection: SelectionResult,
    ) -> None:
        super().__init__(selection, stream.provider)
        self._stream = stream

    @property
    def time_to_first_chunk(self) -> float:
        """Seconds from calling the service to its first chunk."""
        return self._stream.time_to_first_chunk

    @property
    def attempt_num(self) -> int:
        """1-based number of the attempt that streams."""
        return self._stream.attempt_num

    @property
    def was_terminus(self) -> bool:
        """True when the last fallback (the last resort) streams."""
        return self._stream.was_terminus

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """The attempts that failed before the first chunk."""
        return self._stream.attempts

    @property
    def skipped(self) -> tuple[SkippedProvider, ...]:
        """The fallbacks passed over as unhealthy."""
        return self._stream.skipped

    @property
    def hedges(self) -> int:
        """How many extra attempts ``hedge_after`` started (0 without; always 0 when sync)."""
        return self._stream.hedges

    @property
    def chunks_delivered(self) -> int:
        """How many chunks you have received so far."""
        return self._stream.chunks_delivered

    @property
    def completed(self) -> bool:
        """True once the service's stream ran to its end."""
        return self._stream.completed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(service={self.service_id!r}, {self._stream!r})"


class RoutedStream(_RoutedStreamInfo[T]):
    """The stream of ``selector.execute_stream``: iterate it for the chunks; the selector's
    ``service`` / ``provider`` / ``selection`` beside the stream's own figures. Close it (or
    use it as a context manager) when you stop early."""

    __slots__ = ()

    _stream: StreamResult[T]

    def __iter__(self) -> RoutedStream[T]:
        return self

    def __next__(self) -> T:
        return self._stream.__next__()

    def close(self) -> None:
        """Close the service's stream and record the attempt."""
        self._stream.close()

    def __enter__(self) -> RoutedStream[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stream.close()


class RoutedAsyncStream(_RoutedStreamInfo[T]):
    """The stream of ``selector.aexecute_stream``: ``async for`` it; ``aclose()`` (or
    ``async with``) when you stop early. The attempt's outcome is written (awaited) when the
    stream ends, fails or is closed."""

    __slots__ = ("_flush",)

    _stream: AsyncStreamResult[T]

    def __init__(
        self,
        stream: AsyncStreamResult[T],
        selection: SelectionResult,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        super().__init__(stream, selection)
        self._flush = flush

    def __aiter__(self) -> RoutedAsyncStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._stream.__anext__()
        except BaseException:  # the end, a broken stream or a cancellation: write the outcome
            await self._flush()
            raise

    async def aclose(self) -> None:
        """Close the service's stream and write the attempt's outcome."""
        try:
            await self._stream.aclose()
        finally:
            await self._flush()

    def __del__(self) -> None:
        # Dropped without closing: the stream closes itself when collected (just after this),
        # so schedule the write of its outcome on the running loop, if there is one.
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(_run(self._flush))
        _LATE_WRITES.add(task)
        task.add_done_callback(_LATE_WRITES.discard)

    async def __aenter__(self) -> RoutedAsyncStream[T]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stream.aclose()
