"""Reading a :class:`RequestContext` out of the request bodies users already hold.

One walk over the messages, keeping references to the strings it meets (no copy of the
body); texts are joined only when an op asks for the combined text, and tokens are counted
only when a token op runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from ..request import RequestContext, TokenCounter, _as_text, _new_context

#: A custom extractor: returns a context, or a body (a mapping) in one of the known shapes.
Extractor = Callable[[Any], "RequestContext | Mapping[str, Any]"]

_EXTRACTORS: dict[type, Extractor] = {}

# The key holding a text part's text, by part type (OpenAI chat, Responses, Anthropic).
_TEXT_KEYS = {
    "text": "text",
    "input_text": "text",
    "output_text": "text",
    "refusal": "refusal",
}
# How a user message's content type ranks: the highest present names it.
_KIND_RANK = {
    "document": 1,
    "file": 2,
    "input_file": 2,
    "audio": 3,
    "input_audio": 3,
    "image": 4,
    "image_url": 4,
    "input_image": 4,
}
_RANK_NAMES = ("text", "document", "file", "audio", "image")
_TOOL_USE_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
SYSTEM_ROLES = frozenset({"system", "developer"})
_TOOL_ROLES = frozenset({"tool", "function"})
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
    if isinstance(request, Mapping):
        return _read_body(request, token_counter)
    if isinstance(request, (list, tuple)):
        return _read_body({"messages": request}, token_counter)
    if request is None:
        return _read_body({}, token_counter)
    body = _as_mapping(request)
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


def _as_mapping(obj: object) -> Mapping[str, Any] | None:
    """A message, part or body as a mapping: mappings as they are, models dumped."""
    if isinstance(obj, Mapping):
        return obj
    if isinstance(obj, BaseModel):
        try:
            return obj.model_dump(by_alias=True, warnings=False)
        except Exception:  # a user's model whose serializer fails reads as nothing
            return None
    return None


def _field(body: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """A nested object of the body (``thinking``, ``reasoning``, ``metadata``) as a mapping."""
    value = body.get(key)
    return None if value is None else _as_mapping(value)


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
    texts: list[str] = []  # every text the model reads, by reference
    extra: list[object] = []  # tool inputs that are not text yet (dumped only if counted)
    system: list[str] = []
    users: list[str] = []
    names: list[str] = []  # tool calls of the latest assistant turn
    args: list[object] = []
    in_assistant_turn = False
    latest_role = ""
    latest_rank = -1

    model = body.get("model")
    instructions = body.get("system")
    if instructions is None:
        instructions = body.get("instructions")
    if instructions is not None:
        text = content_text(instructions, texts)
        if text is not None:
            system.append(text)
    messages: Any = body.get("messages")
    if messages is None:
        messages = body.get("input")
    if isinstance(messages, str):
        messages = ({"role": "user", "content": messages},)
    elif not isinstance(messages, (list, tuple)):
        messages = ()

    add_text = texts.append
    add_user = users.append
    for item in messages:
        if type(item) is not dict:
            item = _as_mapping(item)
            if item is None:
                continue
        role = item.get("role")
        if role == "user":
            latest_role = "user"
            content = item.get("content")
            if isinstance(content, str):
                add_text(content)
                add_user(content)
                latest_rank = 0
            elif isinstance(content, (list, tuple)):
                text, rank, own = read_parts(content, texts, extra, names, args)
                if not own:  # only tool results: the answer to the pending tool calls
                    in_assistant_turn = False
                    continue
                add_user(text)
                latest_rank = rank
            else:
                add_user("")
                latest_rank = 0
        elif role == "assistant":
            latest_role = "assistant"
            in_assistant_turn = True
            if names:
                names = []
                args = []
            content = item.get("content")
            if isinstance(content, str):
                add_text(content)
            elif isinstance(content, (list, tuple)):
                read_parts(content, texts, extra, names, args)
            if item.get("tool_calls") or item.get("function_call"):
                _read_tool_calls(item, texts, extra, names, args)
            continue
        elif isinstance(role, str):
            latest_role = role
            text = content_text(item.get("content"), texts)
            if role in SYSTEM_ROLES:
                system.append("" if text is None else text)
            elif role in _TOOL_ROLES:  # "tool", "function": results of the pending calls
                in_assistant_turn = False
                continue
        elif role is None:  # a Responses API item: a tool call, its output, reasoning
            kind = item.get("type")
            if not isinstance(kind, str):
                continue
            if kind.endswith("_call_output"):
                latest_role = "tool"
                in_assistant_turn = False
                content_text(item.get("output"), texts)
            elif kind.endswith("_call") or kind == "reasoning":
                latest_role = "assistant"
                if not in_assistant_turn:
                    in_assistant_turn = True
                    names = []
                    args = []
                if kind != "reasoning":
                    name = item.get("name")
                    arguments = item.get("arguments", item.get("input"))
                    if not isinstance(name, str):
                        name = kind[: -len("_call")]  # e.g. "web_search" for web_search_call
                    _add_call(name, arguments, texts, extra, names, args)
            continue
        else:
            continue
        # a user, system or other message ends any tool-use turn
        in_assistant_turn = False
        if names:
            names = []
            args = []

    return _new_context(
        model if isinstance(model, str) else "",
        _thinking(body),
        system,
        users,
        names,
        [_as_text(a) for a in args],
        latest_role,
        _RANK_NAMES[latest_rank] if latest_rank >= 0 else "",
        _user_id(body),
        texts,
        extra,
        counter,
    )


def content_text(content: object, texts: list[str]) -> str | None:
    """The text of a string or of a list of text parts (joined with "\\n"); None if neither."""
    if isinstance(content, str):
        texts.append(content)
        return content
    if not isinstance(content, (list, tuple)):
        return None
    pieces: list[str] = []
    for part in content:
        if isinstance(part, str):
            pieces.append(part)
            continue
        if type(part) is not dict:
            part = _as_mapping(part)
            if part is None:
                continue
        kind = part.get("type")
        if isinstance(kind, str) and kind in _TEXT_KEYS:
            text = part.get(_TEXT_KEYS[kind])
            if isinstance(text, str):
                pieces.append(text)
    texts.extend(pieces)
    return pieces[0] if len(pieces) == 1 else "\n".join(pieces)


def read_parts(
    parts: list[Any] | tuple[Any, ...],
    texts: list[str],
    extra: list[object],
    names: list[str],
    args: list[object],
) -> tuple[str, int, bool]:
    """A turn's content blocks: returns (its text, content rank, whether it holds more than
    tool results); tool uses go to ``names`` / ``args``, all text to ``texts``."""
    pieces: list[str] = []
    rank = 0
    own = False
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
            own = True
            continue
        if type(part) is not dict:
            part = _as_mapping(part)
            if part is None:
                continue
        kind = part.get("type")
        if not isinstance(kind, str):
            own = True
        elif kind in _TEXT_KEYS:
            text = part.get(_TEXT_KEYS[kind])
            if isinstance(text, str):
                pieces.append(text)
            own = True
        elif kind == "tool_result":
            content_text(part.get("content"), texts)
        elif kind in _TOOL_USE_BLOCKS:
            _add_call(part.get("name"), part.get("input"), texts, extra, names, args)
        else:
            own = True
            kind_rank = _KIND_RANK.get(kind, 0)
            if kind_rank > rank:
                rank = kind_rank
    texts.extend(pieces)
    return (pieces[0] if len(pieces) == 1 else "\n".join(pieces)), rank, own


def _read_tool_calls(
    message: Mapping[str, Any],
    texts: list[str],
    extra: list[object],
    names: list[str],
    args: list[object],
) -> None:
    """OpenAI chat ``tool_calls`` (function and custom) and the legacy ``function_call``."""
    calls = message.get("tool_calls")
    if isinstance(calls, (list, tuple)):
        for call in calls:
            if type(call) is not dict:
                call = _as_mapping(call)
                if call is None:
                    continue
            spec = call.get("function")
            if spec is None:
                spec = call.get("custom")
            if type(spec) is not dict:
                spec = _as_mapping(spec)
                if spec is None:
                    continue
            arguments = spec.get("arguments", spec.get("input"))
            _add_call(spec.get("name"), arguments, texts, extra, names, args)
    legacy = message.get("function_call")
    if isinstance(legacy, Mapping):
        _add_call(legacy.get("name"), legacy.get("arguments"), texts, extra, names, args)


def _add_call(
    name: object,
    arguments: object,
    texts: list[str],
    extra: list[object],
    names: list[str],
    args: list[object],
) -> None:
    """Record one tool call; arguments that are not text are dumped only if counted."""
    names.append(name if isinstance(name, str) else "")
    if arguments is None:
        arguments = ""
    args.append(arguments)
    if isinstance(arguments, str):
        texts.append(arguments)
    else:
        extra.append(arguments)
