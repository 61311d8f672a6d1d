"""The connections: a sync client for reads and the write-behind thread, a ``redis.asyncio``
client per event loop for async reads, both with short socket timeouts and no retries (a
failed call fails open at once; the link's backoff decides when to try again). The scripts
are loaded by the write-behind thread, or in the background: never on a request's path."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from ._link import Link
from ._ops import Command
from ._scripts import SCRIPTS

__all__ = ["Connections", "DeadlinePool", "Unreachable"]

#: The errors after which redis-py disconnects the connection a call used (not only its own
#: ConnectionError and TimeoutError: a socket closed under a call can leave unread replies).
_DROPPED_ON: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
    ValueError,
    AttributeError,
)

_NO_HANDSHAKE: dict[str, Any] = {}
try:  # redis-py >= 7 would enable maintenance notifications at each connect
    from redis.maint_notifications import MaintNotificationsConfig

    _NO_HANDSHAKE["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
except ImportError:  # pragma: no cover - older redis-py
    pass
if "driver_info" in inspect.signature(redis.Redis.__init__).parameters:  # no CLIENT SETINFO
    _NO_HANDSHAKE["driver_info"] = None
else:  # pragma: no cover - older redis-py
    _NO_HANDSHAKE.update(lib_name=None, lib_version=None)


class Connections:
    """The sync client and an async client per event loop. A failed call costs only its own
    connection (redis-py drops it; the others, in use by other threads, are left alone).

    ``options`` go to both clients, except ``connection_class`` (the sync client's only).
    ``round_trips`` counts the pipelines sent (the scripts' loading included)."""

    def __init__(
        self, url: str, socket_timeout: float, write_timeout: float, options: dict[str, Any]
    ) -> None:
        self._url = url
        self._timeout = socket_timeout
        self._options = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": socket_timeout,
            "health_check_interval": 0,
            "decode_responses": True,
            # no handshake round trips (HELLO, CLIENT SETINFO, maintenance notifications): a
            # reconnect on a request's path costs the TCP connect and its own round trip
            "protocol": 2,
            **_NO_HANDSHAKE,
            **options,
        }
        sync_only = (
            {"connection_class": options.pop("connection_class")}
            if ("connection_class" in options)
            else {}
        )
        self._options.pop("connection_class", None)
        retry = Retry(NoBackoff(), 0, _DROPPED_ON)
        pool = DeadlinePool.from_url(url, retry=retry, **self._options, **sync_only)
        self.sync = redis.Redis(connection_pool=pool, retry=retry)
        # the write-behind thread's own client: off every request's path, it may wait longer
        # than a read, so a Redis slower than socket_timeout still takes the outcomes
        slow = {**self._options, "socket_timeout": write_timeout}
        slow["socket_connect_timeout"] = write_timeout
        self.writes = redis.Redis.from_url(url, retry=retry, **slow, **sync_only)
        self._lock = threading.Lock()
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]
        self._async = weakref.WeakKeyDictionary()
        self._loading = False
        self.round_trips = 0

    def async_client(self) -> redis.asyncio.Redis:
        """The async client of the running event loop (a loop's connections are its own;
        a client is forgotten with its loop)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            client = self._async.get(loop)
            if client is None:
                retry = AsyncRetry(NoBackoff(), 0, _DROPPED_ON)  # type: ignore[arg-type]
                client = redis.asyncio.Redis.from_url(self._url, retry=retry, **self._options)
                self._async[loop] = client
            return client

    def run(self, commands: Sequence[Command], reload: bool = True) -> list[Any]:
        """Run ``commands`` in one pipelined round trip. ``reload``: the write-behind
        thread's call, on its own client (with the longer ``write_timeout``); a script the
        server had lost (restarted, flushed) is loaded and re-run. Else a read's, within
        ``socket_timeout``: a lost script is loaded in the background and its NOSCRIPT
        raised. Raises :class:`Unreachable` for a connection-level error, a
        ``ResponseError`` when Redis refused a command."""
        client = self.writes if reload else self.sync
        pipe = client.pipeline(transaction=False)
        for name, args in commands:
            getattr(pipe, name)(*args)
        self.round_trips += 1
        with _unreachable():
            results: list[Any] = pipe.execute(raise_on_error=False)
            if any(isinstance(r, NoScriptError) for r in results) and reload:
                self.load(client)
                for index, result in enumerate(results):
                    if isinstance(result, NoScriptError):
                        results[index] = client.evalsha(*commands[index][1])
        return self._checked(results)

    async def arun(self, commands: Sequence[Command]) -> list[Any]:
        """:meth:`run` on the async client, awaited (the event loop never blocks); a lost
        script is loaded in the background."""
        client = self.async_client()
        pipe = client.pipeline(transaction=False)
        for name, args in commands:
            getattr(pipe, name)(*args)
        self.round_trips += 1
        with _unreachable():
            try:  # the whole call, its connect included, within one socket timeout
                results: list[Any] = await asyncio.wait_for(
                    pipe.execute(raise_on_error=False), self._timeout
                )
            except asyncio.TimeoutError as error:  # redis-py drops the connection cancelled
                raise Unreachable(f"no answer within {self._timeout:g} s") from error
        return self._checked(results)

    def load(self, client: redis.Redis | None = None) -> None:
        """Load the scripts (one round trip; on the write-behind thread's client unless
        ``client`` is given)."""
        pipe = (client or self.writes).pipeline(transaction=False)
        for script in SCRIPTS:
            pipe.script_load(script.text)
        self.round_trips += 1
        with _unreachable():
            pipe.execute()

    def load_later(self, link: Link | None = None) -> None:
        """Load the scripts on a thread of its own (one at a time), off any request's path;
        with ``link`` (down), that is the reconnect attempt: its connect, handshake and
        SCRIPT LOAD decide whether Redis is back."""
        with self._lock:
            if self._loading:
                return
            self._loading = True

        def load() -> None:
            epoch = link.epoch if link is not None else 0
            try:
                self.load(self.sync)  # the reads' client: it answering says reads may go on
            except redis.exceptions.ResponseError:  # it answered: it is up
                pass
            except Exception as error:  # the next NOSCRIPT or backoff step tries again
                if link is not None:
                    link.failed(error)
                return
            finally:
                self._loading = False
            if link is not None:
                link.ok(epoch)

        threading.Thread(target=load, name="llmroute-redis-connect", daemon=True).start()

    def _checked(self, results: list[Any]) -> list[Any]:
        if any(isinstance(r, NoScriptError) for r in results):
            self.load_later()
        for result in results:
            if isinstance(result, Exception):
                raise result
        return results

    def close(self) -> None:
        """Close the sync clients' connections."""
        self.sync.close()
        self.writes.close()

    async def aclose(self) -> None:
        """Close the async client of the running loop."""
        with self._lock:
            client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


