"""Failure classification: real SDK exceptions, HTTP-library errors, builtins, bare status
codes, message text, Retry-After parsing, masking, and odd input that must never raise."""

from __future__ import annotations

import asyncio
import dataclasses
import email.message
import pickle
import socket
import urllib.error
from typing import Any
from unittest import mock

import anthropic
import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmroute import Failure, FailureKind, classify_error
from llmroute.testing import FakeAPIError

try:
    import httpx2 as httpx
except ImportError:  # pragma: no cover - machines with the original httpx
    import httpx  # type: ignore[no-redef]

K = FailureKind
NOW = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT
OPENAI_URL = "https://api.openai.com/v1/chat/completions"
ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"


def response(status: int, headers: dict[str, str] | None = None, url: str = OPENAI_URL) -> Any:
    return httpx.Response(status, headers=headers or {}, request=httpx.Request("POST", url))


def openai_error(cls: type, status: int, body: Any = None, headers: Any = None, msg: str = "x"):
    return cls(msg, response=response(status, headers), body=body)


def anthropic_error(cls: type, status: int, error_type: str, message: str, headers: Any = None):
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    return cls(message, response=response(status, headers, ANTHROPIC_URL), body=body)


# -- the real SDK exceptions ---------------------------------------------------------------


def test_openai_rate_limit_error_reads_kind_status_and_retry_after() -> None:
    error = openai_error(
        openai.RateLimitError,
        429,
        body={"code": "rate_limit_exceeded", "message": "Rate limit reached", "type": "requests"},
        headers={"retry-after": "7"},
        msg="Error code: 429 - Rate limit reached for gpt-4o",
    )
    failure = classify_error(error)
    assert (failure.kind, failure.status_code, failure.retry_after) == (K.RATE_LIMIT, 429, 7.0)
    assert failure.code == "rate_limit_exceeded"
    assert failure.counts_against_health


@pytest.mark.parametrize(
    ("error", "kind", "status"),
    [
        (
            openai_error(
                openai.BadRequestError,
                400,
                {"code": "context_length_exceeded", "type": "invalid_request_error"},
                msg="This model's maximum context length is 8192 tokens.",
            ),
            K.CONTEXT_LENGTH,
            400,
        ),
        (
            openai_error(
                openai.BadRequestError,
                400,
                {"code": None, "type": "invalid_request_error"},
                msg="This model's maximum context length is 8192 tokens, you requested 9000",
            ),
            K.CONTEXT_LENGTH,
            400,
        ),
        (
            openai_error(openai.BadRequestError, 400, {"code": "content_policy_violation"}),
            K.CONTENT_POLICY,
            400,
        ),
        (
            openai_error(openai.BadRequestError, 400, {"code": "content_filter"}),
            K.CONTENT_POLICY,
            400,
        ),
        (
            openai_error(openai.BadRequestError, 400, {"type": "invalid_request_error"}),
            K.BAD_REQUEST,
            400,
        ),
        (
            openai_error(openai.UnprocessableEntityError, 422, None, msg="invalid body"),
            K.BAD_REQUEST,
            422,
        ),
        (
            openai_error(openai.AuthenticationError, 401, {"code": "invalid_api_key"}),
            K.AUTH,
            401,
        ),
        (openai_error(openai.PermissionDeniedError, 403), K.AUTH, 403),
        (openai_error(openai.NotFoundError, 404, {"code": "model_not_found"}), K.NOT_FOUND, 404),
        (openai_error(openai.ConflictError, 409), K.SERVER, 409),
        (openai_error(openai.InternalServerError, 500), K.SERVER, 500),
        (openai_error(openai.InternalServerError, 503), K.SERVER, 503),
    ],
    ids=lambda value: getattr(value, "value", None) or type(value).__name__,
)
def test_openai_status_errors_are_classified(error: Exception, kind: K, status: int) -> None:
    failure = classify_error(error)
    assert (failure.kind, failure.status_code) == (kind, status)


@pytest.mark.parametrize(
    ("cls", "kind"),
    [
        (openai.APITimeoutError, K.TIMEOUT),
        (anthropic.APITimeoutError, K.TIMEOUT),
    ],
)
def test_sdk_timeout_errors_are_timeouts(cls: type, kind: K) -> None:
    failure = classify_error(cls(request=httpx.Request("POST", OPENAI_URL)))
    assert (failure.kind, failure.status_code) == (kind, None)


