"""The pin policy: which key a session is pinned under, and what an outcome does to its pin.

``select()`` writes nothing: a session is pinned when a service serves it, the pin moves to
the fallback that served, and it is released when its service fails (a failure of the
request itself leaves it).
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Literal, NamedTuple

from ..config import ServiceID
from ._entry import AffinityEntry

__all__ = ["PinChange", "SessionDraws", "pin_change", "pin_key", "pin_keys"]


def pin_key(session_key: str, scope: str, block_index: int) -> str:
    """The pin's key: the session's (scope ``global``) or per matched block (``smart_rule``)."""
    if scope == "smart_rule":
        return f"{session_key}#{block_index}"
    return session_key


def pin_keys(session_key: str, scope: str, blocks: int) -> tuple[str, ...]:
    """Every key a selection may look up for the session, read in one step before deciding
    which smart block matches: one key for ``global``; one per block and one for "no block"
    (-1) for ``smart_rule``."""
    if not session_key:
        return ()
    if scope != "smart_rule":
        return (session_key,)
    return tuple(pin_key(session_key, scope, index) for index in range(-1, blocks))


class PinChange(NamedTuple):
    """What an outcome does to a session's pin: ``set`` it to ``service`` for ``ttl``
    seconds unless it is already there (``set`` keeps a live pin's original expiry), or
    ``release`` it when it is on ``service``; ``fallback``: the pin moves to a fallback (the
    chosen service failed)."""

    action: Literal["set", "release"]
    key: str
    service: ServiceID
    ttl: float
    fallback: bool = False


def pin_change(
    key: str | None,
    ttl: float,
    served: ServiceID,
    pinned: AffinityEntry | None,
    success: bool,
    counts_against_service: bool,
    fallback: bool = False,
) -> PinChange | None:
    """The pin change an outcome calls for (None: leave the pin as it is).

    ``key`` is the session's pin key (None when the rule has no affinity or nothing
    identifies the session); ``pinned`` the pin the selection read; ``fallback``: ``served``
    is a fallback of the chosen service.
    """
    if key is None:
        return None
    if success:
        if pinned is not None and pinned.service == served:
            return None
        return PinChange("set", key, served, ttl, fallback)
    if counts_against_service:
        return PinChange("release", key, served, ttl)
    return None


class SessionDraws:
    """A session's own random draws for the load balancer: the i-th ``random()`` is a hash of
    (rule, session, i), so a new session gets the same service from every ``select()`` and
    every process until an outcome pins it, while sessions still spread by the tactic's
    weights (the hash is uniform)."""

    __slots__ = ("_count", "_key")

    def __init__(self, rule_uuid: str, session_key: str) -> None:
        self._key = f"{rule_uuid}\x1f{session_key}".encode("utf-8", "surrogatepass")
        self._count = 0

    def random(self) -> float:
        """The next draw, in [0, 1)."""
        digest = blake2b(self._key, digest_size=8, salt=self._count.to_bytes(8, "big")).digest()
        self._count += 1
        return int.from_bytes(digest, "big") / 2**64
