"""A guard that makes the benchmark provably offline: every attempt to resolve a host name or
open a network connection from Python is refused and counted."""

from __future__ import annotations

import socket
from typing import Any

__all__ = ["NetGuard"]


class NetGuard:
    """While installed, ``socket.getaddrinfo`` and ``socket.socket.connect`` /
    ``connect_ex`` raise ``OSError`` and each attempt is appended to :attr:`attempts`.

    Local socket pairs (the event loop's self-pipe) are not affected: they are made without
    a connect call.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self._saved: dict[str, Any] = {}

    def install(self) -> NetGuard:
        """Start refusing and counting network calls; returns self."""
        if self._saved:
            return self
        self._saved = {
            "getaddrinfo": socket.getaddrinfo,
            "connect": socket.socket.connect,
            "connect_ex": socket.socket.connect_ex,
        }
        attempts = self.attempts

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            attempts.append(f"getaddrinfo {host}:{port}")
            raise OSError(f"bench is offline: name lookup of {host!r} refused")

        def connect(sock: socket.socket, address: Any) -> None:
            attempts.append(f"connect {address!r}")
            raise OSError(f"bench is offline: connection to {address!r} refused")

        def connect_ex(sock: socket.socket, address: Any) -> int:
            attempts.append(f"connect_ex {address!r}")
            return 111  # ECONNREFUSED

        socket.getaddrinfo = getaddrinfo
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        """Put the real functions back."""
        if not self._saved:
            return
        socket.getaddrinfo = self._saved["getaddrinfo"]
        socket.socket.connect = self._saved["connect"]  # type: ignore[method-assign]
        socket.socket.connect_ex = self._saved["connect_ex"]  # type: ignore[method-assign]
        self._saved = {}
