"""Session affinity: who a request comes from, and pins that keep a session on the service
that served it (so its prompt cache stays warm).

:func:`resolve_session_id` finds a request's :class:`SessionID`; a pin is an
:class:`AffinityEntry` stored under (rule uuid, session key) in an :class:`AffinityStore`
(:class:`InMemoryAffinityStore` in process). Pins have a strict TTL: reading one never extends
it. The pin policy (:func:`pin_change`) says what an outcome does to a pin.
"""

from ._entry import AffinityEntry, AffinityStore
from ._policy import PinChange, SessionDraws, pin_change, pin_key, pin_keys
from ._session import (
    DEFAULT_SESSION_HEADERS,
    SessionID,
    SessionParts,
    SessionSource,
    header_value,
    resolve_session,
    resolve_session_id,
    session_key,
)
from ._store import InMemoryAffinityStore

__all__ = [
    "AffinityEntry",
    "AffinityStore",
    "DEFAULT_SESSION_HEADERS",
    "InMemoryAffinityStore",
    "PinChange",
    "SessionDraws",
    "SessionID",
    "SessionParts",
    "SessionSource",
    "header_value",
    "pin_change",
    "pin_key",
    "pin_keys",
    "resolve_session",
    "resolve_session_id",
    "session_key",
]
