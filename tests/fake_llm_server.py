"""A local fake LLM provider for tests and examples: OpenAI- and Anthropic-shaped endpoints on
127.0.0.1 with scripted replies per provider, so the real SDKs can be pointed at it.

    with FakeLLMServer() as server:
        server.script("primary", [rate_limited(retry_after=20), ok()])
        client = openai.OpenAI(base_url=server.url("primary"), api_key="k", max_retries=0)
        anthropic.Anthropic(base_url=server.url("backup"), api_key="k", max_retries=0)

A reply may also hold a stream open (``ok(hold_after=n)``: n words, then nothing until the
client goes away); the server notices a client that disconnects (``disconnects(provider)``,
``wait_disconnect(provider, timeout)``), so a test can check a stream was really closed.

``url(provider)`` serves both dialects: ``POST {url}/chat/completions`` (OpenAI, also under
``/v1``) and ``POST {url}/v1/messages`` (Anthropic). Each request takes the provider's next
scripted :class:`Reply`; once the script is used up, ``then`` (default :func:`ok`) answers.
A request with ``"stream": true`` is answered with server-sent events in the dialect's shape.
Stdlib only (``http.server`` + ``threading``); an ephemeral port; nothing ever sleeps (a held
stream polls its socket every 10 ms for the client's close).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeLLMServer",
    "Reply",
    "RecordedRequest",
    "bad_request",
    "context_length",
    "error",
    "ok",
    "overloaded",
    "rate_limited",
    "server_error",
    "stall",
    "unauthorized",
]


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build it with :func:`ok`, :func:`error` and friends.

    ``status`` 200 answers with a valid completion whose text is ``text`` (default
    ``"hello from <provider>"``); a stream sends it word by word and, with ``fail_after``,
    an error event after that many words; with ``hold_after``, nothing more after that many
    words until the client disconnects (recorded) or the server stops; with ``role_first``,
    a keep-alive comment and a role-only delta (OpenAI) or a ``ping`` (Anthropic) come before
    the words. Any other status answers with the dialect's error body (``error_type``,
    ``message``, ``code``). ``stall`` never answers until the client disconnects or the
    server stops (for timeouts).
    """

    status: int = 200
    text: str | None = None
    message: str = ""
    error_type: str | None = None
    code: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    fail_after: int | None = None
    stall: bool = False
    hold_after: int | None = None
    role_first: bool = False


def ok(
    text: str | None = None,
    *,
    fail_after: int | None = None,
    hold_after: int | None = None,
    role_first: bool = False,
) -> Reply:
    """A 200 completion (streams: word by word; ``fail_after`` words, then an error event;
    ``hold_after`` words, then silence until the client leaves; ``role_first``: a role-only
    delta or ping before the words)."""
    return Reply(text=text, fail_after=fail_after, hold_after=hold_after, role_first=role_first)


def error(
    status: int,
    message: str,
    *,
    error_type: str | None = None,
    code: str | None = None,
    retry_after: float | None = None,
) -> Reply:
    """An error reply; ``retry_after`` adds a ``Retry-After`` header (seconds)."""
    headers = (("retry-after", f"{retry_after:g}"),) if retry_after is not None else ()
    return Reply(status, message=message, error_type=error_type, code=code, headers=headers)


def rate_limited(retry_after: float | None = 20) -> Reply:
    """429 with ``Retry-After`` (seconds; None for no header)."""
    return error(
        429, "Rate limit reached for requests", code="rate_limit_exceeded", retry_after=retry_after
    )


def server_error() -> Reply:
    """500 internal server error."""
    return error(500, "The server had an error while processing your request.")


def unauthorized() -> Reply:
    """401 invalid API key."""
    return error(401, "Incorrect API key provided.", code="invalid_api_key")


def bad_request(message: str = "Invalid value for 'temperature': must be <= 2.") -> Reply:
    """400 plain bad request (the next provider would reject it too)."""
    return error(400, message, code="invalid_value")


