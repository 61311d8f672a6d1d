"""Session locks as values: :class:`AffinityEntry`, the :class:`AffinityStore` protocol that
every backend implements, and :func:`lock_entry`, the fast way to build a valid entry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .config import ServiceID

__all__ = ["AffinityEntry", "AffinityStore", "lock_entry"]


@dataclass(frozen=True, slots=True)
class AffinityEntry:
    """One session lock: the ``service`` it is locked to, until ``expires_at``.

    ``message_id`` is whatever identifies the response that took the lock (``""`` if
    none); ``locked_at`` and ``expires_at`` are clock seconds. A lock is live while the clock
    reads less than ``expires_at``. ``service`` may be given as a ``"provider:model"`` string
    and is stored as a :class:`ServiceID`. Raises ``TypeError`` / ``ValueError`` for fields
    of the wrong type, non-finite times, or ``expires_at < locked_at``.
    """

    service: ServiceID
    message_id: str
    locked_at: float
    expires_at: float

    def __post_init__(self) -> None:
        locked_at, expires_at = self.locked_at, self.expires_at
        if (
            type(self.service) is ServiceID
            and type(self.message_id) is str
            and type(locked_at) is float
            and type(expires_at) is float
            and -math.inf < locked_at <= expires_at < math.inf
        ):
            return  # the common case, checked in one go
        self._check()

    def _check(self) -> None:
        service: object = self.service
        if not isinstance(service, ServiceID):
            if not isinstance(service, str):
                raise TypeError(
                    f"an affinity entry's service must be a ServiceID, not {type(service).__name__}"
                )
            object.__setattr__(self, "service", ServiceID.parse(service))
        if not isinstance(self.message_id, str):
            kind = type(self.message_id).__name__
            raise TypeError(f"an affinity entry's message_id must be a str, not {kind}")
        for name in ("locked_at", "expires_at"):
            value: object = getattr(self, name)
            if type(value) is not float:
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise TypeError(
                        f"an affinity entry's {name} must be a number, not {type(value).__name__}"
                    )
                object.__setattr__(self, name, float(value))
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"an affinity entry's {name} must be finite, not {value!r}")
        if self.expires_at < self.locked_at:
            raise ValueError(
                f"an affinity entry cannot expire ({self.expires_at}) before it is taken "
                f"({self.locked_at})"
            )


@runtime_checkable
class AffinityStore(Protocol):
    """Where session locks live, keyed by (rule uuid, session key). Must be thread-safe.

    ``get`` returns None for an absent or expired lock and never extends a lock; ``set``
    replaces the session's lock (an entry that has already expired removes it); ``delete``
    says whether a live lock was removed; ``count_by_service`` counts the live locks on a
    service and must be cheap, as the capacity-based tactic reads it on every selection.
    """

    def get(self, rule_uuid: str, session_key: str, /) -> AffinityEntry | None:
        """The session's live lock, or None."""

    def set(self, rule_uuid: str, session_key: str, entry: AffinityEntry, /) -> None:
        """Lock the session to ``entry.service`` until ``entry.expires_at``."""

    def delete(self, rule_uuid: str, session_key: str, /) -> bool:
        """Release the session's lock; True when a live lock was removed."""

    def count_by_service(self, service_id: ServiceID, /) -> int:
        """How many live (unexpired) sessions are locked to the service."""


# Writing the slots directly skips the frozen dataclass's validating __init__, which costs
# as much as storing the lock; lock_entry() does so only for fields valid by construction.
_SET_SERVICE = AffinityEntry.__dict__["service"].__set__
_SET_MESSAGE_ID = AffinityEntry.__dict__["message_id"].__set__
_SET_LOCKED_AT = AffinityEntry.__dict__["locked_at"].__set__
_SET_EXPIRES_AT = AffinityEntry.__dict__["expires_at"].__set__


def lock_entry(service: ServiceID, now: float, ttl: float) -> AffinityEntry:
    """The entry locking a session to ``service`` from ``now`` for ``ttl`` seconds (> 0).

    Same as ``AffinityEntry(service, "", now, now + ttl)``, which validates; that is skipped
    when ``service`` is a :class:`ServiceID` and both times are finite floats.
    """
    expires_at = now + ttl
    if (
        type(service) is not ServiceID
        or type(now) is not float
        or type(expires_at) is not float
        or not -math.inf < now <= expires_at < math.inf
    ):
        return AffinityEntry(service, "", now, expires_at)
    entry = object.__new__(AffinityEntry)
    _SET_SERVICE(entry, service)
    _SET_MESSAGE_ID(entry, "")
    _SET_LOCKED_AT(entry, now)
    _SET_EXPIRES_AT(entry, expires_at)
    return entry
