"""``selector.execute()`` and friends: select, then run your call over the chosen service and
its fallbacks, recording every attempt into stats, health and affinity."""

from __future__ import annotations

import logging
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from ._health_view import CooldownTracker
from .affinity import SessionID
from .config import Provider, Rule, Service
from .execute import (
    AsyncStreamResult,
    ExecuteHooks,
    ExecuteResult,
    StreamResult,
    aexecute,
    aexecute_stream,
    execute,
    execute_stream,
)
from .execute._io import aclose_stream, async_iterable, close_stream
from .execute._log import default_logger
from .failures import Failure, FailureKind
from .usage import Usage

if TYPE_CHECKING:
    from ._selection import SelectionResult
    from .selector import ServiceSelector

T = TypeVar("T")
Pair = tuple[Service, Provider | None]

#: Reads the token usage off a response (``Usage.of`` by default); None when it has none.
UsageReader = Callable[[Any], Usage | None]


def _pair_name(pair: Pair) -> str:
    return pair[0].name


class _Recorder(ExecuteHooks[Pair]):
    """Feeds each attempt of a selector-driven call into stats, affinity and in-flight counts.

    Health hears of the attempts through ``execute``'s cooldown tracker when the selector's
    health view is one (so it is not told twice), and from here when it is not.
    """

    __slots__ = ("health_via_cooldown", "selection", "selector", "tap", "ttft", "usage")

    def __init__(
        self,
        selector: ServiceSelector,
        selection: SelectionResult,
        usage: UsageReader | None,
        health_via_cooldown: bool,
    ) -> None:
        self.selector = selector
        self.selection = selection
        self.usage = usage
        self.health_via_cooldown = health_via_cooldown
        self.ttft: float | None = None
        self.tap: _Tap | None = None

    def attempt_started(self, provider: Pair, name: str) -> None:
        self.ttft = None
        self.tap = None
        self.selector.stats.request_started(provider[0])

    def first_chunk(self, provider: Pair, name: str, time_to_first_chunk: float) -> None:
        self.ttft = time_to_first_chunk

    def attempt_succeeded(self, provider: Pair, name: str, response: Any, latency: float) -> None:
        service = provider[0]
        self.selector.stats.request_finished(service)
        if self.tap is not None:
            usage = self.tap.usage
        else:
            usage = self.usage(response) if self.usage is not None else None
        ttft = self.ttft
        self.selector._note_success(
            self.selection,
            service,
            usage,
            latency * 1000.0,
            None if ttft is None else ttft * 1000.0,
            report_health=not self.health_via_cooldown,
        )

    def attempt_failed(
        self, provider: Pair, name: str, error: BaseException, failure: Failure, latency: float
    ) -> None:
        service = provider[0]
        self.selector.stats.request_finished(service)
        if failure.kind is FailureKind.CANCELLED:
            return
        self.selector._note_failure(
            self.selection, service, failure, report_health=not self.health_via_cooldown
        )


class _Tap:
    """Shared part of the stream taps: the provider's stream, and the usage seen so far."""

    __slots__ = ("logger", "reader", "source", "usage")

    def __init__(self, source: object, reader: UsageReader | None, logger: logging.Logger) -> None:
        self.source = source
        self.reader = reader
        self.logger = logger
        self.usage: Usage | None = None

    def see(self, chunk: object) -> None:
        if self.reader is not None:
            found = self.reader(chunk)
            if found is not None:
                self.usage = found if self.usage is None else self.usage.merge(found)


class _SyncTap(_Tap, Generic[T]):
    """Passes a provider's chunks through, reading usage off them; closes what it wraps."""

    __slots__ = ("inner",)

    def __init__(
        self, source: Iterable[T], reader: UsageReader | None, logger: logging.Logger
    ) -> None:
        super().__init__(source, reader, logger)
        self.inner: Iterator[T] = iter(source)

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        chunk = next(self.inner)
        self.see(chunk)
        return chunk

    def close(self) -> None:
        close_stream(self.inner, self.source, self.logger)


class _AsyncTap(_Tap, Generic[T]):
    """The async form of the stream tap."""

    __slots__ = ("inner",)

    def __init__(
        self, source: AsyncIterable[T], reader: UsageReader | None, logger: logging.Logger
    ) -> None:
        super().__init__(source, reader, logger)
        self.inner: AsyncIterator[T] = source.__aiter__()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        chunk = await self.inner.__anext__()
        self.see(chunk)
        return chunk

    async def aclose(self) -> None:
        await aclose_stream(self.inner, self.source, self.logger)


