"""Session identity: which conversation a request belongs to (:func:`resolve_session_id`).

Only what each tier needs is read from the request: the user id tier reads two fields, the
header and ip tiers read nothing, and the fingerprint tier walks the messages only until it
has the first system and the first user message. Their texts are read by the same helpers
:func:`llmroute.extract_context` uses, so a fingerprint read from the raw request equals the
one read from its extracted :class:`RequestContext`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any, Literal

from pydantic import BaseModel

from ..request import RequestContext
from ..smart import SYSTEM_ROLES, content_text, extract_context, read_parts

#: Where a session id came from, strongest first; ``"none"`` when nothing identifies it.
SessionSource = Literal["user_id", "header", "client_ip", "fingerprint", "none"]

#: The request headers read for a session id, in order (matched case-insensitively).
DEFAULT_SESSION_HEADERS: tuple[str, ...] = ("X-Session-ID", "X-Tingly-Session-ID")

# The tag of each source in a session key; "none" has no key.
_TAGS: dict[str, str] = {
    "user_id": "user",
    "header": "hdr",
    "client_ip": "ip",
    "fingerprint": "fp",
}
_SOURCES = frozenset((*_TAGS, "none"))
_KEY_HEADS = {source: f"{tag}:" for source, tag in _TAGS.items()}
# Values longer than this are keyed by a 128-bit digest, so a store's memory per session is
# bounded whatever the client sends.
_MAX_KEY_VALUE = 64
# A text longer than twice this is fingerprinted by its length, head and tail only, so a long
# first message costs a bounded amount per request.
_SAMPLE = 4096


@dataclass(frozen=True, slots=True)
class SessionID:
    """Who a request comes from, for session affinity: ``source``, ``value``, ``ip_backup``.

    ``source`` says which tier found it (``"user_id"``, ``"header"``, ``"client_ip"``,
    ``"fingerprint"``, or ``"none"`` with an empty ``value``); ``ip_backup`` is the client ip
    whenever the caller gave one (``""`` otherwise). ``SessionID()`` is the none form and is
    falsy; every other session id is truthy. Use :attr:`key` as the affinity store's session
    key. Raises ``ValueError`` for an unknown source or a value that does not fit it.
    """

    source: SessionSource = "none"
    value: str = ""
    ip_backup: str = ""

    def __post_init__(self) -> None:
        if self.source not in _SOURCES:
            raise ValueError(
                f"unknown session source {self.source!r}; expected one of {sorted(_SOURCES)}"
            )
        if not isinstance(self.value, str) or not isinstance(self.ip_backup, str):
            raise TypeError("a session id's value and ip_backup must be strings")
        if self.source == "none" and self.value:
            raise ValueError("a session id with source 'none' has no value")
        if self.source != "none" and not self.value:
            raise ValueError(f"a session id from {self.source!r} needs a non-empty value")

    def __bool__(self) -> bool:
        return self.source != "none"

    @property
    def key(self) -> str:
        """The affinity store key: ``"<tag>:<value>"`` (``""`` for the none form).

        Tags are ``user``, ``hdr``, ``ip`` and ``fp``, so an ip and a header with the same
        text never share a lock. A value longer than 64 characters is replaced by a 128-bit
        hex digest (``"<tag>#<digest>"``), which bounds the store's memory per session.
        """
        return session_key(self.source, self.value)


def session_key(source: SessionSource, value: str) -> str:
    """The affinity store key of a session from ``source`` with ``value`` (see
    :attr:`SessionID.key`)."""
    if source == "none":
        return ""
    if len(value) <= _MAX_KEY_VALUE:
        return _KEY_HEADS[source] + value
    digest = blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{_TAGS[source]}#{digest}"


#: A session identity as the plain values a :class:`SessionID` holds: (source, value,
#: ip_backup).
SessionParts = tuple[SessionSource, str, str]


def resolve_session_id(
    request: Any = None,
    headers: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None = None,
    client_ip: str | ipaddress.IPv4Address | ipaddress.IPv6Address | None = None,
    *,
    header_names: Sequence[str] = DEFAULT_SESSION_HEADERS,
    context: RequestContext | None = None,
    from_ip: bool = False,
) -> SessionID:
    """Find the session a request belongs to, strongest evidence first.

    1. ``"user_id"``: Anthropic ``metadata.user_id``, else OpenAI's top-level ``user`` (the
       same tier, as in :attr:`RequestContext.user_id`);
    2. ``"header"``: the first of ``header_names`` present with a non-empty value, matched
       case-insensitively. ``headers`` is any mapping (case-insensitive ones included) or an
       iterable of ``(name, value)`` pairs; bytes names and values (ASGI) are read as latin-1;
    3. ``"fingerprint"``: a 16-hex-digit hash of the first system message and the first user
       message, so an unmodified client keeps its stickiness while the conversation grows;
    4. ``"client_ip"``: only with ``from_ip=True``, ``client_ip`` (a string or an
       ``ipaddress`` address, used as given; resolve ``X-Forwarded-For`` yourself). Off by
       default: everything behind one proxy or NAT would be one session;
    5. ``"none"``: nothing identifies the session (a falsy :class:`SessionID`).

    Values are stripped; an empty one falls through to the next tier. ``ip_backup`` always
    holds the client ip when one was given. ``request`` is read like
    :func:`llmroute.extract_context` reads it (OpenAI Chat, OpenAI Responses or Anthropic
    Messages body as a mapping, a pydantic model read through its attributes, a list of
    messages, a :class:`RequestContext`, or ``None``); pass ``context=`` when you already
    extracted one and the request is not read at all. Odd bodies never raise; a ``request``
    of a type :func:`extract_context` cannot read, a ``headers`` or ``client_ip`` of the wrong
    type, or a bad ``header_names`` raise ``TypeError`` / ``ValueError``.
    """
    parts = resolve_session(request, headers, client_ip, header_names, context, from_ip)
    return _NO_SESSION if parts == _NONE else SessionID(*parts)


def resolve_session(
    request: Any,
    headers: Any,
    client_ip: Any,
    header_names: Sequence[str],
    context: RequestContext | None,
    from_ip: bool,
) -> SessionParts:
    """:func:`resolve_session_id`'s answer as its parts (source, value, ip_backup), the
    arguments as it takes them, for callers that need only the key (:func:`session_key`)
    until someone asks for the :class:`SessionID`."""
    ip = "" if client_ip is None else _client_ip(client_ip)
    spec = _DEFAULT_SPEC if header_names is DEFAULT_SESSION_HEADERS else _header_spec(header_names)
    if context is None:
        if isinstance(request, RequestContext):
            context = request
        elif not isinstance(request, (dict, Mapping, BaseModel, list, tuple, type(None))):
            context = extract_context(request)  # a registered extractor, or a clear TypeError
    elif not isinstance(context, RequestContext):
        raise TypeError(f"context must be a RequestContext, not {type(context).__name__}")

    user_id = context.user_id if context is not None else _user_id(request)
    user_id = user_id.strip() if isinstance(user_id, str) else ""
    if user_id:
        return ("user_id", user_id, ip)
    if headers is not None:
        value = _session_header(headers, spec)
        if value:
            return ("header", value, ip)
    if context is not None:
        system = context.system_messages[0] if context.system_messages else ""
        user = context.user_messages[0] if context.user_messages else ""
    else:
        system, user = _first_texts(request)
    if system or user:
        return ("fingerprint", _fingerprint(system, user), ip)
    if ip and from_ip:
        return ("client_ip", ip, ip)
    return ("none", "", ip)


_NO_SESSION = SessionID()
_NONE: SessionParts = ("none", "", "")


# --- arguments ---------------------------------------------------------------------------


def _client_ip(client_ip: object) -> str:
    if client_ip is None:
        return ""
    if isinstance(client_ip, str):
        return client_ip.strip()
    if isinstance(client_ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(client_ip)
    raise TypeError(
        f"client_ip takes the address as a string, not {type(client_ip).__name__} "
        "(for an ASGI scope['client'] pair pass its host, the first item)"
    )


# --- reading the request -----------------------------------------------------------------


def _get(obj: object, name: str) -> Any:
    """A field of a mapping or of a pydantic model (through its attributes); None otherwise."""
    if isinstance(obj, (dict, Mapping)):
        return obj.get(name)
    if isinstance(obj, BaseModel):
        return getattr(obj, name, None)
    return None


def _user_id(body: object) -> object:
    # A plain dict (the usual body) is read directly: each _get is one more call per request.
    metadata = body.get("metadata") if isinstance(body, dict) else _get(body, "metadata")
    if metadata is not None:
        user_id = _get(metadata, "user_id")
        if isinstance(user_id, str) and user_id:
            return user_id
    return body.get("user") if isinstance(body, dict) else _get(body, "user")


def _first_texts(body: object) -> tuple[str, str]:
    """The text of the first system message and of the first user message ("" if none)."""
    if isinstance(body, (list, tuple)):
        messages: object = body
        system = None
    else:
        instructions = _get(body, "system")
        if instructions is None:
            instructions = _get(body, "instructions")
        system = None if instructions is None else content_text(instructions, [])
        messages = _get(body, "messages")
        if messages is None:
            messages = _get(body, "input")
        if isinstance(messages, str):
            return system or "", messages
    user = None
    if isinstance(messages, (list, tuple)):
        for item in messages:
            if system is not None and user is not None:
                break
            role = _get(item, "role")
            if role == "user":
                if user is None:
                    user = _user_text(_get(item, "content"))
            elif system is None and isinstance(role, str) and role in SYSTEM_ROLES:
                system = content_text(_get(item, "content"), []) or ""
    return system or "", user or ""


def _user_text(content: object) -> str | None:
    """A user turn's text; None when the turn holds only tool results (not a user message)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, (list, tuple)):
        return ""
    text, _, own = read_parts(content, [], [], [], [])
    return text if own else None


