"""The in-situ case: llmroute's own share of real requests, next to a hand-written floor.

Tight loops keep llmroute's code and data hot in the CPU caches; an app calls ``select()``
between real provider calls, which evict them. Here every timed call comes right after a
real ``openai.AsyncOpenAI`` chat completion to the tests' fake LLM server
(``tests/fake_llm_server.py``), run in a child process on 127.0.0.1 (a free port) with
HTTP/1.1 keep-alive, as a provider's API would be: the child holds no GIL of ours.

Per request, in turns (the order of llmroute and the floor flips every request):

* ``select()`` timed on its own, then the real call to the service it chose, then
  ``record()`` of its success timed on its own (stats, health, the session's pin: since the
  state core, only an outcome pins a session); likewise the hand-written
  :meth:`Floor.select` and :meth:`Floor.record`; and ``await selector.aselect()`` when the
  selector has one (its ``arecord()`` after the call is not timed);
* ``await selector.aexecute(rule, request, fn)`` timed whole, minus the time spent inside
  the SDK call (``fn`` times it with ``perf_counter_ns``): llmroute's own share; likewise
  the hand-written failover loop :meth:`Floor.aexecute` around the same SDK call.

The rule is 10 services (weights 1-3), random tactic, health monitor and 30-minute session
affinity; every request starts a new session (as in the tight-loop case
``select/random/10/health+affinity``), so the whole path runs: health, the session's pin
looked up (none), the weighted pick, and after the call the pin written. The floor gives the
same guarantees by hand: a dict of cooldown-until times checked per service (all cooled
down: pick among all), a weighted pick with ``random.Random``, a dict of session pins read
by its select and written by its record; its failover loop tries the chosen service, then
the others in order, catches exceptions, cools the failed service down, and records latency
and tokens in a dict and the session's pin to the service that served.

What the floor leaves out that llmroute must do (so the ratios overstate the waste): its
session is the ``X-Session-ID`` header only (llmroute: user id, two header names in any case,
then a conversation fingerprint); a new session's pick uses the shared rng, so two selects of
it may differ (llmroute draws from the session's own hash: one answer); its pins are an
unbounded dict (llmroute's store is bounded, LRU, with an expiry heap and per-service counts);
its record keeps sums (llmroute: usage windows, latency, speed and TTFT samples for the
percentiles and the EWMA, the health transition guarded by the read's ejection sequence, one
``Outcome`` a shared store could send); its failover cools a service down for any exception,
a bad request of the caller's own included, and keeps no in-flight counts, hooks, log, retry
budget or attempts (llmroute classifies each failure once and returns a ``RoutedResult``).
The floor does, like llmroute, health (with panic mode), pins with a TTL and a weighted pick.
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from random import Random
from time import monotonic, perf_counter, perf_counter_ns
from typing import Any

import _scenarios as sc
from _harness import Figure
from _netguard import NetGuard

__all__ = ["SERVICES", "insitu_available", "run_insitu"]

#: Services of the in-situ rule.
SERVICES = 10
#: How long the floor cools a failed service down (seconds).
COOLDOWN_SECONDS = 30.0

TESTS = Path(__file__).resolve().parent.parent / "tests"

# The child process: the tests' fake server, answering with keep-alive (HTTP/1.1; its JSON
# replies carry a content-length) and without Nagle's algorithm (headers and body are two
# writes: the body would wait out the client's delayed ACK, 40 ms), until its stdin closes.
_SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
import fake_llm_server
fake_llm_server._Handler.protocol_version = "HTTP/1.1"
fake_llm_server._Handler.disable_nagle_algorithm = True
server = fake_llm_server.FakeLLMServer().start()
print(server.url("p0").rsplit("/", 1)[0], flush=True)
sys.stdin.read()
server.stop()
"""


def insitu_available() -> str | None:
    """None when the case can run, else why not (the ``openai`` package is missing)."""
    try:
        import openai  # noqa: F401
    except ImportError:
        return "the openai package is not installed"
    if not (TESTS / "fake_llm_server.py").is_file():
        return f"no {TESTS / 'fake_llm_server.py'}"
    return None


@dataclass(frozen=True)
class FloorService:
    """A service of the floor: provider name, model, weight."""

    provider: str
    model: str
    weight: int