class DeadlinePool(redis.ConnectionPool):
    """The sync client's pool: a call that had to connect first (a new connection, or one
    redis-py dropped) gets only what is left of the socket timeout for its replies, so the
    connect and the round trip together take at most one ``socket_timeout`` (without it a
    read could wait a connect timeout plus a socket timeout: twice the bound)."""

    def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        connection = super().get_connection(*args, **kwargs)
        spent = time.monotonic() - started
        timeout = connection.socket_timeout
        if timeout and spent > _CONNECT_SLACK:
            _set_timeout(connection, max(timeout - spent, _CONNECT_SLACK))
        return connection

    def release(self, connection: Any) -> None:
        _set_timeout(connection, connection.socket_timeout)
        super().release(connection)


#: A wait for a connection below this is not a connect (seconds); also the least time left
#: for the replies of a call whose connect took almost all of the timeout.
_CONNECT_SLACK = 0.001


def _set_timeout(connection: Any, timeout: float | None) -> None:
    """Set the timeout of a connection's socket (redis-py keeps it as ``_sock``; a
    connection without one, not connected or of another kind, is left as it is)."""
    sock = getattr(connection, "_sock", None)
    if sock is not None and timeout:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout)


class Unreachable(redis.exceptions.ConnectionError):
    """A call failed at the connection level (refused, reset, timed out, or a socket closed
    under it): Redis is taken as down."""


@contextlib.contextmanager
def _unreachable() -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ResponseError, Unreachable):
        raise
    except (redis.exceptions.RedisError, OSError, ValueError, AttributeError) as error:
        raise Unreachable(f"{type(error).__name__}: {error}") from error
