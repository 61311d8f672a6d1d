"""A store built before a fork (``gunicorn --preload``, a ``fork`` multiprocessing pool) is
started afresh in each child: the child has no write-behind thread (threads do not survive a
fork), and its parent's queue, locks, replica name and calls in flight are not its own."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable

__all__ = ["call_after_fork"]

_hooks: list[weakref.WeakMethod[Callable[[], None]]] = []
_lock = threading.Lock()


def call_after_fork(method: Callable[[], None]) -> None:
    """Call the bound ``method`` in every child forked from now on, while its object lives."""
    with _lock:
        _hooks[:] = [hook for hook in _hooks if hook() is not None]
        _hooks.append(weakref.WeakMethod(method))


def _in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    for hook in list(_hooks):
        method = hook()
        if method is not None:
            method()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_in_child)