class Floor:
    """The hand-written router: what an app would write for health, weights and sessions."""

    def __init__(self, services: list[FloorService], session_ttl: float, seed: int) -> None:
        self.services = services
        self.cooldown_until: dict[str, float] = {s.provider: 0.0 for s in services}
        self.errors: dict[str, int] = {s.provider: 0 for s in services}
        self.pins: dict[str, tuple[FloorService, float]] = {}
        self.stats: dict[str, dict[str, float]] = {
            s.provider: {"requests": 0, "input_tokens": 0, "output_tokens": 0, "latency_ms": 0.0}
            for s in services
        }
        self.session_ttl = session_ttl
        self.rng = Random(seed)

    def select(self, headers: Mapping[str, str]) -> tuple[FloorService, str | None]:
        """The service for a request (and its session id): the session's live pin if its
        service is healthy, else a weighted pick among the healthy services (among all
        when none is). Writes nothing: :meth:`record` pins the session."""
        now = monotonic()
        session = headers.get("X-Session-ID")
        cooldown_until = self.cooldown_until
        if session is not None:
            pin = self.pins.get(session)
            if pin is not None and pin[1] > now and cooldown_until[pin[0].provider] <= now:
                return pin[0], session
        healthy = [s for s in self.services if cooldown_until[s.provider] <= now]
        if not healthy:
            healthy = self.services
        chosen = self.rng.choices(healthy, weights=[s.weight for s in healthy])[0]
        return chosen, session

    def record(
        self, service: FloorService, session: str | None, latency_ms: float, response: Any
    ) -> None:
        """A success of ``service``: its error count reset, its latency and tokens added up,
        the session pinned to it (unless it already is)."""
        name = service.provider
        self.errors[name] = 0
        stats = self.stats[name]
        stats["requests"] += 1
        stats["latency_ms"] += latency_ms
        usage = getattr(response, "usage", None)
        if usage is not None:
            stats["input_tokens"] += usage.prompt_tokens or 0
            stats["output_tokens"] += usage.completion_tokens or 0
        if session is not None:
            pin = self.pins.get(session)
            if pin is None or pin[0] is not service:
                self.pins[session] = (service, monotonic() + self.session_ttl)

    async def aexecute(
        self, headers: Mapping[str, str], call: Callable[[FloorService], Awaitable[Any]]
    ) -> Any:
        """Select, then try the chosen service and the other healthy ones in order."""
        chosen, session = self.select(headers)
        now = monotonic()
        order = [chosen] + [
            s for s in self.services if s is not chosen and self.cooldown_until[s.provider] <= now
        ]
        failure: BaseException | None = None
        for service in order:
            name = service.provider
            started = perf_counter()
            try:
                response = await call(service)
            except Exception as exc:  # any failure: cool the service down, try the next
                self.errors[name] += 1
                self.cooldown_until[name] = monotonic() + COOLDOWN_SECONDS
                failure = exc
                continue
            self.record(service, session, (perf_counter() - started) * 1000.0, response)
            return response
        assert failure is not None
        raise failure


class _Server:
    """The fake LLM server in a child process; ``base`` is its URL without a provider."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(TESTS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.base = self.process.stdout.readline().strip()
        if not self.base.startswith("http://127.0.0.1:"):
            self.close()
            raise RuntimeError(f"the fake LLM server did not start (said {self.base!r})")

    def close(self) -> None:
        process = self.process
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_insitu(requests: int, warmup: int, guard: NetGuard) -> dict[str, Any]:
    """Run the in-situ case over ``requests`` timed requests (after ``warmup`` untimed ones),
    with loopback connections allowed (and counted) by ``guard``; returns the figures by
    case id (``figures``), their labels (``labels``) and the run's facts."""
    started = perf_counter()
    server = _Server()
    try:
        with guard.loopback_allowed():
            samples, sdk = asyncio.run(_measure(server.base, requests, warmup))
    finally:
        server.close()
    labels = {
        "insitu/sdk_call": "AsyncOpenAI chat.completions.create to loopback (inside fn)",
        "insitu/select": f"select() random, {SERVICES} services, health + affinity",
        "insitu/select/floor": "hand-written select (cooldown dict, weighted pick, pins)",
        "insitu/aselect": f"await aselect() random, {SERVICES} services, health + affinity",
        "insitu/record": "record() of the success after the call (stats, health, pin)",
        "insitu/record/floor": "hand-written record (error reset, stats dict, pin)",
        "insitu/aexecute_share": "selector.aexecute() own share (wall - SDK time)",
        "insitu/aexecute_share/floor": "hand-written failover loop own share (wall - SDK)",
    }
    figures = {"insitu/sdk_call": Figure.of(sdk)}
    for key in labels:
        if key in samples:
            figures[key] = Figure.of(samples[key])
    return {
        "figures": figures,
        "labels": {key: labels[key] for key in figures},
        "requests": requests,
        "warmup": warmup,
        "services": SERVICES,
        "sessions": "a new session per request",
        "seconds": round(perf_counter() - started, 1),
    }


