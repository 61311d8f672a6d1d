"""Providers: an API endpoint with its credentials. Secrets never show unless revealed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import (
    Field,
    FieldSerializationInfo,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)

from ._base import ConfigModel, invalid
from ._bounds import Timeout
from ._secret import SecretField, dump_secret, mask_url, no_reference, reveals


class OAuthDetail(ConfigModel):
    """OAuth credentials of a provider whose ``auth_type`` is ``"oauth"``.

    ``expires_at`` is an RFC 3339 timestamp (timezone-aware; a naive one is read as UTC).
    """

    access_token: SecretField = SecretStr("")
    provider_type: str = ""
    user_id: str = ""
    refresh_token: SecretField = SecretStr("")
    expires_at: datetime | None = None
    extra_fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value

    @field_validator("extra_fields", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_serializer("access_token", "refresh_token")
    def _secret(self, value: SecretStr, info: FieldSerializationInfo) -> Any:
        return dump_secret(value, info)

    def is_expired(self, now: float | None = None, *, leeway: float = 0.0) -> bool:
        """True when ``expires_at`` is at or before ``now + leeway`` (epoch seconds).

        ``now`` defaults to the wall clock. A token without ``expires_at`` never expires.
        """
        if self.expires_at is None:
            return False
        current = time.time() if now is None else now
        return self.expires_at.timestamp() <= current + leeway


class Provider(ConfigModel):
    """An API endpoint and its credentials.

    ``uuid`` or ``name`` is what a :class:`Service` names as its ``provider``. ``timeout`` is
    in seconds. ``token`` (and the OAuth tokens) are secrets: they never appear in ``repr``,
    ``str`` or a dump unless the dump is given ``context=REVEAL_SECRETS``; read the one to
    send with :meth:`access_token`. A secret field may name an environment variable
    instead, ``${OPENAI_API_KEY}`` or ``os.environ/OPENAI_API_KEY``: it is read at load (a
    missing one is a :class:`ConfigError`) and dumps write the reference back. Credentials
    in the user info of ``api_base`` or ``proxy_url`` (``http://user:pass@proxy:3128``,
    with or without a scheme) are masked in ``repr`` and dumps the same way.
    """

    uuid: str = ""
    name: str = Field(min_length=1)
    api_base: str = ""
    api_style: Literal["openai", "anthropic"] = "openai"
    token: SecretField = SecretStr("")
    no_key_required: bool = False
    enabled: bool = True
    proxy_url: str = ""
    timeout: Timeout = 1800
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    last_updated: str = ""
    auth_type: Literal["api_key", "oauth"] = "api_key"
    oauth_detail: OAuthDetail | None = None

    @field_validator("tags", "models", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("api_base", "proxy_url")
    @classmethod
    def _no_reference(cls, value: str) -> str:
        return str(no_reference(value))

    @field_validator("name", "uuid")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value:
            raise ValueError("must not contain ':' (it separates provider and model in ids)")
        return value

    @model_validator(mode="after")
    def _oauth_needs_detail(self) -> Provider:
        if self.auth_type == "oauth" and self.oauth_detail is None:
            raise invalid(
                type(self).__name__, [(("oauth_detail",), "required when auth_type is 'oauth'")]
            )
        return self

    @field_serializer("token")
    def _secret(self, value: SecretStr, info: FieldSerializationInfo) -> Any:
        return dump_secret(value, info)

    @field_serializer("api_base", "proxy_url")
    def _url(self, value: str, info: FieldSerializationInfo) -> str:
        return value if reveals(info) else mask_url(value)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name in ("api_base", "proxy_url") and isinstance(value, str):
                value = mask_url(value)
            yield name, value

    def access_token(self) -> str:
        """The credential to send, in clear text: the OAuth access token for ``"oauth"``
        providers, the API key (``token``) otherwise. Calling this is revealing it."""
        if self.auth_type == "oauth" and self.oauth_detail is not None:
            return self.oauth_detail.access_token.get_secret_value()
        return self.token.get_secret_value()

    def is_expired(self, now: float | None = None, *, leeway: float = 0.0) -> bool:
        """True when this is an OAuth provider whose access token has expired."""
        if self.auth_type != "oauth" or self.oauth_detail is None:
            return False
        return self.oauth_detail.is_expired(now, leeway=leeway)
