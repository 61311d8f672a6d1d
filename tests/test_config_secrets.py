"""Secrets stay secret: tokens quoted in provider errors, proxy URLs, and secrets read from
the environment (``${VAR}`` / ``os.environ/VAR``) in str, repr, dumps, health and logs."""

from __future__ import annotations

import random

import pytest

from llmroute import (
    AllProvidersFailedError,
    ConfigError,
    Provider,
    RoutingConfig,
    ServiceSelector,
    classify_error,
    execute,
)
from llmroute.config import REVEAL_SECRETS, EnvSecret, OAuthDetail
from llmroute.failures import mask_secrets
from llmroute.testing import FakeAPIError, FakeClock, capture_logs

GOOGLE = "ya29.a0AfH6SMBxQ3_kL9zX-abcDEF123ghiJKL456"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
B64 = "dGhpcyBpcyBhIHNlY3JldCB0b2tlbiAxMjM0NQ=="
ANTHROPIC = "sk-ant-api03-AbCdEf0123456789"

QUOTED = [
    (f"Invalid bearer token: {GOOGLE}", GOOGLE),
    (f"x-api-key header is invalid: {ANTHROPIC}", ANTHROPIC),
    (f"x-api-key header is invalid: {HEX}", HEX),
    (f"the access token {B64} has expired", B64),
    (f"invalid JWT {JWT}", JWT),
    (
        f"Request had invalid authentication credentials. Expected OAuth 2 access token {GOOGLE}",
        GOOGLE,
    ),
    (
        "API key not valid: AIzaSyA1234567890abcdefghijklmnopqrstu",
        "AIzaSyA1234567890abcdefghijklmnopqrstu",
    ),
    (
        "Bad credentials: ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
]


def one_service_selector() -> ServiceSelector:
    config = RoutingConfig.model_validate(
        {
            "providers": [{"name": "p"}],
            "rules": [{"uuid": "r", "services": [{"provider": "p", "model": "m"}]}],
        }
    )
    return ServiceSelector.from_config(config, clock=FakeClock(), rng=random.Random(1))


@pytest.mark.parametrize("message, secret", QUOTED)
def test_a_token_quoted_in_an_error_is_masked_in_the_failure(message: str, secret: str) -> None:
    failure = classify_error(FakeAPIError(401, message))
    for text in (str(failure), repr(failure), failure.message):
        assert secret not in text
        assert secret[6:20] not in text
    assert "***" in failure.message


@pytest.mark.parametrize(
    "message, secret",
    [
        ("proxy error via http://user:S3cr3tPassw0rd@proxy.corp:3128", "S3cr3tPassw0rd"),
        ("cannot connect to user:S3cr3tPassw0rd@proxy:3128", "S3cr3tPassw0rd"),
        ("proxy http://user:p@ss@w0rd@proxy:3128/x refused", "p@ss@w0rd"),
        ("tunnel user:p@ssw0rd@proxy:1080 failed", "p@ssw0rd"),
    ],
)
def test_a_url_password_quoted_in_an_error_is_masked(message: str, secret: str) -> None:
    selector = one_service_selector()

    def fail(service: object, provider: object) -> object:
        raise FakeAPIError(502, message)

    with pytest.raises(AllProvidersFailedError) as info:
        selector.execute("r", {"messages": []}, fail)
    error = info.value
    for text in (str(error), repr(error), repr(error.attempts), str(error.attempts)):
        assert secret not in text
    assert "user:***@proxy" in str(error)


def test_an_attempt_repr_masks_what_its_error_quotes() -> None:
    with pytest.raises(AllProvidersFailedError) as info:
        execute(["p"], lambda p: (_ for _ in ()).throw(FakeAPIError(401, f"bad key {ANTHROPIC}")))
    attempt = info.value.attempts[0]
    assert ANTHROPIC not in repr(attempt) and "FakeAPIError(" in repr(attempt)
    assert attempt.error.message.endswith(ANTHROPIC)  # the error itself is the caller's, intact


@pytest.mark.parametrize(
    "text",
    [
        "{'type': 'authentication_error', 'message': 'invalid x-api-key'}, "
        "'request_id': 'req_011CXyz123abc456DEF789ghi'",
        "anthropic-ratelimit-tokens-remaining: 0 request-id: req_01ABCDEFghijkLMNopqrs",
        "token limit exceeded for msg_01XFDUDYJgAACzvnptvVoYEL in chatcmpl-9abcDEF123ghiJKL456",
    ],
)
def test_request_and_message_ids_near_key_words_are_kept(text: str) -> None:
    assert mask_secrets(text) == text


def test_ordinary_words_and_ids_are_not_masked() -> None:
    text = "Rate limit reached for gpt-4o in organization org-abc on tokens per min"
    assert mask_secrets(text) == text
    assert mask_secrets("authentication_required_for_this_endpoint key") == (
        "authentication_required_for_this_endpoint key"
    )


@pytest.mark.parametrize("message, secret", QUOTED)
def test_a_quoted_token_stays_out_of_errors_health_and_logs(message: str, secret: str) -> None:
    selector = one_service_selector()

    def fail(service: object, provider: object) -> object:
        raise FakeAPIError(401, message)

    with capture_logs("llmroute") as records, pytest.raises(AllProvidersFailedError) as info:
        selector.execute("r", {"messages": []}, fail)
    assert secret not in str(info.value) and secret not in repr(info.value)
    health = selector.health
    assert health is not None
    snapshot = health.get_all_health()
    assert snapshot and all(
        secret not in repr(h) and secret not in str(h) for h in snapshot.values()
    )
    for record in records:
        assert secret not in record["message"]
        assert all(secret not in str(value) for value in record.values())


# --- proxy and API URLs ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, shown",
    [
        ("user:SECRET@proxy:3128", "user:**********@proxy:3128"),
        ("http://user:p@ss@w0rd@proxy:3128", "http://user:**********@proxy:3128"),
        ("http://user:SECRET@proxy:3128/x", "http://user:**********@proxy:3128/x"),
        ("socks5://TOKENONLY@proxy:1080", "socks5://**********@proxy:1080"),
        ("http://proxy:3128", "http://proxy:3128"),
        ("https://api.example.com/v1/models/a@b", "https://api.example.com/v1/models/a@b"),
    ],
)
def test_credentials_in_proxy_and_api_urls_are_masked_unless_revealed(url: str, shown: str) -> None:
    provider = Provider(name="p", proxy_url=url, api_base=url)
    secret_parts = [part for part in ("SECRET", "p@ss@w0rd", "TOKENONLY") if part in url]
    for text in (repr(provider), str(provider), provider.model_dump_json()):
        assert all(part not in text for part in secret_parts)
    assert provider.model_dump(mode="json")["proxy_url"] == shown
    assert provider.model_dump(mode="json", context=REVEAL_SECRETS)["proxy_url"] == url
    assert provider.proxy_url == url  # the value itself is untouched