@pytest.mark.parametrize("cls", [openai.APIConnectionError, anthropic.APIConnectionError])
def test_sdk_connection_errors_are_connection_failures(cls: type) -> None:
    failure = classify_error(cls(request=httpx.Request("POST", OPENAI_URL)))
    assert failure.kind is K.CONNECTION
    assert failure.counts_against_health


@pytest.mark.parametrize(
    "cls", [anthropic.InternalServerError, anthropic.APIStatusError, anthropic.OverloadedError]
)
def test_anthropic_529_overloaded_is_a_server_failure_that_counts(cls: type) -> None:
    error = anthropic_error(cls, 529, "overloaded_error", "Overloaded")
    failure = classify_error(error)
    assert (failure.kind, failure.status_code, failure.code) == (K.SERVER, 529, "overloaded_error")
    assert failure.counts_against_health


def test_anthropic_error_event_inside_a_streamed_200_uses_the_error_type() -> None:
    error = anthropic_error(anthropic.APIStatusError, 200, "overloaded_error", "Overloaded")
    failure = classify_error(error)
    assert (failure.kind, failure.status_code) == (K.SERVER, None)


@pytest.mark.parametrize(
    ("cls", "status", "error_type", "message", "kind"),
    [
        (
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            K.CONTEXT_LENGTH,
        ),
        (
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 190000 + 20000 > 200000",
            K.CONTEXT_LENGTH,
        ),
        (
            anthropic.ContentTooLargeError,
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
            K.CONTEXT_LENGTH,
        ),
        (
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API.",
            K.AUTH,
        ),
        (
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
            "messages: roles must alternate",
            K.BAD_REQUEST,
        ),
        (anthropic.AuthenticationError, 401, "authentication_error", "invalid x-api-key", K.AUTH),
        (anthropic.PermissionDeniedError, 403, "permission_error", "not allowed", K.AUTH),
        (anthropic.NotFoundError, 404, "not_found_error", "model: claude-x", K.NOT_FOUND),
        (anthropic.RequestTimeoutError, 408, "timeout_error", "Request timeout", K.TIMEOUT),
        (anthropic.RateLimitError, 429, "rate_limit_error", "slow down", K.RATE_LIMIT),
        (anthropic.ClientClosedRequestError, 499, "api_error", "client closed", K.CANCELLED),
        (anthropic.InternalServerError, 500, "api_error", "Internal server error", K.SERVER),
        (anthropic.ServiceUnavailableError, 503, "api_error", "unavailable", K.SERVER),
        (anthropic.GatewayTimeoutError, 504, "timeout_error", "gateway timeout", K.TIMEOUT),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_anthropic_status_errors_are_classified(
    cls: type, status: int, error_type: str, message: str, kind: K
) -> None:
    failure = classify_error(anthropic_error(cls, status, error_type, message))
    assert (failure.kind, failure.status_code) == (kind, status)


def test_anthropic_rate_limit_reads_retry_after_header() -> None:
    error = anthropic_error(
        anthropic.RateLimitError, 429, "rate_limit_error", "slow", headers={"retry-after": "12"}
    )
    assert classify_error(error).retry_after == 12.0


# -- Retry-After ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:00:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({}, None),
    ],
)
def test_retry_after_header_forms(headers: dict[str, str], expected: float | None) -> None:
    error = openai_error(openai.RateLimitError, 429, headers=headers)
    assert classify_error(error, now=NOW).retry_after == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Rate limit reached. Please try again in 20s.", 20.0),
        ("Rate limit reached. Please try again in 250ms.", 0.25),
        ("Requests have exceeded the rate limit. Please retry after 7 seconds.", 7.0),
        ("Rate limit reached.", None),
    ],
)
def test_retry_after_falls_back_to_a_hint_in_the_message(
    message: str, expected: float | None
) -> None:
    error = openai_error(openai.RateLimitError, 429, msg=message)
    assert classify_error(error).retry_after == expected


def test_retry_after_is_only_read_from_the_message_for_rate_limits() -> None:
    error = openai_error(openai.InternalServerError, 500, msg="please try again in 20s")
    assert classify_error(error).retry_after is None


