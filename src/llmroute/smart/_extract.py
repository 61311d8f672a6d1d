"""Reading a :class:`RequestContext` out of the request bodies users already hold.

One walk over the messages, keeping references to the strings it meets (no copy of the
body); texts are joined only when an op asks for the combined text, and tokens are counted
only when a token op runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..request import RequestContext, TokenCounter, arguments_text
from ._messages import RANK_NAMES, Walk, as_mapping, content_text

#: A custom extractor: returns a context, or a body (a mapping) in one of the known shapes.
Extractor = Callable[[Any], "RequestContext | Mapping[str, Any]"]

_EXTRACTORS: dict[type, Extractor] = {}

_NO_THINKING = frozenset({"none", "disabled"})


def register_extractor(cls: type, extractor: Extractor | None) -> None:
    """Teach :func:`extract_context` a request type of your own.

    ``extractor(request)`` returns a :class:`RequestContext`, or a body (a mapping) in one
    of the known shapes for llmroute to read. It is used for instances of ``cls`` and its
    subclasses, before the built-in shapes (so it can also override how ``dict`` is read).
    Pass ``None`` to remove the extractor for ``cls``. Raises ``TypeError`` when ``cls`` is
    not a class or ``extractor`` is not callable.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_extractor() needs a class, not {cls!r}")
    if extractor is None:
        _EXTRACTORS.pop(cls, None)
        return
    if not callable(extractor):
        raise TypeError(f"an extractor must be callable, not {type(extractor).__name__}")
    _EXTRACTORS[cls] = extractor


def extract_context(request: Any, token_counter: TokenCounter | None = None) -> RequestContext:
    """Read what smart routing needs from ``request``.

    ``request`` may be an OpenAI Chat Completions, OpenAI Responses or Anthropic Messages
    body as a dict or any other mapping; an SDK / pydantic model of one (read through its
    dump); a bare list of messages; ``None`` (an empty context); a :class:`RequestContext`
    (returned unchanged); or an instance of a type given to :func:`register_extractor`.
    A body of an unknown shape gives a context with whatever could be read; it never raises
    for a mapping of JSON-like values. ``token_counter`` replaces :func:`estimate_tokens`
    for ``estimated_tokens``.

    Raises ``TypeError`` for any other type of ``request`` (``str``, ``bytes``, numbers and
    arbitrary objects: parse the body first, or register an extractor), for a
    ``token_counter`` that is not callable, and when a registered extractor returns
    something other than a context or a mapping.
    """
    if token_counter is not None and not callable(token_counter):
        raise TypeError(f"token_counter must be callable, not {type(token_counter).__name__}")
    if isinstance(request, RequestContext):
        return request
    if _EXTRACTORS:
        extractor = _find_extractor(type(request))
        if extractor is not None:
            result = extractor(request)
            if isinstance(result, RequestContext):
                return result
            if not isinstance(result, Mapping):
                raise TypeError(
                    f"the extractor for {type(request).__name__} returned "
                    f"{type(result).__name__}; expected a RequestContext or a mapping"
                )
            return _read_body(result, token_counter)
    if isinstance(request, (dict, Mapping)):
        return _read_body(request, token_counter)
    if isinstance(request, (list, tuple)):
        return _read_body({"messages": request}, token_counter)
    if request is None:
        return _read_body({}, token_counter)
    body = as_mapping(request)
    if body is None:
        raise TypeError(
            f"cannot read a request context from {type(request).__name__}: pass the parsed "
            "body (a dict or an SDK model) or register_extractor() for this type"
        )
    return _read_body(body, token_counter)


def _find_extractor(cls: type) -> Extractor | None:
    for base in cls.__mro__:
        extractor = _EXTRACTORS.get(base)
        if extractor is not None:
            return extractor
    return None


def _field(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """A nested object of the body (``thinking``, ``reasoning``, ``metadata``) as a mapping."""
    value = body.get(key)
    return None if value is None else as_mapping(value)


def _thinking(body: Mapping[str, Any]) -> bool:
    thinking = _field(body, "thinking")
    if thinking is not None:
        kind = thinking.get("type")
        if isinstance(kind, str) and kind not in _NO_THINKING:
            return True
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort not in _NO_THINKING:
        return True
    reasoning = _field(body, "reasoning")
    if reasoning is not None:
        effort = reasoning.get("effort")
        if isinstance(effort, str) and effort not in _NO_THINKING:
            return True
    return False


def _user_id(body: Mapping[str, Any]) -> str:
    metadata = _field(body, "metadata")
    if metadata is not None:
        user_id = metadata.get("user_id")
        if isinstance(user_id, str) and user_id:
            return user_id
    user = body.get("user")
    return user if isinstance(user, str) else ""


def _read_body(body: Mapping[str, Any], counter: TokenCounter | None) -> RequestContext:
    walk = Walk()
    instructions = body.get("system")
    if instructions is None:
        instructions = body.get("instructions")
    if instructions is not None:
        text = content_text(instructions, walk.texts)
        if text is not None:
            walk.system.append(text)
    for item in _messages(body):
        if not isinstance(item, dict):
            item = as_mapping(item)
            if item is None:
                continue
        walk.message(item)
    model = body.get("model")
    return RequestContext(
        model=model if isinstance(model, str) else "",
        thinking_enabled=_thinking(body),
        system_messages=walk.system,
        user_messages=walk.users,
        tool_uses=walk.names,
        tool_arguments=[arguments_text(a) for a in walk.args],
        latest_role=walk.latest_role,
        latest_user_text=walk.latest_user,
        offered_tools=_offered_tools(body),
        has_image=walk.has_image,
        latest_content_type=RANK_NAMES[walk.latest_rank] if walk.latest_rank >= 0 else "",
        user_id=_user_id(body),
        token_counter=counter,
        texts=walk.texts,
        extra_texts=walk.extra,
    )


def _offered_tools(body: Mapping[str, Any]) -> list[str]:
    """The names of the tools the body offers: Anthropic ``{"name"}``, OpenAI chat
    ``{"function": {"name"}}``, Responses ``{"type": "function", "name"}``."""
    tools = body.get("tools")
    if not isinstance(tools, (list, tuple)):
        return []
    names: list[str] = []
    for tool in tools:
        spec = tool if isinstance(tool, dict) else as_mapping(tool)
        if spec is None:
            continue
        name = spec.get("name")
        if not isinstance(name, str):
            function = spec.get("function")
            function = function if isinstance(function, dict) else as_mapping(function)
            name = function.get("name") if function is not None else None
        if isinstance(name, str):
            names.append(name)
    return names


def _messages(body: Mapping[str, Any]) -> list[Any] | tuple[Any, ...]:
    """The body's messages (Chat / Messages ``messages``, Responses ``input``), or ``()``."""
    messages: Any = body.get("messages")
    if messages is None:
        messages = body.get("input")
    if isinstance(messages, str):
        return ({"role": "user", "content": messages},)
    return messages if isinstance(messages, (list, tuple)) else ()
