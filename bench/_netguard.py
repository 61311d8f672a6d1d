"""A guard that makes the benchmark provably offline: every attempt to resolve a host name or
open a network connection from Python is refused and counted. Inside
:meth:`NetGuard.loopback_allowed` (the in-situ case, whose server runs on 127.0.0.1) name
lookups of loopback hosts and connections to loopback addresses go through, counted apart;
everything else is still refused and counted."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NetGuard"]


class NetGuard:
    """While installed, ``socket.getaddrinfo`` and ``socket.socket.connect`` /
    ``connect_ex`` raise ``OSError`` and each attempt is appended to :attr:`attempts`.

    Local socket pairs (the event loop's self-pipe) are not affected: they are made without
    a connect call. While :meth:`loopback_allowed` is active, loopback lookups and
    connections are made and appended to :attr:`loopback` instead.
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.loopback: list[str] = []
        self._allow_loopback = False
        self._saved: dict[str, Any] = {}

    @contextmanager
    def loopback_allowed(self) -> Iterator[None]:
        """Let loopback lookups and connections through (counted) while the block runs."""
        self._allow_loopback = True
        try:
            yield
        finally:
            self._allow_loopback = False

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
        loopback = self.loopback
        real = dict(self._saved)

        def allowed(host: Any) -> bool:
            return self._allow_loopback and _is_loopback(host)

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if allowed(host):
                loopback.append(f"getaddrinfo {host}:{port}")
                return real["getaddrinfo"](host, port, *args, **kwargs)
            attempts.append(f"getaddrinfo {host}:{port}")
            raise OSError(f"bench is offline: name lookup of {host!r} refused")

        def connect(sock: socket.socket, address: Any) -> None:
            if isinstance(address, tuple) and address and allowed(address[0]):
                loopback.append(f"connect {address!r}")
                real["connect"](sock, address)
                return
            attempts.append(f"connect {address!r}")
            raise OSError(f"bench is offline: connection to {address!r} refused")

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if isinstance(address, tuple) and address and allowed(address[0]):
                loopback.append(f"connect_ex {address!r}")
                return real["connect_ex"](sock, address)  # type: ignore[no-any-return]
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


def _is_loopback(host: Any) -> bool:
    """Whether ``host`` (a name or an address) is this machine's loopback."""
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False
