"""The stream taps of the selector's stream forms: a provider's chunks passed through
unchanged while the token usage they report is read off them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from ..execute import aclose_stream, close_stream
from ..usage import Usage

__all__ = ["AsyncTap", "SyncTap", "Tap", "UsageReader"]

T = TypeVar("T")

#: Reads the token usage off a response (``Usage.of`` by default); None when it has none.
UsageReader = Callable[[Any], Usage | None]


class Tap:
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


class SyncTap(Tap, Generic[T]):
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


class AsyncTap(Tap, Generic[T]):
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
