"""Session locks as values: :class:`AffinityEntry`, the :class:`AffinityStore` protocol that
every backend implements."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..config import ServiceID

__all__ = ["AffinityEntry", "AffinityStore"]


@dataclass(frozen=True, slots=True)
class AffinityEntry:
    """One session lock: the ``service`` it is locked to, until ``expires_at``.

    ``message_id`` is whatever identifies the response that took the lock (``""`` if
    none); ``locked_at`` and ``expires_at`` are clock seconds. A lock is live while the clock
    reads less than ``expires_at``. ``service`` may be given as a ``"provider:model"`` string
    and is stored as a :class:`ServiceID`. ``fallback`` is True when the session moved there
    because the service chosen for it failed (it returns once that one is healthy again for the
    promotion hold). Raises ``TypeError`` / ``ValueError`` for fields of the wrong type,
    non-finite times, or ``expires_at < locked_at``.
    """

    service: ServiceID
    message_id: str
    locked_at: float
    expires_at: float
    fallback: bool = False

    def __post_init__(self) -> None:
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
        locked_at, expires_at = self.locked_at, self.expires_at
        if not (
            isinstance(locked_at, float)
            and isinstance(expires_at, float)
            and math.isfinite(locked_at)
            and math.isfinite(expires_at)
        ):
            locked_at = _seconds(self, "locked_at", locked_at)
            expires_at = _seconds(self, "expires_at", expires_at)
        if not isinstance(self.fallback, bool):
            raise TypeError(f"an affinity entry's fallback must be a bool, not {self.fallback!r}")
        if expires_at < locked_at:
            raise ValueError(
                f"an affinity entry cannot expire ({expires_at}) before it is taken ({locked_at})"
            )


def _seconds(entry: AffinityEntry, name: str, value: object) -> float:
    """``value`` checked to be a finite number of seconds, stored on ``entry`` as a float."""
    if not isinstance(value, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(
                f"an affinity entry's {name} must be a number, not {type(value).__name__}"
            )
        value = float(value)
        object.__setattr__(entry, name, value)
    if not math.isfinite(value):
        raise ValueError(f"an affinity entry's {name} must be finite, not {value!r}")
    return value


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