def test_retry_after_attribute_is_used_when_there_is_no_header() -> None:
    class ThrottledError(Exception):
        status_code = 429
        retry_after = 3

    assert classify_error(ThrottledError("throttled")).retry_after == 3.0


# -- builtins, cancellation and other HTTP libraries -----------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (TimeoutError("read timed out"), K.TIMEOUT),
        (asyncio.TimeoutError(), K.TIMEOUT),
        (ConnectionError("reset"), K.CONNECTION),
        (ConnectionRefusedError(111, "refused"), K.CONNECTION),
        (ConnectionResetError(), K.CONNECTION),
        (socket.gaierror(-2, "Name or service not known"), K.CONNECTION),
        (asyncio.CancelledError(), K.CANCELLED),
        (KeyboardInterrupt(), K.CANCELLED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_builtin_errors(error: BaseException, kind: K) -> None:
    assert classify_error(error).kind is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ReadTimeout("read timeout"), K.TIMEOUT),
        (httpx.ConnectTimeout("connect timeout"), K.TIMEOUT),
        (httpx.ConnectError("connect failed"), K.CONNECTION),
        (httpx.RemoteProtocolError("server disconnected"), K.CONNECTION),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_httpx_transport_errors(error: Exception, kind: K) -> None:
    assert classify_error(error).kind is kind


def test_httpx_status_error_from_raise_for_status() -> None:
    reply = response(503, {"Retry-After": "4"})
    with pytest.raises(httpx.HTTPStatusError) as caught:
        reply.raise_for_status()
    failure = classify_error(caught.value)
    assert (failure.kind, failure.status_code, failure.retry_after) == (K.SERVER, 503, 4.0)


class RequestsStyleResponse:
    """Shaped like ``requests.Response``: ``status_code``, dict headers, ``text``."""

    def __init__(self, status_code: int, headers: dict[str, str], text: str = "") -> None:
        self.status_code = status_code
        self.headers = headers
        self.text = text


class RequestsStyleHTTPError(OSError):
    """Shaped like ``requests.HTTPError``: an ``IOError`` with a ``response``."""

    def __init__(self, message: str, response: RequestsStyleResponse) -> None:
        super().__init__(message)
        self.response = response


def test_requests_style_error_reads_status_and_mixed_case_header() -> None:
    error = RequestsStyleHTTPError(
        "429 Client Error: Too Many Requests for url: https://x",
        RequestsStyleResponse(429, {"Retry-After": "3"}),
    )
    failure = classify_error(error)
    assert (failure.kind, failure.status_code, failure.retry_after) == (K.RATE_LIMIT, 429, 3.0)


def test_requests_style_400_is_refined_from_the_response_text() -> None:
    body = '{"error": {"code": "context_length_exceeded", "message": "maximum context length"}}'
    error = RequestsStyleHTTPError(
        "400 Client Error: Bad Request", RequestsStyleResponse(400, {}, body)
    )
    assert classify_error(error).kind is K.CONTEXT_LENGTH


def test_urllib_http_error_reads_code_and_headers() -> None:
    headers = email.message.Message()
    headers["Retry-After"] = "5"
    error = urllib.error.HTTPError("https://x", 429, "Too Many Requests", headers, None)
    failure = classify_error(error)
    assert (failure.kind, failure.status_code, failure.retry_after) == (K.RATE_LIMIT, 429, 5.0)


def test_aiohttp_style_error_with_status_attribute() -> None:
    class ClientResponseError(Exception):
        def __init__(self) -> None:
            super().__init__("503, message='Service Unavailable'")
            self.status = 503
            self.headers = {"Retry-After": "2"}

    failure = classify_error(ClientResponseError())
    assert (failure.kind, failure.status_code, failure.retry_after) == (K.SERVER, 503, 2.0)


# -- bare status codes and message text ---------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, K.BAD_REQUEST),
        (401, K.AUTH),
        (402, K.AUTH),
        (403, K.AUTH),
        (404, K.NOT_FOUND),
        (405, K.NOT_FOUND),
        (408, K.TIMEOUT),
        (409, K.SERVER),
        (410, K.NOT_FOUND),
        (413, K.CONTEXT_LENGTH),
        (418, K.BAD_REQUEST),
        (422, K.BAD_REQUEST),
        (429, K.RATE_LIMIT),
        (499, K.CANCELLED),
        (500, K.SERVER),
        (502, K.SERVER),
        (503, K.SERVER),
        (504, K.TIMEOUT),
        (529, K.SERVER),
    ],
)
def test_bare_status_codes(status: int, kind: K) -> None:
    failure = classify_error(status)
    assert (failure.kind, failure.status_code) == (kind, status)


