"""ClientPool: one SDK client per provider (sync and async), built on first use and kept."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from ..config import Provider, RoutingConfig, Service, ServiceID
from ..errors import ConfigError
from ._sdk import build_async, build_sync, fingerprint

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic
    from openai import AsyncOpenAI, OpenAI

    from ._sdk import AsyncClient, SyncClient

Target = Provider | Service | ServiceID | str
C = TypeVar("C")


class _Built(Generic[C]):
    """A client and the fingerprint of the provider settings it was built from."""

    __slots__ = ("client", "fingerprint", "provider")

    def __init__(self, client: C, provider: Provider) -> None:
        self.client = client
        self.provider = provider  # the one last seen: the same object needs no new digest
        self.fingerprint = fingerprint(provider)

    def serves(self, provider: Provider) -> bool:
        """True when this client was built from ``provider``'s settings."""
        if provider is self.provider:
            return True
        if fingerprint(provider) != self.fingerprint:
            return False
        self.provider = provider
        return True


class ClientPool:
    """The SDK clients of a configuration's providers, one per provider and kind.

    ``client(target)`` answers the ``openai.OpenAI`` or ``anthropic.Anthropic`` client the
    provider's ``api_style`` calls for, ``async_client(target)`` the ``AsyncOpenAI`` /
    ``AsyncAnthropic`` one; ``openai()``, ``anthropic()``, ``async_openai()`` and
    ``async_anthropic()`` answer the same, typed, and check the style. A target is a
    :class:`Provider` (what ``fn(service, provider)`` is given), a :class:`Service` or service
    id, or a provider's name or uuid. Each client is built on first use with the provider's
    ``api_base``, credential (``access_token()``: the API key, or the OAuth access token),
    ``timeout`` and ``proxy_url`` (on the SDK's httpx client), and ``max_retries=0``: llmroute
    retries and fails over. Building is thread-safe; a client is reused until its provider's
    settings change.

    A provider passed in whose settings differ from the cached client's (a rotated key, a
    refreshed OAuth token) gets a new client, and so does every provider whose settings
    ``update_config`` changes; the replaced clients and those of removed providers are
    closed (async ones by ``aupdate_config`` or ``aclose``). The pool does not refresh OAuth
    tokens itself: load the refreshed token into the config and call ``update_config``.
    A call still running on a client that is closed may fail (and fail over).

    Async clients belong to the event loop that first used them: keep the pool's async
    clients on one loop, and ``await pool.aclose()`` before that loop ends.
    """

    def __init__(self, config: RoutingConfig) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._sync: dict[str, _Built[SyncClient]] = {}
        self._async: dict[str, _Built[AsyncClient]] = {}
        self._retired_async: list[AsyncClient] = []

    def __repr__(self) -> str:
        return f"ClientPool(sync={sorted(self._sync)}, async={sorted(self._async)})"

    @property
    def config(self) -> RoutingConfig:
        """The configuration the pool builds clients from."""
        return self._config

    def provider(self, target: Target) -> Provider:
        """The provider a target names; a ConfigError naming it when the config has none."""
        if isinstance(target, Provider):
            return target
        key = target.provider if isinstance(target, Service) else str(target)
        if ":" in key:  # a service id: provider names never hold ":"
            key = ServiceID.parse(key).provider
        found = self._config.get_provider(key)
        if found is None:
            known = ", ".join(sorted(p.name for p in self._config.providers)) or "none"
            raise ConfigError(f"no provider {key!r} in the pool's config (providers: {known})")
        return found

    def client(self, target: Target) -> SyncClient:
        """The sync SDK client of ``target``'s provider."""
        provider = self.provider(target)
        retired = None
        with self._lock:
            built = self._sync.get(provider.name)
            if built is None or not built.serves(provider):
                retired = built
                built = _Built(build_sync(provider), provider)
                self._sync[provider.name] = built
        if retired is not None:
            retired.client.close()
        return built.client

    def async_client(self, target: Target) -> AsyncClient:
        """The async SDK client of ``target``'s provider."""
        provider = self.provider(target)
        with self._lock:
            built = self._async.get(provider.name)
            if built is None or not built.serves(provider):
                if built is not None:
                    self._retired_async.append(built.client)
                built = _Built(build_async(provider), provider)
                self._async[provider.name] = built
        return built.client

    def openai(self, target: Target) -> OpenAI:
        """:meth:`client`, for a provider whose ``api_style`` is ``"openai"``."""
        return cast("OpenAI", self.client(self._styled(target, "openai")))

    def async_openai(self, target: Target) -> AsyncOpenAI:
        """:meth:`async_client`, for a provider whose ``api_style`` is ``"openai"``."""
        return cast("AsyncOpenAI", self.async_client(self._styled(target, "openai")))

    def anthropic(self, target: Target) -> Anthropic:
        """:meth:`client`, for a provider whose ``api_style`` is ``"anthropic"``."""
        return cast("Anthropic", self.client(self._styled(target, "anthropic")))

    def async_anthropic(self, target: Target) -> AsyncAnthropic:
        """:meth:`async_client`, for a provider whose ``api_style`` is ``"anthropic"``."""
        return cast("AsyncAnthropic", self.async_client(self._styled(target, "anthropic")))

    def _styled(self, target: Target, style: str) -> Provider:
        provider = self.provider(target)
        if provider.api_style != style:
            raise ConfigError(
                f"provider {provider.name!r} has api_style {provider.api_style!r}, not "
                f"{style!r}: ask the pool for its {provider.api_style} client"
            )
        return provider

    def update_config(self, config: RoutingConfig) -> None:
        """Use ``config`` from now on: the sync clients of providers that changed or went
        away are closed now; async ones are closed by :meth:`aupdate_config` or
        :meth:`aclose`. Clients of unchanged providers are kept."""
        with self._lock:
            self._config = config
            stale_sync = _stale(self._sync, config)
            self._retired_async.extend(built.client for built in _stale(self._async, config))
        for built in stale_sync:
            built.client.close()

    async def aupdate_config(self, config: RoutingConfig) -> None:
        """:meth:`update_config`, then close the replaced async clients."""
        self.update_config(config)
        await self._close_retired()

    def close(self) -> None:
        """Close every sync client (the pool builds new ones if used again)."""
        with self._lock:
            clients = [built.client for built in self._sync.values()]
            self._sync.clear()
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """Close every client, sync and async."""
        self.close()
        with self._lock:
            self._retired_async.extend(built.client for built in self._async.values())
            self._async.clear()
        await self._close_retired()

    async def _close_retired(self) -> None:
        with self._lock:
            retired, self._retired_async = self._retired_async, []
        for client in retired:
            await client.close()


def _stale(cache: dict[str, _Built[C]], config: RoutingConfig) -> list[_Built[C]]:
    """Takes out of ``cache`` the clients whose provider left ``config`` or changed."""
    stale: list[_Built[C]] = []
    for name, built in list(cache.items()):
        provider = config.get_provider(name)
        if provider is None or _digest_or_none(provider) != built.fingerprint:
            stale.append(cache.pop(name))
    return stale


def _digest_or_none(provider: Provider) -> str | None:
    try:
        return fingerprint(provider)
    except ConfigError:  # a provider that lost its credential: its client goes
        return None
