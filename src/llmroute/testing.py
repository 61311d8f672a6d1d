"""Test doubles shipped with llmroute, for your tests and ours. Nothing in the package
imports this module.

- :class:`FakeClock`: a clock you move by hand;
- :class:`FakeAPIError` and :class:`ScriptedProvider`: provider calls that fail on cue;
- :class:`RecordingStore`: a state store that counts and keeps every read and write;
- :func:`capture_logs`: the llmroute log records of a block, as dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from .state import InMemoryState, Outcome, StateQuery, StateSnapshot

__all__ = ["FakeAPIError", "FakeClock", "RecordingStore", "ScriptedProvider", "capture_logs"]


class FakeClock:
    """A clock you move by hand: call it for the time, :meth:`advance` it, never sleep.

    Pass it wherever llmroute takes ``clock=``. It starts at ``start`` seconds (a fixed
    epoch-like value by default, so it reads like wall time).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds`` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock only moves forward; got advance({seconds})")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Jump to ``now`` (not earlier than the current time)."""
        with self._lock:
            if now < self._now:
                raise ValueError(f"a clock only moves forward; {now} < {self._now}")
            self._now = float(now)

    def __repr__(self) -> str:
        return f"FakeClock({self._now!r})"


class FakeAPIError(Exception):
    """An exception shaped like an SDK's HTTP status error, for scripting provider failures.

    It carries what :func:`llmroute.classify_error` reads from a real ``openai`` /
    ``anthropic`` error: ``status_code``, ``code``, a ``body`` and a ``response`` whose
    ``headers`` hold ``retry-after`` when ``retry_after`` is given. So
    ``FakeAPIError(429, retry_after=20)`` classifies as a rate limit with a 20 s hint, and
    ``FakeAPIError(400, code="context_length_exceeded")`` as a context-length error.
    """

    def __init__(
        self,
        status_code: int,
        message: str = "",
        *,
        retry_after: float | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message or f"Error code: {status_code}"
        self.code = code
        self.body: dict[str, Any] = {"error": {"message": self.message, "code": code}}
        all_headers = dict(headers or {})
        if retry_after is not None:
            all_headers["retry-after"] = f"{retry_after:g}"
        self.response = _FakeResponse(status_code, all_headers)
        super().__init__(self.message)


class _FakeResponse:
    def __init__(self, status_code: int, headers: dict[str, str]) -> None:
        self.status_code = status_code
        self.headers = headers


class ScriptedProvider:
    """A fake provider that answers from a script: fail N times, then succeed, and so on.

    ``ScriptedProvider("a", FakeAPIError(503), "hello")`` has a ``name`` (so it can stand in
    a provider list) and is called from your ``fn``: ``execute([a, b], lambda p: p(req))``.
    Each call takes the next step: an exception (instance or class) is raised, anything else
    returned; the last step repeats once the script runs out. ``calls`` counts the calls and
    ``requests`` keeps their arguments. Thread-safe.

    :meth:`acall` is the async form. :meth:`stream` / :meth:`astream` stream a step that is a
    list of chunks, raising an exception found in the list when it is reached (before or
    after the first chunk); a step that is an exception is raised by the call itself.
    """

    def __init__(self, name: str, *steps: object) -> None:
        if not steps:
            raise ValueError("a scripted provider needs at least one step")
        self.name = name
        self.calls = 0
        self.requests: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self._steps = steps
        self._lock = threading.Lock()

    def _next(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        with self._lock:
            step = self._steps[min(self.calls, len(self._steps) - 1)]
            self.calls += 1
            self.requests.append((args, kwargs))
        if isinstance(step, BaseException) or (
            isinstance(step, type) and issubclass(step, BaseException)
        ):
            raise step
        return step

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The next step: returned, or raised when it is an exception."""
        return self._next(args, kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`__call__` as a coroutine."""
        return self._next(args, kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """The next step as a stream of chunks (a step that is not a list is one chunk)."""
        return _chunks(self._next(args, kwargs))

    def astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """:meth:`stream` as an async iterator."""
        return _achunks(self._next(args, kwargs))

    def __repr__(self) -> str:
        return f"ScriptedProvider({self.name!r}, calls={self.calls})"


def _chunks(step: object) -> Iterator[Any]:
    for chunk in step if isinstance(step, (list, tuple)) else (step,):
        if isinstance(chunk, BaseException) or (
            isinstance(chunk, type) and issubclass(chunk, BaseException)
        ):
            raise chunk
        yield chunk


async def _achunks(step: object) -> AsyncIterator[Any]:
    for chunk in _chunks(step):
        yield chunk


class RecordingStore:
    """A state store that keeps every query and outcome it is given, around a real one.

    ``RecordingStore(inner=None, *, clock=None, yield_on_read=False)`` wraps ``inner`` (an
    :class:`~llmroute.state.InMemoryState` on ``clock`` by default) and implements both the
    sync and the async protocol. ``reads`` and ``writes`` count the calls (sync and async
    together), ``queries`` and ``outcomes`` keep them in order. With ``yield_on_read`` every
    ``aread`` first awaits ``asyncio.sleep(0)``, as a store across the network would yield.
    :meth:`reset` clears the counts. Thread-safe.
    """

    def __init__(
        self,
        inner: Any = None,
        *,
        clock: Any = None,
        yield_on_read: bool = False,
    ) -> None:
        self.inner: Any = inner if inner is not None else InMemoryState(clock=clock)
        self.yield_on_read = yield_on_read
        self.queries: list[StateQuery] = []
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()

    @property
    def reads(self) -> int:
        """How many reads were made."""
        return len(self.queries)

    @property
    def writes(self) -> int:
        """How many writes were made."""
        return len(self.outcomes)

    def reset(self) -> None:
        """Forget the queries and outcomes seen so far."""
        with self._lock:
            self.queries.clear()
            self.outcomes.clear()

    def read(self, query: StateQuery) -> StateSnapshot:
        with self._lock:
            self.queries.append(query)
        snapshot: StateSnapshot = self.inner.read(query)
        return snapshot

    def write(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)
        self.inner.write(outcome)

    async def aread(self, query: StateQuery) -> StateSnapshot:
        if self.yield_on_read:
            await asyncio.sleep(0)
        return self.read(query)

    async def awrite(self, outcome: Outcome) -> None:
        self.write(outcome)

    def __getattr__(self, name: str) -> Any:
        # The inner store's parts (stats, health, affinity, tactics) stay reachable.
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"RecordingStore(reads={self.reads}, writes={self.writes})"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = dict(record.__dict__)
        fields["message"] = record.getMessage()
        self.records.append(fields)


@contextlib.contextmanager
def capture_logs(name: str = "llmroute") -> Iterator[list[dict[str, Any]]]:
    """Collect the log records of logger ``name`` (and its children) inside the block, as
    dicts of the record's fields plus ``message``; the level is lowered to DEBUG meanwhile."""
    logger = logging.getLogger(name)
    handler = _Capture()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
