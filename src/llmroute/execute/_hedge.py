"""Hedging: race the next candidate against a slow attempt (async forms, opt-in).

:func:`race` drives the attempt loop with up to two attempts in flight. It starts the first;
whenever the attempt in flight has not won ``hedge_after`` seconds after the last start, it
starts the next candidate as well. The first attempt to win (a stream that committed, a call
that returned) is the result; the other is cancelled (its task, so its stream is closed by
its own clean-up) and recorded as cancelled: ``hooks.attempt_failed`` with kind
``CANCELLED``, which is health-neutral and releases in-flight counts. A failure is recorded
as usual; when nothing is left in flight the loop fails over at once, as without hedging.
Only the ``fallback`` strategy hedges: ``primary_only`` and ``round_robin`` call one provider.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import AllProvidersFailedError
from ._calls import check_awaitable
from ._io import await_within
from ._loop import AttemptLoop
from ._types import ExecuteResult, Strategy

__all__ = ["race", "race_calls"]

P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T")

_Running = dict["asyncio.Future[Any]", Any]  # the task -> its attempt (loop.current)


async def race(
    loop: AttemptLoop[P],
    start: Callable[[P, str], Awaitable[R]],
    hedge_after: float,
    discard: Callable[[R], Awaitable[None]] | None = None,
) -> tuple[R, int]:
    """(the winner's value, how many hedges were started); the loop's current attempt is the
    winner's. ``start(provider, name)`` runs one attempt; ``discard`` closes a value that
    lost. Raises what the loop raises (:class:`AllProvidersFailedError`, a caller's bug, a
    cancellation), after cancelling what is still in flight."""
    running: _Running = {}
    hedges = 0
    more = loop.options.strategy is Strategy.FALLBACK  # the others call one provider

    def launch() -> None:
        provider = loop.start_next()
        running[asyncio.ensure_future(start(provider, loop.name))] = loop.current

    try:
        launch()
        while True:
            hedging = more and len(running) < 2
            done, _ = await asyncio.wait(
                running, timeout=hedge_after if hedging else None, return_when="FIRST_COMPLETED"
            )
            if not done:  # the hedge is due
                try:
                    launch()
                    hedges += 1
                except AllProvidersFailedError:  # no candidate left: let the rest run
                    more = False
                continue
            winner = next((t for t in running if t in done and _won(t)), None)
            if winner is not None:
                current = running.pop(winner)
                await _cancel(loop, running, discard)
                loop.resume(current)
                return winner.result(), hedges
            more = _failed(loop, running, done) and more
            if not running:
                launch()
    except BaseException:
        await _cancel(loop, running, discard)
        raise


def _won(task: asyncio.Future[Any]) -> bool:
    return not task.cancelled() and task.exception() is None


def _failed(loop: AttemptLoop[Any], running: _Running, done: set[Any]) -> bool:
    """Record the attempts in ``done`` (all failed); False once the loop has nothing more to
    start. Raises what the loop raises when nothing is left in flight."""
    more = True
    for task in [t for t in running if t in done]:
        loop.resume(running.pop(task))
        error = asyncio.CancelledError() if task.cancelled() else task.exception()
        assert error is not None
        try:
            loop.failed(error)
        except AllProvidersFailedError:
            if not running:
                raise
            more = False
    return more


async def _cancel(
    loop: AttemptLoop[Any], running: _Running, discard: Callable[[Any], Awaitable[None]] | None
) -> None:
    """Cancel the attempts still in flight, close what they won, record them as cancelled."""
    tasks = list(running.items())
    running.clear()
    for task, _ in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait([task for task, _ in tasks])
    for task, current in tasks:
        loop.resume(current)
        if discard is not None and _won(task):
            await discard(task.result())
        with contextlib.suppress(asyncio.CancelledError):  # recorded as cancelled: neutral
            loop.failed(asyncio.CancelledError("lost the hedge race"))


async def race_calls(
    loop: AttemptLoop[P], fn: Callable[[P], Awaitable[T]], hedge_after: float
) -> ExecuteResult[T]:
    """``aexecute`` with hedging: whole responses race; the first returned wins."""

    async def call(provider: P, name: str) -> T:
        made = fn(provider)
        check_awaitable(made)
        return await await_within(made, loop.time_left(), name)

    response, hedges = await race(loop, call, hedge_after)
    return loop.succeeded(response, hedges)