class SelectorExecuteMixin:
    """``execute``, ``aexecute``, ``execute_stream`` and ``aexecute_stream`` of the selector."""

    def _chain(
        self,
        rule: Rule | str,
        request: Any,
        session_id: SessionID | str | None,
        headers: Mapping[str, str] | None,
        client_ip: str | None,
        usage: UsageReader | None,
    ) -> tuple[SelectionResult, Sequence[Pair], _Recorder, CooldownTracker | None]:
        selector = cast("ServiceSelector", self)
        selection = selector.select(
            rule, request, session_id=session_id, headers=headers, client_ip=client_ip
        )
        pairs = selection._plan.chain(selection.service, selection._scope, selection._unhealthy)
        cooldown = selector._cooldown
        recorder = _Recorder(selector, selection, usage, cooldown is not None)
        return selection, pairs, recorder, cooldown

    def execute(
        self,
        rule: Rule | str,
        request: Any,
        fn: Callable[[Service, Provider | None], T],
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        usage: UsageReader | None = Usage.of,
        exempt: Collection[str] = (),
        fallback_on: Callable[[BaseException], bool] | None = None,
        logger: logging.Logger | None = None,
    ) -> ExecuteResult[T]:
        """Select a service for ``request``, then call ``fn(service, provider)`` on it and, if
        it fails, on its fallbacks (the ``fallback`` strategy of :func:`execute`, with the
        selector's health monitor as the cooldown tracker).

        Every attempt is recorded: in-flight counts (for ``least_busy``), latency, tokens
        (read from the response by ``usage``, ``Usage.of`` by default, which understands
        OpenAI and Anthropic responses), health (through the cooldown tracker) and the
        session's affinity lock (released when its service fails, moved when a fallback
        serves). ``exempt`` names services (ids) that never cool down. The result's
        ``selection`` is the :class:`SelectionResult`; ``provider`` the serving service id.
        Raises what :meth:`select` and :func:`execute` raise.
        """
        selection, pairs, recorder, cooldown = self._chain(
            rule, request, session_id, headers, client_ip, usage
        )
        result = execute(
            pairs,
            lambda pair: fn(pair[0], pair[1]),
            cooldown=cooldown,
            exempt=exempt,
            fallback_on=fallback_on,
            logger=logger,
            hooks=recorder,
            key=_pair_name,
        )
        result.selection = selection
        return result

    async def aexecute(
        self,
        rule: Rule | str,
        request: Any,
        fn: Callable[[Service, Provider | None], Awaitable[T]],
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        usage: UsageReader | None = Usage.of,
        exempt: Collection[str] = (),
        fallback_on: Callable[[BaseException], bool] | None = None,
        logger: logging.Logger | None = None,
    ) -> ExecuteResult[T]:
        """:meth:`execute` for an async ``fn``; selection itself does no I/O."""
        selection, pairs, recorder, cooldown = self._chain(
            rule, request, session_id, headers, client_ip, usage
        )
        result = await aexecute(
            pairs,
            lambda pair: fn(pair[0], pair[1]),
            cooldown=cooldown,
            exempt=exempt,
            fallback_on=fallback_on,
            logger=logger,
            hooks=recorder,
            key=_pair_name,
        )
        result.selection = selection
        return result

    def execute_stream(
        self,
        rule: Rule | str,
        request: Any,
        fn: Callable[[Service, Provider | None], Iterable[T]],
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        usage: UsageReader | None = Usage.of,
        exempt: Collection[str] = (),
        fallback_on: Callable[[BaseException], bool] | None = None,
        logger: logging.Logger | None = None,
    ) -> StreamResult[T]:
        """:meth:`execute` for a streamed call: ``fn`` returns an iterable of chunks.

        Fails over until the first chunk; then the stream is committed (see
        :func:`execute_stream`). Time to first chunk is recorded as TTFT, the whole stream's
        duration as latency, and the usage the chunks report (e.g. OpenAI's final chunk with
        ``stream_options={"include_usage": True}``, Anthropic's message events) as tokens.
        """
        selection, pairs, recorder, cooldown = self._chain(
            rule, request, session_id, headers, client_ip, usage
        )
        log = logger if logger is not None else default_logger

        def call(pair: Pair) -> Iterable[T]:
            tap = _SyncTap(fn(pair[0], pair[1]), usage, log)
            recorder.tap = tap
            return tap

        stream = execute_stream(
            pairs,
            call,
            cooldown=cooldown,
            exempt=exempt,
            fallback_on=fallback_on,
            logger=logger,
            hooks=recorder,
            key=_pair_name,
        )
        stream.selection = selection
        return stream

    async def aexecute_stream(
        self,
        rule: Rule | str,
        request: Any,
        fn: Callable[[Service, Provider | None], AsyncIterable[T] | Awaitable[AsyncIterable[T]]],
        *,
        session_id: SessionID | str | None = None,
        headers: Mapping[str, str] | None = None,
        client_ip: str | None = None,
        usage: UsageReader | None = Usage.of,
        exempt: Collection[str] = (),
        fallback_on: Callable[[BaseException], bool] | None = None,
        logger: logging.Logger | None = None,
        first_chunk_timeout: float | None = None,
    ) -> AsyncStreamResult[T]:
        """:meth:`execute_stream` for async streams (``fn`` returns an async iterable or an
        awaitable of one), with ``first_chunk_timeout`` as in :func:`aexecute_stream`."""
        selection, pairs, recorder, cooldown = self._chain(
            rule, request, session_id, headers, client_ip, usage
        )
        log = logger if logger is not None else default_logger

        async def call(pair: Pair) -> AsyncIterable[T]:
            tap = _AsyncTap(await async_iterable(fn(pair[0], pair[1])), usage, log)
            recorder.tap = tap
            return tap

        stream = await aexecute_stream(
            pairs,
            call,
            cooldown=cooldown,
            exempt=exempt,
            fallback_on=fallback_on,
            logger=logger,
            hooks=recorder,
            key=_pair_name,
            first_chunk_timeout=first_chunk_timeout,
        )
        stream.selection = selection
        return stream
