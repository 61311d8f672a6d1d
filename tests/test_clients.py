"""ClientPool: the real openai and anthropic SDKs, built from providers, against the local
fake server (tests/fake_llm_server.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from fake_llm_server import FakeLLMServer, ok, rate_limited, stall

from llmroute import ConfigError, Provider, RoutingConfig, ServiceSelector
from llmroute.clients import ClientPool

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello"}]
SRC = Path(__file__).resolve().parent.parent / "src"


def provider(
    server: FakeLLMServer, name: str, style: str = "openai", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "api_style": style,
        "api_base": server.url(name),
        "token": f"sk-{name}-secret",
        **extra,
    }


def config(*providers: dict[str, Any]) -> RoutingConfig:
    services = [{"provider": p["name"], "model": f"m-{p['name']}"} for p in providers]
    rule = {"uuid": "chat", "request_model": "chat", "services": services}
    return RoutingConfig.model_validate({"providers": list(providers), "rules": [rule]})


def chat(client: openai.OpenAI) -> str:
    reply = client.chat.completions.create(model="m", messages=MESSAGES)
    return reply.choices[0].message.content or ""


def message(client: anthropic.Anthropic) -> str:
    reply = client.messages.create(model="m", max_tokens=16, messages=MESSAGES)
    block = reply.content[0]
    assert block.type == "text"
    return block.text


def credential_sent(headers: dict[str, str]) -> str:
    """The key a request carried: anthropic SDKs send ``x-api-key`` (newer ones a bearer)."""
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


# --- built from the provider -------------------------------------------------------------------


def test_an_openai_provider_gets_an_openai_client_with_its_settings(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "oa", timeout=7)))
    client = pool.openai("oa")
    assert isinstance(client, openai.OpenAI)
    assert pool.client("oa") is client
    assert client.timeout == 7.0
    assert client.max_retries == 0
    assert str(client.base_url) == server.url("oa") + "/"
    assert chat(client) == "hello from oa"
    (request,) = server.requests("oa")
    assert request.headers["authorization"] == "Bearer sk-oa-secret"
    pool.close()
    assert client.is_closed()


def test_an_anthropic_provider_gets_an_anthropic_client_with_its_settings(
    server: FakeLLMServer,
) -> None:
    pool = ClientPool(config(provider(server, "an", "anthropic", timeout=9)))
    client = pool.anthropic("an")
    assert isinstance(client, anthropic.Anthropic)
    assert (client.timeout, client.max_retries) == (9.0, 0)
    assert str(client.base_url) == server.url("an") + "/"
    assert message(client) == "hello from an"
    (request,) = server.requests("an")
    assert credential_sent(request.headers) == "sk-an-secret"
    pool.close()
    assert client.is_closed()


def test_async_clients_of_both_sdks_call_and_close(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "oa"), provider(server, "an", "anthropic")))

    async def run() -> tuple[str, str, openai.AsyncOpenAI, anthropic.AsyncAnthropic]:
        oa, an = pool.async_openai("oa"), pool.async_anthropic("an")
        assert pool.async_client("oa") is oa
        assert (oa.max_retries, an.max_retries, oa.timeout, an.timeout) == (0, 0, 1800.0, 1800.0)
        first = await oa.chat.completions.create(model="m", messages=MESSAGES)
        second = await an.messages.create(model="m", max_tokens=16, messages=MESSAGES)
        await pool.aclose()
        block = second.content[0]
        assert block.type == "text"
        return first.choices[0].message.content or "", block.text, oa, an

    text_oa, text_an, oa, an = asyncio.run(run())
    assert (text_oa, text_an) == ("hello from oa", "hello from an")
    assert oa.is_closed() and an.is_closed()


def test_a_target_may_be_a_provider_a_service_a_service_id_or_a_uuid(
    server: FakeLLMServer,
) -> None:
    cfg = config(provider(server, "oa", uuid="u-1"))
    pool = ClientPool(cfg)
    client = pool.client("oa")
    service = cfg.rules[0].services[0]
    for target in (cfg.providers[0], service, service.service_id, "oa:m-oa", "u-1"):
        assert pool.client(target) is client


def test_the_clients_serve_selector_execute_with_failover(server: FakeLLMServer) -> None:
    cfg = config(provider(server, "primary"), provider(server, "backup", "anthropic"))
    server.script("primary", [rate_limited(retry_after=20)])
    selector = ServiceSelector.from_config(cfg)
    pool = ClientPool(cfg)

    def call(service: Any, provider: Provider | None) -> Any:
        assert provider is not None
        if provider.api_style == "anthropic":
            return pool.anthropic(provider).messages.create(
                model=service.model, max_tokens=16, messages=MESSAGES
            )
        return pool.openai(provider).chat.completions.create(model=service.model, messages=MESSAGES)

    served = {selector.execute("chat", {"model": "chat"}, call).service_id for _ in range(6)}
    assert "backup:m-backup" in served  # the 429 failed over to the other SDK's client
    pool.close()


# --- proxy and timeout ---------------------------------------------------------------------------


def proxied(server: FakeLLMServer, name: str, style: str = "openai") -> dict[str, Any]:
    """A provider at a host that does not exist, reachable only through the fake server as
    its HTTP proxy."""
    root = server.url(name).rsplit("/", 1)[0]
    return provider(server, name, style, api_base=f"http://upstream.invalid/{name}", proxy_url=root)


def test_the_proxy_is_applied_on_the_sdks_http_client(server: FakeLLMServer) -> None:
    pool = ClientPool(config(proxied(server, "po"), proxied(server, "pa", "anthropic")))
    assert chat(pool.openai("po")) == "hello from po"
    assert message(pool.anthropic("pa")) == "hello from pa"
    assert server.requests("po")[0].proxied_to == "http://upstream.invalid/po/chat/completions"
    assert server.requests("pa")[0].proxied_to == "http://upstream.invalid/pa/v1/messages"

    async def run() -> str:
        client = pool.async_openai("po")
        reply = await client.chat.completions.create(model="m", messages=MESSAGES)
        await pool.aclose()
        return reply.choices[0].message.content or ""

    assert asyncio.run(run()) == "hello from po"
    assert server.requests("po")[1].proxied_to.startswith("http://upstream.invalid/po/")
    pool.close()


def test_a_proxy_url_without_a_scheme_is_an_http_proxy(server: FakeLLMServer) -> None:
    bare = proxied(server, "po")
    bare["proxy_url"] = bare["proxy_url"].removeprefix("http://")
    pool = ClientPool(config(bare))
    assert chat(pool.openai("po")) == "hello from po"
    assert server.requests("po")[0].proxied_to == "http://upstream.invalid/po/chat/completions"
    pool.close()


def test_without_a_proxy_url_the_http_client_goes_direct(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "oa")))
    chat(pool.openai("oa"))
    assert server.requests("oa")[0].proxied_to == ""
    pool.close()


def test_the_timeout_is_applied_to_calls(server: FakeLLMServer) -> None:
    server.script("slow", [stall()])
    pool = ClientPool(config(provider(server, "slow", timeout=1)))
    with pytest.raises(openai.APITimeoutError):
        chat(pool.openai("slow"))
    assert server.calls("slow") == 1  # max_retries=0: the SDK did not try again
    pool.close()


# --- reloads -------------------------------------------------------------------------------------


def test_a_reload_closes_changed_and_removed_providers_clients_and_keeps_the_rest(
    server: FakeLLMServer,
) -> None:
    a, b, c = provider(server, "a"), provider(server, "b"), provider(server, "c", "anthropic")
    pool = ClientPool(config(a, b, c))
    old_a, old_b, old_c = pool.client("a"), pool.client("b"), pool.client("c")
    pool.update_config(config({**a, "token": "sk-a-rotated"}, {**b, "tags": ["kept"]}))
    assert old_a.is_closed() and old_c.is_closed()
    assert not old_b.is_closed() and pool.client("b") is old_b  # tags do not shape a client
    new_a = pool.openai("a")
    assert new_a is not old_a
    chat(new_a)
    assert server.requests("a")[-1].headers["authorization"] == "Bearer sk-a-rotated"
    with pytest.raises(ConfigError, match="no provider 'c'"):
        pool.client("c")
    pool.close()


def test_an_async_reload_closes_the_replaced_async_clients(server: FakeLLMServer) -> None:
    a, b = provider(server, "a"), provider(server, "b", "anthropic")
    pool = ClientPool(config(a, b))

    async def run() -> list[bool]:
        old_a, old_b = pool.async_client("a"), pool.async_client("b")
        await pool.aupdate_config(config({**a, "timeout": 30}, b))
        assert pool.async_client("b") is old_b
        new_a = pool.async_openai("a")
        closed = [old_a.is_closed(), old_b.is_closed(), new_a.timeout == 30.0]
        await pool.aclose()
        return closed

    assert asyncio.run(run()) == [True, False, True]


def test_a_provider_given_with_new_settings_gets_a_new_client(server: FakeLLMServer) -> None:
    a = provider(server, "a")
    pool = ClientPool(config(a))
    old = pool.client("a")
    newer = Provider.model_validate({**a, "token": "sk-a-new"})  # e.g. a selector reloaded first
    client = pool.openai(newer)
    assert client is not old and old.is_closed()
    assert pool.client(newer) is client


# --- OAuth ---------------------------------------------------------------------------------------


def oauth(server: FakeLLMServer, name: str, style: str, token: str) -> dict[str, Any]:
    detail = {
        "access_token": token,
        "refresh_token": "rt-secret",
        "expires_at": "2030-01-01T00:00:00Z",
    }
    return provider(server, name, style, token="", auth_type="oauth", oauth_detail=detail)


def test_oauth_providers_send_the_access_token_and_a_refresh_makes_a_new_client(
    server: FakeLLMServer,
) -> None:
    pool = ClientPool(
        config(oauth(server, "ao", "anthropic", "oat-1"), oauth(server, "oo", "openai", "oat-o"))
    )
    first = pool.anthropic("ao")
    message(first)
    chat(pool.openai("oo"))
    sent = server.requests("ao")[-1].headers
    assert sent["authorization"] == "Bearer oat-1" and "x-api-key" not in sent  # auth_token
    assert server.requests("oo")[-1].headers["authorization"] == "Bearer oat-o"

    pool.update_config(config(oauth(server, "ao", "anthropic", "oat-2")))  # the refreshed token
    assert first.is_closed()
    message(pool.anthropic("ao"))
    assert server.requests("ao")[-1].headers["authorization"] == "Bearer oat-2"
    pool.close()


# --- errors and secrets --------------------------------------------------------------------------


def test_a_missing_sdk_is_an_import_error_saying_how_to_install_it(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openai", None)  # import openai now raises ImportError
    pool = ClientPool(config(provider(server, "oa"), provider(server, "an", "anthropic")))
    with pytest.raises(ImportError, match=r"pip install 'llmroute\[openai\]'"):
        pool.client("oa")
    assert message(pool.anthropic("an")) == "hello from an"  # the other SDK still serves
    pool.close()


def test_the_package_imports_without_either_sdk() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] in ('openai', 'anthropic'):\n"
        "            raise ImportError(f'blocked {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from llmroute import RoutingConfig\n"
        "from llmroute.clients import ClientPool\n"
        "config = RoutingConfig.model_validate({'providers': [{'name': 'a', 'token': 't'}]})\n"
        "pool = ClientPool(config)\n"
        "try:\n"
        "    pool.client('a')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC)},
        timeout=60,
        check=True,
    )
    assert "pip install 'llmroute[openai]'" in done.stdout


def test_bad_targets_and_missing_keys_are_clear_config_errors(server: FakeLLMServer) -> None:
    pool = ClientPool(
        config(
            provider(server, "oa"),
            provider(server, "an", "anthropic"),
            provider(server, "nk", token=""),
        )
    )
    with pytest.raises(
        ConfigError, match=r"no provider 'zz' in the pool's config \(providers: an, nk, oa\)"
    ):
        pool.client("zz")
    with pytest.raises(ConfigError, match="provider 'an' has api_style 'anthropic', not 'openai'"):
        pool.openai("an")
    with pytest.raises(ConfigError, match=r"provider 'nk': token is empty.*no_key_required"):
        pool.client("nk")


def test_a_provider_that_needs_no_key_gets_a_placeholder(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "local", token="", no_key_required=True)))
    assert chat(pool.openai("local")) == "hello from local"
    assert server.requests("local")[0].headers["authorization"] == "Bearer no-key-required"
    pool.close()


def test_no_secret_in_the_pools_repr(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "oa", proxy_url="http://user:pw-secret@proxy:3128")))
    pool.client("oa")
    text = repr(pool)
    assert "sk-oa-secret" not in text and "pw-secret" not in text
    assert "oa" in text
    pool.close()


def test_threads_asking_at_once_share_one_client(server: FakeLLMServer) -> None:
    pool = ClientPool(config(provider(server, "oa")))
    barrier = threading.Barrier(8)
    got: list[object] = []

    def ask() -> None:
        barrier.wait()
        got.append(pool.client("oa"))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and all(client is got[0] for client in got)
    pool.close()


def test_streams_report_usage_when_asked(server: FakeLLMServer) -> None:
    server.script("oa", [ok()])
    pool = ClientPool(config(provider(server, "oa")))
    stream = pool.openai("oa").chat.completions.create(
        model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "hello from oa"
    assert server.requests("oa")[0].body["stream_options"] == {"include_usage": True}
    pool.close()