# --- secrets from the environment -----------------------------------------------------------


@pytest.mark.parametrize("reference", ["${LLMROUTE_TEST_KEY}", "os.environ/LLMROUTE_TEST_KEY"])
def test_a_secret_reference_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, reference: str
) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_KEY", "sk-from-env-0123456789")
    provider = Provider(name="p", token=reference)
    assert provider.access_token() == "sk-from-env-0123456789"
    assert isinstance(provider.token, EnvSecret) and provider.token.reference == reference
    for text in (repr(provider), str(provider), provider.model_dump_json()):
        assert "sk-from-env" not in text


def test_a_dump_writes_the_reference_back_unless_revealed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_KEY", "sk-from-env-0123456789")
    config = RoutingConfig.model_validate(
        {"providers": [{"name": "p", "token": "${LLMROUTE_TEST_KEY}"}]}
    )
    assert config.model_dump(mode="json")["providers"][0]["token"] == "${LLMROUTE_TEST_KEY}"
    assert config.model_dump()["providers"][0]["token"] == "${LLMROUTE_TEST_KEY}"
    revealed = config.model_dump(mode="json", context=REVEAL_SECRETS)
    assert revealed["providers"][0]["token"] == "sk-from-env-0123456789"
    again = RoutingConfig.model_validate_json(config.model_dump_json())
    assert again == config and again.providers[0].access_token() == "sk-from-env-0123456789"


def test_a_missing_variable_is_a_config_error_naming_path_and_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMROUTE_TEST_MISSING", raising=False)
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(
            {"providers": [{"name": "p", "token": "os.environ/LLMROUTE_TEST_MISSING"}]}
        )
    assert str(info.value) == (
        "providers[0].token: environment variable LLMROUTE_TEST_MISSING is not set "
        "(the document says 'os.environ/LLMROUTE_TEST_MISSING')"
    )


def test_oauth_tokens_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_ACCESS", "oat-secret-access")
    detail = OAuthDetail(access_token="${LLMROUTE_TEST_ACCESS}")
    provider = Provider(name="p", auth_type="oauth", oauth_detail=detail)
    assert provider.access_token() == "oat-secret-access"
    assert "oat-secret" not in provider.model_dump_json() + repr(provider)
    with pytest.raises(ConfigError, match=r"oauth_detail\.refresh_token: environment variable"):
        Provider.model_validate(
            {
                "name": "p",
                "auth_type": "oauth",
                "oauth_detail": {"refresh_token": "${LLMROUTE_NOPE_X}"},
            }
        )


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_variable_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_EMPTY", value)
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate(
            {"providers": [{"name": "p", "token": "${LLMROUTE_TEST_EMPTY}"}]}
        )
    assert info.value.problems == (
        (
            "providers[0].token",
            "environment variable LLMROUTE_TEST_EMPTY is empty (the document says "
            "'${LLMROUTE_TEST_EMPTY}'); write '' for no secret",
        ),
    )


@pytest.mark.parametrize("field", ["api_base", "proxy_url"])
@pytest.mark.parametrize("reference", ["${LLMROUTE_TEST_KEY}", "os.environ/LLMROUTE_TEST_KEY"])
def test_a_reference_in_a_url_field_is_an_error_not_a_literal_url(
    monkeypatch: pytest.MonkeyPatch, field: str, reference: str
) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_KEY", "https://example.test")
    with pytest.raises(ConfigError) as info:
        RoutingConfig.model_validate({"providers": [{"name": "p", field: reference}]})
    ((path, message),) = info.value.problems
    assert path == f"providers[0].{field}"
    assert message.startswith(f"{reference!r} would be taken literally")
    assert "read only in token" in message


def test_a_reference_inside_other_text_is_taken_literally() -> None:
    provider = Provider(name="p", token="Bearer ${NOT_A_REFERENCE}")
    assert provider.access_token() == "Bearer ${NOT_A_REFERENCE}"


def test_an_environment_secret_equals_the_same_plain_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LLMROUTE_TEST_KEY", "k")
    assert Provider(name="p", token="${LLMROUTE_TEST_KEY}") == Provider(name="p", token="k")
    assert Provider(name="p", token="k") == Provider(name="p", token="${LLMROUTE_TEST_KEY}")
