"""The connections: a sync client for reads and the write-behind thread, a ``redis.asyncio``
client per event loop for async reads, both with short socket timeouts and no retries (a
failed call fails open at once; the link's backoff decides when to try again)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from ._ops import Command
from ._scripts import SCRIPTS

__all__ = ["Connections"]


class Connections:
    """The sync client, the async client of the running loop, and the scripts' load state.

    ``options`` go to both clients, except ``connection_class`` (the sync client's only).
    ``round_trips`` counts the pipelines sent (the scripts' loading included)."""

    def __init__(self, url: str, socket_timeout: float, options: dict[str, Any]) -> None:
        self._url = url
        self._timeout = socket_timeout
        self._options = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "health_check_interval": 0,
            "decode_responses": True,
            **options,
        }
        sync_only = (
            {"connection_class": options.pop("connection_class")}
            if ("connection_class" in options)
            else {}
        )
        self._options.pop("connection_class", None)
        self.sync = redis.Redis.from_url(
            url, retry=Retry(NoBackoff(), 0), **self._options, **sync_only
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async: redis.asyncio.Redis | None = None
        self.loaded = False
        self.round_trips = 0

    def async_client(self) -> redis.asyncio.Redis:
        """The async client of the running event loop (a loop's connections are its own)."""
        loop = asyncio.get_running_loop()
        if self._async is None or self._loop is not loop:
            retry = AsyncRetry(NoBackoff(), 0)
            self._async = redis.asyncio.Redis.from_url(self._url, retry=retry, **self._options)
            self._loop = loop
        return self._async

    def run(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``commands`` in one pipelined round trip (loading the scripts first after a
        reconnect; re-running a script the server had lost). Raises on any error."""
        client = self.sync
        if not self.loaded:
            pipe = client.pipeline(transaction=False)
            for script in SCRIPTS:
                pipe.script_load(script.text)
            self.round_trips += 1
            pipe.execute()
            self.loaded = True
        pipe = client.pipeline(transaction=False)
        for name, args in commands:
            getattr(pipe, name)(*args)
        self.round_trips += 1
        results: list[Any] = pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in results):
            self.loaded = False
            for script in SCRIPTS:
                client.script_load(script.text)
            self.loaded = True
            for index, result in enumerate(results):
                if isinstance(result, NoScriptError):
                    results[index] = client.evalsha(*commands[index][1])
        return _checked(results)

    async def arun(self, commands: Sequence[Command]) -> list[Any]:
        """:meth:`run` on the async client, awaited (the event loop never blocks)."""
        client = self.async_client()
        if not self.loaded:
            pipe = client.pipeline(transaction=False)
            for script in SCRIPTS:
                pipe.script_load(script.text)
            self.round_trips += 1
            await pipe.execute()
            self.loaded = True
        pipe = client.pipeline(transaction=False)
        for name, args in commands:
            getattr(pipe, name)(*args)
        self.round_trips += 1
        results: list[Any] = await pipe.execute(raise_on_error=False)
        if any(isinstance(r, NoScriptError) for r in results):
            self.loaded = False
            for script in SCRIPTS:
                await client.script_load(script.text)
            self.loaded = True
            for index, result in enumerate(results):
                if isinstance(result, NoScriptError):
                    results[index] = await client.evalsha(*commands[index][1])
        return _checked(results)

    def lost(self) -> None:
        """After a failed call: drop every pooled connection (after a restart of Redis they
        are all dead; each would fail once more) and load the scripts again on the next."""
        self.loaded = False
        self._async = None
        with contextlib.suppress(Exception):
            self.sync.connection_pool.disconnect()

    def close(self) -> None:
        """Close the sync client's connections."""
        self.sync.close()

    async def alost(self) -> None:
        """:meth:`lost` from async code: the async client's connections are closed too."""
        client = self._async
        self.lost()
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self._timeout)

    async def aclose(self) -> None:
        """Close the async client of the running loop (a client of another loop, already
        closed, is only dropped)."""
        client, loop = self._async, self._loop
        self._async = None
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()


def _checked(results: list[Any]) -> list[Any]:
    for result in results:
        if isinstance(result, Exception):
            raise result
    return results