@pytest.mark.parametrize("status", [200, 302, 0, -1, 600, 10**12])
def test_non_error_status_codes_are_unknown_without_a_status(status: int) -> None:
    failure = classify_error(status)
    assert (failure.kind, failure.status_code) == (K.UNKNOWN, None)


@pytest.mark.parametrize(
    ("text", "kind", "status"),
    [
        ("429", K.RATE_LIMIT, 429),
        ("Error code: 429 - slow down", K.RATE_LIMIT, 429),
        ("rate limit exceeded", K.RATE_LIMIT, None),
        ("Too Many Requests", K.RATE_LIMIT, None),
        ("You exceeded your current quota", K.RATE_LIMIT, None),
        ("401 Unauthorized", K.AUTH, 401),
        ("unauthorized", K.AUTH, None),
        ("Forbidden", K.AUTH, None),
        ("invalid api key", K.AUTH, None),
        ("HTTP 503 Service Unavailable", K.SERVER, 503),
        ("upstream overloaded", K.SERVER, None),
        ("internal server error", K.SERVER, None),
        ("request timed out", K.TIMEOUT, None),
        ("connection refused", K.CONNECTION, None),
        ("model not found", K.NOT_FOUND, None),
        ("status code 400: maximum context length exceeded", K.CONTEXT_LENGTH, 400),
        ("This model's maximum context length is 8192 tokens", K.CONTEXT_LENGTH, None),
        ("blocked by the content filter", K.CONTENT_POLICY, None),
        ("bad request", K.BAD_REQUEST, None),
        ("something odd happened", K.UNKNOWN, None),
        ("used 400 of 500 items", K.UNKNOWN, None),
    ],
)
def test_message_text_fallback(text: str, kind: K, status: int | None) -> None:
    for error in (text, RuntimeError(text)):
        failure = classify_error(error)
        assert (failure.kind, failure.status_code) == (kind, status), error


def test_the_status_wins_over_the_message() -> None:
    error = openai_error(openai.InternalServerError, 500, msg="rate limit or something")
    assert classify_error(error).kind is K.SERVER


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (openai.ContentFilterFinishReasonError(), K.CONTENT_POLICY),
        (RuntimeError("generic"), K.UNKNOWN),
        (ValueError("bad value"), K.UNKNOWN),
    ],
)
def test_other_exception_types(error: Exception, kind: K) -> None:
    assert classify_error(error).kind is kind


# -- what counts against health ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "counts"),
    [
        (K.RATE_LIMIT, True),
        (K.AUTH, True),
        (K.SERVER, True),
        (K.TIMEOUT, True),
        (K.CONNECTION, True),
        (K.NOT_FOUND, True),
        (K.UNKNOWN, True),
        (K.BAD_REQUEST, False),
        (K.CONTEXT_LENGTH, False),
        (K.CONTENT_POLICY, False),
        (K.CANCELLED, False),
    ],
)
def test_only_service_scoped_kinds_count_against_health(kind: K, counts: bool) -> None:
    assert kind.counts_against_health is counts
    assert Failure(kind).counts_against_health is counts


# -- the Failure value ---------------------------------------------------------------------


def test_failure_is_immutable_and_hashable() -> None:
    failure = classify_error(429)
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.kind = K.SERVER  # type: ignore[misc]
    assert hash(failure) == hash(classify_error(429))


def test_failure_passes_through_unchanged() -> None:
    failure = Failure(K.TIMEOUT, message="already classified")
    assert classify_error(failure) is failure


def test_a_failure_kind_becomes_a_failure() -> None:
    assert classify_error(K.SERVER) == Failure(K.SERVER)


