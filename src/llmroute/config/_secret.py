"""Secrets in documents: references to the environment, masking in dumps, URL passwords.

A secret field (a provider's ``token``, the OAuth tokens) may hold ``${VAR}`` or LiteLLM's
``os.environ/VAR`` instead of the secret: it is read from the environment when the document
is validated, and a dump writes the reference back (never the value) unless secrets are
revealed with ``context=REVEAL_SECRETS``.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, FieldSerializationInfo, SecretStr

__all__ = [
    "MASK",
    "REVEAL_SECRETS",
    "EnvSecret",
    "SecretField",
    "dump_secret",
    "mask_url",
    "no_reference",
    "reveals",
]

#: Pass as ``context`` to ``model_dump``/``model_dump_json`` to write secrets in clear text:
#: ``config.model_dump_json(context=REVEAL_SECRETS)``. Without it they dump as ``**********``
#: (or as the ``${VAR}`` reference they were read from).
REVEAL_SECRETS: dict[str, bool] = {"reveal_secrets": True}

MASK = "**********"

# A whole value that names an environment variable: ${VAR} or os.environ/VAR.
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|os\.environ/([A-Za-z_][A-Za-z0-9_]*)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


class EnvSecret(SecretStr):
    """A secret read from an environment variable; ``reference`` is how the document named
    it (``${OPENAI_API_KEY}``). It compares equal to any secret with the same value."""

    def __init__(self, secret_value: str, reference: str) -> None:
        super().__init__(secret_value)
        self.reference = reference

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and self.get_secret_value() == other.get_secret_value()

    def __hash__(self) -> int:
        return hash(self.get_secret_value())

    def __repr__(self) -> str:
        return f"SecretStr('{MASK}', from {self.reference})"


def _from_environment(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    match = _REFERENCE.fullmatch(value.strip())
    if match is None:
        return value
    name = match.group(1) or match.group(2)
    found = os.environ.get(name)
    if found is None:
        raise ValueError(
            f"environment variable {name} is not set (the document says {value.strip()!r})"
        )
    if not found.strip():
        raise ValueError(
            f"environment variable {name} is empty (the document says {value.strip()!r}); "
            "write '' for no secret"
        )
    return EnvSecret(found, value.strip())


def no_reference(value: Any) -> Any:
    """Refuse a whole-value ``${VAR}`` / ``os.environ/VAR`` where it would be taken as text
    (a URL): only the secret fields read the environment."""
    if isinstance(value, str) and _REFERENCE.fullmatch(value.strip()):
        raise ValueError(
            f"{value.strip()!r} would be taken literally: environment references are read "
            "only in token, oauth_detail.access_token and oauth_detail.refresh_token"
        )
    return value


#: A secret field: a string, or a reference to an environment variable read at validation.
SecretField = Annotated[SecretStr, BeforeValidator(_from_environment)]


def reveals(info: FieldSerializationInfo) -> bool:
    """Whether a dump was asked to write secrets in clear text."""
    context = info.context
    return isinstance(context, dict) and bool(context.get("reveal_secrets"))


def dump_secret(value: SecretStr | None, info: FieldSerializationInfo) -> Any:
    """A secret as a dump writes it: the value when revealed, else its environment
    reference, else masked (JSON) or the ``SecretStr`` itself (Python)."""
    if value is None:
        return None
    if reveals(info):
        return value.get_secret_value()
    if isinstance(value, EnvSecret):
        return value.reference
    if info.mode_is_json():
        return MASK if value.get_secret_value() else ""
    return value


def mask_url(url: str) -> str:
    """``url`` with the credentials of its user info masked: ``user:PASSWORD@host`` keeps
    the user, a user alone (often a token) is masked whole. With or without a scheme, and
    with a raw ``@`` in the password (everything up to the last ``@`` is user info)."""
    scheme = _SCHEME.match(url)
    start = scheme.end() if scheme else 0
    at = url.rfind("@", start)
    if at < 0:
        return url
    userinfo = url[start:at]
    if not userinfo:
        return url
    user, colon, _ = userinfo.partition(":")
    if "/" in user or "?" in user or "#" in user:  # an "@" in a path or query, not a user
        return url
    shown = f"{user}:{MASK}" if colon else MASK
    return f"{url[:start]}{shown}{url[at:]}"