def _fingerprint(system: str, user: str) -> str:
    """16 hex digits of blake2b over both texts' lengths and texts (long ones sampled)."""
    head = f"{len(system)}:{len(user)}:"
    if len(system) > 2 * _SAMPLE:
        system = system[:_SAMPLE] + system[-_SAMPLE:]
    if len(user) > 2 * _SAMPLE:
        user = user[:_SAMPLE] + user[-_SAMPLE:]
    data = (head + system + user).encode("utf-8", "surrogatepass")
    return blake2b(data, digest_size=8).hexdigest()


# --- headers -----------------------------------------------------------------------------


class _HeaderSpec:
    """The session header names, ready for lookups: as given, lowered, and ranked."""

    __slots__ = ("lookups", "lowered", "names", "rank_of", "sizes")

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.lowered = tuple(name.lower() for name in self.names)
        # (rank, name, lowered name) of each, built once: zip and enumerate cost per request
        self.lookups = tuple(zip(range(len(self.names)), self.names, self.lowered, strict=True))
        self.rank_of: dict[str, int] = {}
        for rank, low in enumerate(self.lowered):
            self.rank_of.setdefault(low, rank)
        self.sizes = frozenset(len(low) for low in self.lowered)


_DEFAULT_SPEC = _HeaderSpec(DEFAULT_SESSION_HEADERS)