def test_failure_str_is_short_and_readable() -> None:
    failure = Failure(K.RATE_LIMIT, 429, 7.0, "rate_limit_exceeded", "slow down")
    assert str(failure) == "rate_limit, HTTP 429, rate_limit_exceeded, retry after 7s: slow down"


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("Incorrect API key provided: sk-proj-abcdefghijklmnop1234", "abcdefghijklmnop1234"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("GET https://x/v1?key=AIzaSyD-secret-value failed", "AIzaSyD-secret-value"),
        ('{"api_key": "plain-secret-value"}', "plain-secret-value"),
    ],
)
def test_message_masks_key_like_text(message: str, secret: str) -> None:
    failure = classify_error(openai_error(openai.AuthenticationError, 401, msg=message))
    assert secret not in failure.message
    assert "***" in failure.message


def test_message_is_one_short_line() -> None:
    failure = classify_error(RuntimeError("line one\nline two " + "x" * 1000))
    assert "\n" not in failure.message
    assert len(failure.message) <= 200


# -- odd input never raises ----------------------------------------------------------------


class WeirdStatus(Exception):
    @property
    def status_code(self) -> int:
        raise RuntimeError("boom")


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print")


class WeirdHeaders:
    def get(self, name: str) -> str:
        raise RuntimeError("bad headers")


class WeirdResponse:
    status_code = 429
    headers = WeirdHeaders()


class WithWeirdResponse(Exception):
    response = WeirdResponse()


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (None, K.UNKNOWN),
        (True, K.UNKNOWN),
        (3.5, K.UNKNOWN),
        (b"429", K.UNKNOWN),
        (object(), K.UNKNOWN),
        (WeirdStatus("weird"), K.UNKNOWN),
        (type("E", (Exception,), {"status_code": "abc"})("x"), K.UNKNOWN),
        (type("E", (Exception,), {"status_code": 10**20})("x"), K.UNKNOWN),
        (type("E", (Exception,), {"status_code": "503"})("x"), K.SERVER),
        (type("E", (Exception,), {"body": {"error": "a string"}})("x"), K.UNKNOWN),
        (type("E", (TimeoutError,), {"status_code": object()})("x"), K.TIMEOUT),
        (UnprintableError(), K.UNKNOWN),
        (WithWeirdResponse("x"), K.RATE_LIMIT),
        (mock.Mock(), K.UNKNOWN),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, K) else None,
)
def test_odd_input_is_classified_without_raising(error: object, kind: K) -> None:
    assert classify_error(error).kind is kind


@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(),
        st.binary(),
        st.dictionaries(st.text(), st.text()),
    )
)
def test_classify_error_never_raises_on_any_value(value: object) -> None:
    assert isinstance(classify_error(value), Failure)


@given(
    status=st.one_of(st.none(), st.integers(), st.text(), st.floats()),
    body=st.one_of(
        st.none(),
        st.text(),
        st.dictionaries(
            st.sampled_from(["code", "type", "message", "error"]),
            st.one_of(st.none(), st.text(), st.integers()),
        ),
    ),
    retry_after=st.one_of(st.none(), st.text(), st.floats()),
)
def test_classify_error_never_raises_on_odd_exception_attributes(
    status: object, body: object, retry_after: object
) -> None:
    error = RuntimeError("odd")
    error.status_code = status  # type: ignore[attr-defined]
    error.body = body  # type: ignore[attr-defined]
    error.headers = {"retry-after": retry_after}  # type: ignore[attr-defined]
    failure = classify_error(error, now=NOW)
    assert isinstance(failure, Failure)
    assert failure.retry_after is None or failure.retry_after >= 0


@pytest.mark.parametrize(
    "error",
    [
        TypeError("create() missing 1 required keyword-only argument: 'model'"),
        AttributeError("'NoneType' object has no attribute 'choices'"),
        NameError("name 'clinet' is not defined"),
        AssertionError("unexpected reply"),
        ImportError("No module named 'openai'"),
    ],
)
def test_a_bug_in_the_calling_code_is_a_bad_request_that_blames_no_service(
    error: Exception,
) -> None:
    failure = classify_error(error)
    assert failure.kind is FailureKind.BAD_REQUEST
    assert not failure.counts_against_health


def test_a_classified_failure_equals_the_constructed_one() -> None:
    failure = classify_error(FakeAPIError(503))
    same = Failure(FailureKind.SERVER, 503, None, None, "Error code: 503")
    assert failure == same
    assert hash(failure) == hash(same)
    assert pickle.loads(pickle.dumps(failure)) == same
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.kind = FailureKind.AUTH  # type: ignore[misc]
