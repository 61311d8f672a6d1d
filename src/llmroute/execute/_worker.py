"""The worker thread of a sync stream with a time limit.

A sync iterator that blocks cannot be interrupted from the thread that iterates it. So when a
sync stream has ``first_chunk_timeout`` or ``stall_timeout``, its blocking steps (the call and
the reads up to the commit; each later read when ``stall_timeout`` is set) run on one worker
thread per stream, one step at a time, and the caller's thread waits for each with a bounded
``queue.get(timeout=...)``. The worker runs in a copy of the caller's ``contextvars`` context.

When a wait runs out the stream is abandoned: the caller closes it at once and the worker
closes it again when its step returns (a generator cannot be closed while it runs), then
exits. Closing a socket does not end a read blocked on it in another thread, so for the
``openai`` / ``anthropic`` SDK streams (httpx underneath) :func:`interrupt` first shuts the
response's socket down (``response.extensions["network_stream"]``, read by duck typing):
the blocked read fails at once, the worker ends and the server sees the client leave. A step
that nothing can interrupt keeps its (daemon) thread until it returns (for an SDK, at its
read timeout): the cost of a time limit on an iterator that cannot be interrupted.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import queue
import socket
import threading
from collections.abc import Callable, Mapping
from time import monotonic
from typing import Any

from ._io import close_stream

__all__ = ["Expired", "Worker", "abandon_close", "interrupt"]


class Expired(Exception):
    """A step did not finish within its wait (internal: the drivers turn it into a
    ``TimeoutError`` naming the provider)."""


class Worker:
    """One stream's worker thread: :meth:`run` a step on it and wait at most so long."""

    __slots__ = ("_replies", "_requests", "stopped")

    def __init__(self, name: str) -> None:
        self._requests: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._replies: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
        self.stopped = False
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(self._serve,), name=f"llmroute-stream-{name}", daemon=True
        )
        thread.start()

    def _serve(self) -> None:
        while True:
            step = self._requests.get()
            if step is None:
                return
            try:
                value = step()
            except BaseException as exc:  # handed to the waiting thread, raised there
                self._replies.put((False, exc))
            else:
                self._replies.put((True, value))

    def run(self, step: Callable[[], Any], deadline: float | None) -> Any:
        """``step()`` on the worker: its value, or what it raised; :class:`Expired` when
        ``deadline`` (``time.monotonic()`` seconds; None: no limit) passes first."""
        self._requests.put(step)
        timeout = None if deadline is None else max(0.0, deadline - monotonic())
        try:
            ok, value = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise Expired from None
        if ok:
            return value
        raise value

    def abandon(self, close: Callable[[], None]) -> None:
        """Give the stream up: ``close()`` it now, and again on the worker once its current
        step returns (a generator cannot be closed while it runs); then let the worker end."""
        close()
        if not self.stopped:
            self._requests.put(close)
            self.stop()

    def stop(self) -> None:
        """Let the worker end after its current step (idempotent)."""
        if not self.stopped:
            self.stopped = True
            self._requests.put(None)


def interrupt(*streams: object) -> None:
    """Shut down the socket under an httpx-based SDK stream (``stream.response``, or a
    wrapper's ``source.response``), so that a read blocked on it in another thread ends now.
    Anything else is left alone; errors are ignored (this is best effort)."""
    for stream in streams:
        for obj in (stream, getattr(stream, "source", None)):
            extensions = getattr(getattr(obj, "response", None), "extensions", None)
            if not isinstance(extensions, Mapping):
                continue
            network = extensions.get("network_stream")
            info = getattr(network, "get_extra_info", None)
            sock = info("socket") if callable(info) else None
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return


def abandon_close(iterator: object, source: object, logger: logging.Logger) -> None:
    """Close a sync stream given up on: :func:`interrupt` its socket, then close it."""
    interrupt(iterator, source)
    close_stream(iterator, source, logger)