def context_length() -> Reply:
    """400 context-length error (another model with a larger window may accept it)."""
    return error(
        400,
        "This model's maximum context length is 8192 tokens. However, your messages resulted "
        "in 9000 tokens. Please reduce the length of the messages.",
        code="context_length_exceeded",
    )


def overloaded() -> Reply:
    """529 overloaded (Anthropic's)."""
    return error(529, "Overloaded", error_type="overloaded_error")


def stall() -> Reply:
    """No answer at all until the server stops."""
    return Reply(stall=True)


@dataclass(frozen=True)
class RecordedRequest:
    """A request the server received: provider, dialect (openai/anthropic), path, JSON body,
    headers (names in lower case), and ``proxied_to``: the absolute URL a client sent when it
    used this server as its HTTP proxy (``""`` for a direct request)."""

    provider: str
    dialect: str
    path: str
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    proxied_to: str = ""


_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "requests"}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class FakeLLMServer:
    """The server: a context manager; :meth:`script` replies, :meth:`url` to point SDKs at."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, deque[Reply]] = {}
        self._then: dict[str, Reply] = {}
        self._requests: list[RecordedRequest] = []
        self._stopping = threading.Event()
        self._left = threading.Condition(self._lock)
        self._disconnects: dict[str, int] = {}
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        """Listen on 127.0.0.1 (an ephemeral port) in a background thread."""
        server = self

        class Handler(_Handler):
            owner = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        # a short poll interval makes stop() quick (shutdown waits for the loop to notice)
        self._thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release stalled requests, stop serving and close the socket."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------

    def url(self, provider: str) -> str:
        """Base URL of ``provider`` for both SDKs (``openai.OpenAI(base_url=...)`` and
        ``anthropic.Anthropic(base_url=...)``)."""
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        if not provider or "/" in provider:
            raise ValueError(f"provider names are one path segment, got {provider!r}")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/{provider}"

    def script(self, provider: str, replies: Iterable[Reply], then: Reply | None = None) -> None:
        """Answer ``provider``'s next requests with ``replies`` in order, then ``then``
        (default :func:`ok`) for ever. Replaces any script it had."""
        with self._lock:
            self._scripts[provider] = deque(replies)
            self._then[provider] = then if then is not None else ok()

    def requests(self, provider: str | None = None) -> list[RecordedRequest]:
        """The requests received (for ``provider`` only when given), oldest first."""
        with self._lock:
            return [r for r in self._requests if provider is None or r.provider == provider]

    def calls(self, provider: str) -> int:
        """How many requests ``provider`` received."""
        return len(self.requests(provider))

    def disconnects(self, provider: str) -> int:
        """How many of ``provider``'s held or stalled replies ended with the client leaving."""
        with self._lock:
            return self._disconnects.get(provider, 0)

    def wait_disconnect(self, provider: str, timeout: float = 2.0, count: int = 1) -> bool:
        """Wait (at most ``timeout`` seconds) until ``provider`` saw ``count`` disconnects."""
        with self._left:
            return self._left.wait_for(
                lambda: self._disconnects.get(provider, 0) >= count, timeout=timeout
            )

    def _client_left(self, provider: str) -> None:
        with self._left:
            self._disconnects[provider] = self._disconnects.get(provider, 0) + 1
            self._left.notify_all()

    def _take(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            queue = self._scripts.get(request.provider)
            if queue:
                return queue.popleft()
            return self._then.get(request.provider, ok())


class _Handler(BaseHTTPRequestHandler):
    owner: FakeLLMServer
    server_version = "FakeLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        # a client using this server as its proxy sends the absolute URL: serve it as if this
        # were the host it names (the provider is still the path's first segment)
        proxied_to = self.path if self.path.startswith(("http://", "https://")) else ""
        path = "/" + self.path.split("://", 1)[1].partition("/")[2] if proxied_to else self.path
        provider, _, rest = path.lstrip("/").partition("/")
        rest = "/" + rest.removeprefix("v1/")
        dialect = {"/chat/completions": "openai", "/messages": "anthropic"}.get(rest)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if dialect is None or not provider:
            self._json(404, {"error": {"message": f"no route for {self.path}"}})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "body is not JSON"}})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        recorded = RecordedRequest(provider, dialect, path, body, headers, proxied_to)
        reply = self.owner._take(recorded)
        if reply.stall:
            self._hold(provider)
            return
        if reply.status != 200:
            self._json(reply.status, _error_body(dialect, reply), reply.headers)
            return
        text = reply.text if reply.text is not None else f"hello from {provider}"
        model = str(body.get("model", "fake-model"))
        if body.get("stream"):
            events = _openai_events if dialect == "openai" else _anthropic_events
            self._sse(events(model, text, reply), provider)
        elif dialect == "openai":
            self._json(200, _openai_completion(model, text))
        else:
            self._json(200, _anthropic_message(model, text))

    def _json(
        self, status: int, body: dict[str, Any], headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[str], provider: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.end_headers()
        try:
            for event in events:
                if event == _HOLD:
                    self._hold(provider)
                    return
                self.wfile.write(event.encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.owner._client_left(provider)

    def _hold(self, provider: str) -> None:
        """Say nothing until the client closes the connection (recorded) or the server stops."""
        conn = self.connection
        while not self.owner._stopping.is_set():
            readable, _, _ = select.select([conn], [], [], 0.01)
            if not readable:
                continue
            try:
                data = conn.recv(1, socket.MSG_PEEK)
            except OSError:
                data = b""
            if not data:
                self.owner._client_left(provider)
                self.close_connection = True
                return


def _error_body(dialect: str, reply: Reply) -> dict[str, Any]:
    if dialect == "openai":
        kind = reply.error_type or _OPENAI_TYPES.get(reply.status, "server_error")
        return {
            "error": {"message": reply.message, "type": kind, "param": None, "code": reply.code}
        }
    kind = reply.error_type or _ANTHROPIC_TYPES.get(reply.status, "api_error")
    if reply.code == "context_length_exceeded":
        message = "prompt is too long: 210000 tokens > 200000 maximum"
    else:
        message = reply.message
    return {"type": "error", "error": {"type": kind, "message": message}}


#: Where a held stream stops talking (see ``Reply.hold_after``).
_HOLD = "\0hold"


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [word + " " for word in words[:-1]] + words[-1:]


def _openai_completion(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
    }


def _openai_events(model: str, text: str, reply: Reply) -> Iterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    fail_after = reply.fail_after
    if reply.role_first:
        yield ": keep-alive\n\n"
        yield chunk({"role": "assistant", "content": ""})
    for n, word in enumerate(_words(text)):
        if reply.hold_after is not None and n >= reply.hold_after:
            yield _HOLD
            return
        if fail_after is not None and n >= fail_after:
            failure = {"error": {"message": "stream broke", "type": "server_error", "code": None}}
            yield f"data: {json.dumps(failure)}\n\n"
            return
        first = n == 0 and not reply.role_first
        yield chunk({"role": "assistant", "content": word} if first else {"content": word})
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"


def _anthropic_message(model: str, text: str) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 4},
    }


def _anthropic_events(model: str, text: str, reply: Reply) -> Iterator[str]:
    def event(name: str, data: dict[str, Any]) -> str:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

    start = _anthropic_message(model, "")
    start["content"] = []
    start["stop_reason"] = None
    yield event("message_start", {"message": start})
    if reply.role_first:
        yield event("ping", {})
    yield event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    fail_after = reply.fail_after
    for n, word in enumerate(_words(text)):
        if reply.hold_after is not None and n >= reply.hold_after:
            yield _HOLD
            return
        if fail_after is not None and n >= fail_after:
            failure = {"error": {"type": "overloaded_error", "message": "Overloaded"}}
            yield event("error", failure)
            return
        delta = {"index": 0, "delta": {"type": "text_delta", "text": word}}
        yield event("content_block_delta", delta)
    yield event("content_block_stop", {"index": 0})
    yield event(
        "message_delta",
        {
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 4},
        },
    )
    yield event("message_stop", {})
