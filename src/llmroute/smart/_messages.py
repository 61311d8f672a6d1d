"""Reading the messages of a request: one walk over the turns, keeping references to the
strings it meets, and the tool calls of the latest assistant turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

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
RANK_NAMES = ("text", "document", "file", "audio", "image")
_IMAGE_RANK = RANK_NAMES.index("image")
_IMAGE_PARTS = frozenset(kind for kind, rank in _KIND_RANK.items() if rank == _IMAGE_RANK)
_TOOL_USE_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
SYSTEM_ROLES = frozenset({"system", "developer"})
_TOOL_ROLES = frozenset({"tool", "function"})


def as_mapping(obj: object) -> Mapping[str, Any] | None:
    """A message, part or body as a mapping: mappings as they are, models dumped."""
    if isinstance(obj, (dict, Mapping)):
        return obj
    if isinstance(obj, BaseModel):
        try:
            return obj.model_dump(by_alias=True, warnings=False)
        except Exception:  # a user's model whose serializer fails reads as nothing
            return None
    return None


class Walk:
    """What one walk over a body's messages has collected so far.

    ``texts``: every text the model reads, by reference; ``extra``: tool inputs that are
    not text yet (dumped only if tokens are counted); ``names`` / ``args``: the tool calls
    of the latest assistant turn; ``in_assistant_turn``: whether that turn is still open;
    ``latest_user``: the text of the last user-side turn, ``""`` when that turn held only
    tool results (``latest_rank`` is then -1: the earlier user turn is not the latest);
    ``has_image``: whether any message met so far carries an image.
    """

    __slots__ = (
        "args",
        "extra",
        "has_image",
        "in_assistant_turn",
        "latest_rank",
        "latest_role",
        "latest_user",
        "names",
        "system",
        "texts",
        "users",
    )

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.extra: list[object] = []
        self.system: list[str] = []
        self.users: list[str] = []
        self.names: list[str] = []
        self.args: list[object] = []
        self.in_assistant_turn = False
        self.latest_role = ""
        self.latest_rank = -1
        self.latest_user = ""
        self.has_image = False

    def message(self, item: Mapping[str, Any]) -> None:
        """Read one message (or Responses item) of the conversation, in order."""
        role = item.get("role")
        if role == "user":
            ends_turn = self._user(item.get("content"))
        elif role == "assistant":
            self._assistant(item)
            ends_turn = False
        elif isinstance(role, str):
            ends_turn = self._other(role, item.get("content"))
        elif role is None:  # a Responses API item: a tool call, its output, reasoning
            self._responses_item(item)
            ends_turn = False
        else:
            ends_turn = False
        if ends_turn:  # a user, system or other message ends any tool-use turn
            self.in_assistant_turn = False
            self._forget_calls()

    def _tool_results(self) -> None:
        """A user-side turn of only tool results: the latest user turn has no text of its own."""
        self.in_assistant_turn = False
        self.latest_user = ""
        self.latest_rank = -1

    def _forget_calls(self) -> None:
        if self.names:
            self.names = []
            self.args = []

    def _user(self, content: object) -> bool:
        self.latest_role = "user"
        if isinstance(content, str):
            self.texts.append(content)
            text = content
            self.latest_rank = 0
        elif isinstance(content, (list, tuple)):
            text, rank, own = read_parts(content, self.texts, self.extra, self.names, self.args)
            self._look_for_images(content, rank)
            if not own:  # only tool results: the answer to the pending tool calls
                self._tool_results()
                return False
            self.latest_rank = rank
        else:
            text = ""
            self.latest_rank = 0
        self.users.append(text)
        self.latest_user = text
        return True

    def _assistant(self, item: Mapping[str, Any]) -> None:
        self.latest_role = "assistant"
        self.in_assistant_turn = True
        self._forget_calls()
        content = item.get("content")
        if isinstance(content, str):
            self.texts.append(content)
        elif isinstance(content, (list, tuple)):
            _, rank, _ = read_parts(content, self.texts, self.extra, self.names, self.args)
            self._look_for_images(content, rank)
        if item.get("tool_calls") or item.get("function_call"):
            _read_tool_calls(item, self.texts, self.extra, self.names, self.args)

    def _other(self, role: str, content: object) -> bool:
        self.latest_role = role
        text = content_text(content, self.texts)
        if not self.has_image and isinstance(content, (list, tuple)):
            self.has_image = _holds_image(content)
        if role in SYSTEM_ROLES:
            self.system.append("" if text is None else text)
        elif role in _TOOL_ROLES:  # "tool", "function": results of the pending calls
            self._tool_results()
            return False
        return True

    def _responses_item(self, item: Mapping[str, Any]) -> None:
        kind = item.get("type")
        if not isinstance(kind, str):
            return
        if kind.endswith("_call_output"):
            self.latest_role = "tool"
            self._tool_results()
            output = item.get("output")
            content_text(output, self.texts)
            if not self.has_image and isinstance(output, (list, tuple)):
                self.has_image = _holds_image(output)
        elif kind.endswith("_call") or kind == "reasoning":
            self.latest_role = "assistant"
            if not self.in_assistant_turn:
                self.in_assistant_turn = True
                self.names = []
                self.args = []
            if kind != "reasoning":
                name = item.get("name")
                arguments = item.get("arguments", item.get("input"))
                if not isinstance(name, str):
                    name = kind[: -len("_call")]  # e.g. "web_search" for web_search_call
                _add_call(name, arguments, self.texts, self.extra, self.names, self.args)

    def _look_for_images(self, parts: list[Any] | tuple[Any, ...], rank: int) -> None:
        """Note an image among a turn's own parts (``rank``) or inside its tool results."""
        if self.has_image:
            return
        if rank == _IMAGE_RANK:
            self.has_image = True
            return
        for part in parts:
            if not isinstance(part, dict):
                part = as_mapping(part)
            if part is not None and part.get("type") == "tool_result":
                inner = part.get("content")
                if isinstance(inner, (list, tuple)) and _holds_image(inner):
                    self.has_image = True
                    return


def _holds_image(parts: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a list of content parts holds an image part."""
    for part in parts:
        if not isinstance(part, dict):
            part = as_mapping(part)
        if part is not None:
            kind = part.get("type")
            if isinstance(kind, str) and kind in _IMAGE_PARTS:  # an odd body's type: a list
                return True
    return False


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
        if not isinstance(part, dict):
            part = as_mapping(part)
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
        if not isinstance(part, dict):
            part = as_mapping(part)
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
            if not isinstance(call, dict):
                call = as_mapping(call)
                if call is None:
                    continue
            spec = call.get("function")
            if spec is None:
                spec = call.get("custom")
            if not isinstance(spec, dict):
                spec = as_mapping(spec)
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
