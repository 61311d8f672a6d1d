"""The request context smart routing reads, and the token estimate.

A leaf module: it imports nothing from llmroute, so the configuration models (which
compile smart-routing ops against it) and smart routing (which extracts it) both can.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

#: A callable returning the number of tokens in a text (``estimate_tokens`` by default).
TokenCounter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: the UTF-8 byte length of ``text`` divided by 4, rounded down.

    ``estimate_tokens("") == 0`` and ``estimate_tokens("hello world") == 2``; text outside
    ASCII counts its encoded bytes. Raises ``TypeError`` when ``text`` is not a ``str``.
    """
    if not isinstance(text, str):
        raise TypeError(f"estimate_tokens() takes a str, not {type(text).__name__}")
    return _byte_length(text) // 4


def _byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def arguments_text(value: object) -> str:
    """Text form of a tool call's arguments: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return ""


class RequestContext:
    """What smart routing reads from a request, extracted once per request.

    Build one with :func:`extract_context`; build one by hand (keyword arguments only) in
    a custom extractor (``TypeError`` when a string is given for a list of texts). Treat it
    as read-only. Fields:

    - ``model``: the requested model name (``""`` when absent);
    - ``thinking_enabled``: whether the request asks for extended thinking / reasoning;
    - ``system_messages``: the text of each system (and developer) message;
    - ``user_messages``: the text of each user turn (text parts joined with ``"\\n"``); a
      user turn that holds only tool results is not a user message;
    - ``tool_uses`` / ``tool_arguments``: the names and argument texts of the tool calls in
      the most recent assistant turn, when the conversation ends in that turn or in the
      tool results answering it (empty otherwise);
    - ``latest_role``: the role of the last message (``"user"``, ``"assistant"``,
      ``"tool"``, ...; ``""`` when there is none);
    - ``latest_user_text``: the text of the last user-side turn; ``""`` when there is none
      or when that turn holds only tool results (the tool loop answering an earlier
      instruction: that instruction is not the latest user message any more). Defaults to
      the last of ``user_messages``;
    - ``latest_content_type``: ``"image"``, ``"audio"``, ``"file"``, ``"document"`` or
      ``"text"`` for the last user message, ``""`` when there is no user message or the
      last user-side turn holds only tool results;
    - ``offered_tools``: the names of the tools the request offers the model (its ``tools``);
    - ``has_image``: whether any message carries an image (user turns, tool results, ...);
    - ``user_id``: the caller's end-user id (Anthropic ``metadata.user_id``, else OpenAI
      ``user``), ``""`` when absent;
    - ``estimated_tokens``: the token count of all the text the model reads, computed on
      first access with the token counter (``estimate_tokens`` by default) unless given;
      ``texts`` (default: the system, user and tool-argument texts) and ``extra_texts``
      (values read as :func:`arguments_text`) are what it counts.
    """

    __slots__ = (
        "_counter",
        "_extra_texts",
        "_system_text",
        "_texts",
        "_tokens",
        "_user_text",
        "has_image",
        "latest_content_type",
        "latest_role",
        "latest_user_text",
        "model",
        "offered_tools",
        "system_messages",
        "thinking_enabled",
        "tool_arguments",
        "tool_uses",
        "user_id",
        "user_messages",
    )

    model: str
    thinking_enabled: bool
    system_messages: tuple[str, ...]
    user_messages: tuple[str, ...]
    tool_uses: tuple[str, ...]
    tool_arguments: tuple[str, ...]
    latest_role: str
    latest_user_text: str
    latest_content_type: str
    user_id: str
    offered_tools: tuple[str, ...]
    has_image: bool
    _tokens: int | None
    _texts: Sequence[str]
    _extra_texts: Sequence[object]
    _counter: TokenCounter | None
    _system_text: str | None
    _user_text: str | None

    def __init__(
        self,
        *,
        model: str = "",
        thinking_enabled: bool = False,
        system_messages: Iterable[str] = (),
        user_messages: Iterable[str] = (),
        tool_uses: Iterable[str] = (),
        tool_arguments: Iterable[str] = (),
        latest_role: str = "",
        latest_content_type: str = "",
        user_id: str = "",
        estimated_tokens: int | None = None,
        token_counter: TokenCounter | None = None,
        texts: Sequence[str] | None = None,
        extra_texts: Sequence[object] = (),
        latest_user_text: str | None = None,
        offered_tools: Iterable[str] = (),
        has_image: bool = False,
    ) -> None:
        for name, given in (
            ("system_messages", system_messages),
            ("user_messages", user_messages),
            ("tool_uses", tool_uses),
            ("tool_arguments", tool_arguments),
            ("offered_tools", offered_tools),
        ):
            if isinstance(given, (str, bytes)):
                raise TypeError(f"{name} takes an iterable of strings, not one string")
        self.model = model
        self.thinking_enabled = thinking_enabled
        self.system_messages = tuple(system_messages)
        self.user_messages = tuple(user_messages)
        self.tool_uses = tuple(tool_uses)
        self.tool_arguments = tuple(tool_arguments)
        self.latest_role = latest_role
        self.latest_content_type = latest_content_type
        if latest_user_text is None:
            latest_user_text = self.user_messages[-1] if self.user_messages else ""
        self.latest_user_text = latest_user_text
        self.offered_tools = tuple(offered_tools)
        self.has_image = has_image
        self.user_id = user_id
        self._tokens = estimated_tokens
        self._texts = (
            texts
            if texts is not None
            else self.system_messages + self.user_messages + self.tool_arguments
        )
        self._extra_texts = extra_texts
        self._counter = token_counter
        self._system_text = None
        self._user_text = None

    @property
    def estimated_tokens(self) -> int:
        """Tokens in all the text the model reads (system, messages, tool calls and results).

        Computed once, on first access: the token counter applied to those texts joined
        with ``"\\n"`` (the default counter gets the same figure without joining them).
        """
        tokens = self._tokens
        if tokens is None:
            tokens = self._tokens = self._count_tokens()
        return tokens

    def _count_tokens(self) -> int:
        texts: Sequence[str] = self._texts
        if self._extra_texts:
            texts = [*texts, *(arguments_text(item) for item in self._extra_texts)]
        if not texts:
            return 0
        if self._counter is not None:
            return self._counter("\n".join(texts))
        size = sum(map(len, texts)) + len(texts) - 1
        if not all(map(str.isascii, texts)):
            size += sum(_byte_length(t) - len(t) for t in texts if not t.isascii())
        return size // 4

    @property
    def system_text(self) -> str:
        """All system messages joined with ``"\\n"`` (joined once, on first access)."""
        text = self._system_text
        if text is None:
            text = self._system_text = "\n".join(self.system_messages)
        return text

    @property
    def user_text(self) -> str:
        """All user messages joined with ``"\\n"`` (joined once, on first access)."""
        text = self._user_text
        if text is None:
            text = self._user_text = "\n".join(self.user_messages)
        return text

    def _fields(self) -> tuple[object, ...]:
        return (
            self.model,
            self.thinking_enabled,
            self.system_messages,
            self.user_messages,
            self.tool_uses,
            self.tool_arguments,
            self.latest_role,
            self.latest_user_text,
            self.latest_content_type,
            self.user_id,
            self.offered_tools,
            self.has_image,
            self.estimated_tokens,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RequestContext):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"RequestContext(model={self.model!r}, thinking_enabled={self.thinking_enabled}, "
            f"system_messages={len(self.system_messages)}, "
            f"user_messages={len(self.user_messages)}, tool_uses={self.tool_uses!r}, "
            f"latest_role={self.latest_role!r}, "
            f"latest_content_type={self.latest_content_type!r}, "
            f"estimated_tokens={self.estimated_tokens})"
        )
