"""The provider SDKs, imported on first use, and the client options a provider calls for.

Neither SDK is a dependency of llmroute: each is an extra (``llmroute[openai]``,
``llmroute[anthropic]``), imported the first time a client of its style is built, so a
process that only talks to one kind of provider needs only that SDK.
"""

from __future__ import annotations

import hashlib
import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from ..config import Provider
from ..errors import ConfigError

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic
    from openai import AsyncOpenAI, OpenAI

    SyncClient = OpenAI | Anthropic
    AsyncClient = AsyncOpenAI | AsyncAnthropic

Style = Literal["openai", "anthropic"]

#: What the SDKs are sent for a provider that needs no key: they refuse to build without one,
#: and a keyless server (a local Ollama or vLLM) ignores whatever arrives.
NO_KEY = "no-key-required"


def import_sdk(style: Style) -> ModuleType:
    """The SDK module of ``style``; an ImportError that says how to install it when missing."""
    try:
        return importlib.import_module(style)
    except ImportError as error:
        raise ImportError(
            f"llmroute.clients needs the {style} package for providers with api_style "
            f"{style!r}: pip install 'llmroute[{style}]'"
        ) from error


def credential(provider: Provider) -> str:
    """The key or OAuth token to send; a ConfigError when the provider has none and needs one."""
    token = provider.access_token()
    if token:
        return token
    if provider.no_key_required:
        return NO_KEY
    field = "oauth_detail.access_token" if provider.auth_type == "oauth" else "token"
    raise ConfigError(
        f"provider {provider.name!r}: {field} is empty; set it (or ${{VAR}} to read the "
        "environment), or set no_key_required: true for a server that needs no key"
    )


def fingerprint(provider: Provider) -> str:
    """A digest of everything a client is built from (the credential included, so a rotated
    key or a refreshed OAuth token makes a new client). A digest, so the pool never keeps a
    copy of a secret beside the client that holds it."""
    parts = (
        provider.api_style,
        provider.api_base,
        provider.auth_type,
        credential(provider),
        provider.proxy_url,
        str(provider.timeout),
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def proxy_of(proxy_url: str) -> str:
    """The proxy URL httpx is given: one written without a scheme (``user:pass@proxy:3128``,
    which the config allows) is an HTTP proxy."""
    return proxy_url if "://" in proxy_url else f"http://{proxy_url}"


def _options(sdk: ModuleType, provider: Provider, *, asynchronous: bool) -> dict[str, Any]:
    timeout = float(provider.timeout)
    http = sdk.DefaultAsyncHttpxClient if asynchronous else sdk.DefaultHttpxClient
    # the SDK's own httpx client class keeps its defaults (connection limits, redirects);
    # the proxy can only be given to the httpx client, not to the SDK client
    http_options: dict[str, Any] = {"timeout": timeout}
    if provider.proxy_url:
        http_options["proxy"] = proxy_of(provider.proxy_url)
    options: dict[str, Any] = {
        "timeout": timeout,
        "max_retries": 0,  # llmroute retries and fails over; SDK retries would hit the same one
        "http_client": http(**http_options),
    }
    if provider.api_base:
        options["base_url"] = provider.api_base
    token = credential(provider)
    if provider.api_style == "anthropic" and provider.auth_type == "oauth":
        options["auth_token"] = token  # sent as Authorization: Bearer, not x-api-key
    else:
        options["api_key"] = token
    return options


def build_sync(provider: Provider) -> SyncClient:
    """A new ``openai.OpenAI`` or ``anthropic.Anthropic`` for ``provider``."""
    sdk = import_sdk(provider.api_style)
    cls = sdk.OpenAI if provider.api_style == "openai" else sdk.Anthropic
    client: SyncClient = cls(**_options(sdk, provider, asynchronous=False))
    return client


def build_async(provider: Provider) -> AsyncClient:
    """A new ``openai.AsyncOpenAI`` or ``anthropic.AsyncAnthropic`` for ``provider``."""
    sdk = import_sdk(provider.api_style)
    cls = sdk.AsyncOpenAI if provider.api_style == "openai" else sdk.AsyncAnthropic
    client: AsyncClient = cls(**_options(sdk, provider, asynchronous=True))
    return client