_SPECS: dict[tuple[object, ...], _HeaderSpec] = {}  # custom names seen, a few at most


def _header_spec(names: object) -> _HeaderSpec:
    if names is DEFAULT_SESSION_HEADERS:
        return _DEFAULT_SPEC
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise TypeError("header_names takes a sequence of header names, not one string")
    given = tuple(names)
    spec = _SPECS.get(given)
    if spec is None:
        for name in given:
            if not isinstance(name, str) or not name:
                raise ValueError(f"a session header name must be a non-empty string, not {name!r}")
        if len(_SPECS) >= 64:
            _SPECS.clear()
        spec = _SPECS[given] = _HeaderSpec(names)
    return spec


def _session_header(headers: object, spec: _HeaderSpec) -> str:
    """The first configured session header with a non-empty value, in any letter case."""
    pairs: Iterable[object]
    best, best_rank = "", len(spec.names)
    if isinstance(headers, (dict, Mapping)):
        get = headers.get
        for rank, name, low in spec.lookups:
            raw = get(name)
            if raw is None and low != name:
                raw = get(low)
            if raw is not None:
                value = _header_text(raw)
                if value:
                    if rank == 0:
                        return value
                    best, best_rank = value, rank
                    break
        # Case-insensitive mappings have answered; a plain one may spell a name otherwise.
        try:
            if spec.sizes.isdisjoint(map(len, headers)):
                return best  # no name of a matching length: the common miss, checked in C
        except TypeError:  # a name without a length
            pass
        mapping: Mapping[Any, Any] | None = headers
        pairs = ((name, None) for name in headers)
    elif isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
        raise TypeError(
            "headers takes a mapping or an iterable of (name, value) pairs, "
            f"not {type(headers).__name__}"
        )
    else:
        mapping = None
        pairs = headers
    rank_of, sizes = spec.rank_of, spec.sizes
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            continue
        name, raw = pair
        if isinstance(name, str):
            if len(name) not in sizes:
                continue
            low = name.lower()
        elif isinstance(name, bytes):
            if len(name) not in sizes:
                continue
            low = name.decode("latin-1").lower()
        else:
            continue
        found = rank_of.get(low)
        if found is not None and found < best_rank:
            if mapping is not None:
                raw = mapping[name]
            value = _header_text(raw)
            if value:
                best, best_rank = value, found
                if found == 0:
                    break
    return best


def header_value(headers: object, name: str) -> str:
    """The value of the header ``name`` in ``headers`` (a mapping or (name, value) pairs),
    found in any letter case, stripped ('' when absent or empty), read as session headers
    are (bytes as latin-1, a multi-valued header's first non-empty value)."""
    return _session_header(headers, _header_spec((name,)))


def _header_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bytes):
        return value.decode("latin-1").strip()
    if isinstance(value, (list, tuple)):  # a multi-valued header: its first non-empty value
        for item in value:
            text = _header_text(item) if isinstance(item, (str, bytes)) else ""
            if text:
                return text
    return ""