async def _measure(base: str, requests: int, warmup: int) -> tuple[dict[str, list[int]], list[int]]:
    import openai

    http = openai.DefaultAsyncHttpxClient(trust_env=False)  # no proxy from the environment
    clients = {
        f"p{i}": openai.AsyncOpenAI(
            base_url=f"{base}/p{i}", api_key="sk-bench", max_retries=0, http_client=http
        )
        for i in range(SERVICES)
    }
    # One selector each for select(), aselect() and aexecute(): a session one of them pins
    # stays new for the others.
    selector = sc.selector(SERVICES, health=True)
    aselector = sc.selector(SERVICES, health=True, seed=9)
    executor = sc.selector(SERVICES, health=True, seed=8)
    rule = sc.rule(SERVICES, "random", affinity=True)
    request = sc.chat_request(2)
    messages = request["messages"]
    floor_services = [FloorService(s.provider, s.model, s.weight) for s in rule.services]
    floor = Floor(floor_services, float(sc.SESSION_TTL), seed=7)
    floor_executor = Floor(floor_services, float(sc.SESSION_TTL), seed=8)
    aselect = getattr(aselector, "aselect", None)
    arecord = getattr(aselector, "arecord", None)
    clock = perf_counter_ns

    sdk_ns = 0

    async def call(provider: str, model: str) -> Any:
        nonlocal sdk_ns
        client = clients[provider]
        start = clock()
        response = await client.chat.completions.create(
            model=model, messages=messages, max_tokens=256
        )
        sdk_ns += clock() - start
        return response

    async def fn(service: Any, provider: Any) -> Any:  # llmroute's fn(service, provider)
        return await call(service.provider, service.model)

    async def floor_fn(service: FloorService) -> Any:
        return await call(service.provider, service.model)

    select = selector.select
    record = selector.record
    aexecute = executor.aexecute

    # Each step serves one request and returns its timings (ns) by case id.
    async def lr_select(headers: dict[str, str]) -> dict[str, int]:
        start = clock()
        result = select(rule, request, headers=headers)
        took = clock() - start
        started = clock()
        response = await call(result.service.provider, result.service.model)
        latency_ms = (clock() - started) / 1e6
        start = clock()
        usage = response.usage
        record(
            result,
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            latency_ms=latency_ms,
        )
        return {"insitu/select": took, "insitu/record": clock() - start}

    async def lr_aselect(headers: dict[str, str]) -> dict[str, int]:
        assert aselect is not None and arecord is not None
        start = clock()
        result = await aselect(rule, request, headers=headers)
        took = clock() - start
        started = clock()
        response = await call(result.service.provider, result.service.model)
        usage = response.usage
        await arecord(
            result,
            input_tokens=usage.prompt_tokens or 0,
            output_tokens=usage.completion_tokens or 0,
            latency_ms=(clock() - started) / 1e6,
        )
        return {"insitu/aselect": took}

    async def floor_select(headers: dict[str, str]) -> dict[str, int]:
        start = clock()
        service, session = floor.select(headers)
        took = clock() - start
        started = clock()
        response = await call(service.provider, service.model)
        latency_ms = (clock() - started) / 1e6
        start = clock()
        floor.record(service, session, latency_ms, response)
        return {"insitu/select/floor": took, "insitu/record/floor": clock() - start}

    async def lr_share(headers: dict[str, str]) -> dict[str, int]:
        nonlocal sdk_ns
        sdk_ns = 0
        start = clock()
        await aexecute(rule, request, fn, headers=headers)
        took = clock() - start
        sdk.append(sdk_ns)
        return {"insitu/aexecute_share": took - sdk_ns}

    async def floor_share(headers: dict[str, str]) -> dict[str, int]:
        nonlocal sdk_ns
        sdk_ns = 0
        start = clock()
        await floor_executor.aexecute(headers, floor_fn)
        took = clock() - start
        return {"insitu/aexecute_share/floor": took - sdk_ns}

    Step = Callable[[dict[str, str]], Awaitable[dict[str, int]]]
    # Pairs of steps; the order within each pair flips every request.
    pairs: list[tuple[Step, ...]] = [(lr_select, floor_select), (lr_share, floor_share)]
    if aselect is not None and arecord is not None:
        pairs.insert(1, (lr_aselect,))
    samples: dict[str, list[int]] = {}
    sdk: list[int] = []
    sessions = sc.session_headers(warmup + requests, "insitu")
    await call("p0", "model-0")  # the first connection and the SDK's lazy imports
    gc.collect()
    try:
        for i in range(warmup + requests):
            headers = sessions[i]
            timed = i >= warmup
            for pair in pairs:
                for step in pair if i % 2 == 0 else pair[::-1]:
                    took = await step(headers)
                    if timed:
                        for key, ns in took.items():
                            samples.setdefault(key, []).append(ns)
            if not timed:
                sdk.clear()
    finally:
        await http.aclose()
    return samples, sdk
