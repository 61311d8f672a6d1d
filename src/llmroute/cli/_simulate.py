"""``llmroute simulate CONFIG``: route scripted traffic on a fake clock and show what happened."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import RoutingConfig, Rule
from ._common import CliError, command, load, print_json, read_request
from ._explain import find_rule
from ._faults import RATE_LIMIT_RETRY_AFTER, parse_fault
from ._sim import INPUT_TOKENS, OUTPUT_TOKENS, Report, Settings, Tally, simulate, simulated_services

__all__ = ["EXAMPLE", "LEGEND", "add_parser", "run", "timeline"]

EXAMPLE = (
    "llmroute simulate routing.yaml --requests 300 --seed 7 "
    "--fault openai:gpt-4o-mini=server@0.5,100-180 --fault anthropic=rate_limit@0.1"
)

#: The timeline's characters.
LEGEND = {
    ".": "healthy",
    "!": "healthy, with failed calls",
    "x": "ejected part of the time",
    "#": "ejected throughout",
}

_LEGEND_TEXT = "  ".join(f"{char} {meaning}" for char, meaning in LEGEND.items())

_EPILOG = f"""\
example:
  {EXAMPLE}

Request n (numbered from 1) is sent n * --interval seconds into the run, to each --rule in
turn (default: every active rule in turn), as one of --sessions end users. It goes through
the real ServiceSelector (select(), then the chosen service and its fallbacks as the
execute forms try them, each attempt recorded) against scripted providers that answer
({INPUT_TOKENS} input, {OUTPUT_TOKENS} output tokens, in --latency ms +-20%) unless a fault
fails the call. Everything runs on a fake clock: nothing sleeps, and the same seed prints
the same report.

--fault SERVICE=KIND@RATE[,FROM-TO] (repeatable): calls to SERVICE (a service id
provider:model, or a provider name for all its services) fail with KIND in a fraction RATE
(0 to 1) of the requests FROM to TO (request numbers, inclusive; either end may be left
open: 50-, -120; no range: the whole run). KIND is a failure kind: rate_limit (429 with
Retry-After {RATE_LIMIT_RETRY_AFTER:g}s), auth, server, timeout, connection, not_found,
unknown, bad_request, context_length, content_policy. When several faults cover a call,
the first that fires wins.

Per service: picks (chosen first), attempts (called), served, failures, ejections, and a
health timeline, one character per bucket of requests:
  {_LEGEND_TEXT}.

exit status: 0 done, 2 an error (a file, a rule, a --fault).

--json prints one object: {{"config", "seed", "requests", "interval", "rules" [uuids],
"faults" [specs], "totals" {{"requests", "served", "failed", "unavailable", "failovers"}},
"services" [{{"service", "picks", "attempts", "served", "failures", "ejections",
"timeline"}}], "buckets" (timeline length), "legend" {{char: meaning}}}}.
"""


def add_parser(commands: Any) -> None:
    parser = command(
        commands,
        "simulate",
        summary="route scripted traffic with faults on a fake clock and report per service",
        description="Try CONFIG before shipping it: send scripted traffic through the real "
        "selector against simulated providers, with the faults you give, and print per "
        "service what was picked, what failed, what was ejected and when.",
        epilog=_EPILOG,
    )
    add = parser.add_argument
    add("--requests", metavar="N", type=int, default=200, help="how many requests (200)")
    add("--seed", metavar="S", type=int, default=0, help="the seed of every draw (0)")
    add(
        "--fault",
        metavar="SERVICE=KIND@RATE[,FROM-TO]",
        action="append",
        default=[],
        help="calls to SERVICE fail with KIND (repeatable; see below)",
    )
    add("--rule", metavar="R", action="append", default=[], help="a rule to send to (repeatable)")
    add("--interval", metavar="SECONDS", type=float, default=1.0, help="between requests (1)")
    add("--latency", metavar="SERVICE=MS", action="append", default=[], help="a service's latency")
    add("--sessions", metavar="K", type=int, default=20, help="distinct end users (20; 0: none)")
    add("--request", metavar="REQUEST.json", help="the request body to send (default: a chat)")
    add("--width", metavar="W", type=int, default=50, help="timeline characters (50)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    _check_numbers(args)
    config = load(args.config)
    rules = _rules(config, args.rule)
    body = read_request(args.request) if args.request else None
    services = [str(s.service_id) for s in simulated_services(rules)]
    providers: dict[str, list[str]] = {}
    for service in simulated_services(rules):
        provider = config.get_provider(service.provider)
        for key in (provider.name, provider.uuid) if provider is not None else (service.provider,):
            if key:
                providers.setdefault(key, []).append(str(service.service_id))
    faults = tuple(parse_fault(spec, services, providers) for spec in args.fault)
    settings = Settings(
        config=config,
        rules=rules,
        requests=args.requests,
        seed=args.seed,
        interval=args.interval,
        faults=faults,
        latency=_latencies(args.latency, services),
        sessions=args.sessions,
        body=body,
    )
    report = simulate(settings)
    width = min(args.width, args.requests)
    if args.json:
        print_json(_as_json(args.config, report, width))
    else:
        print(_as_text(report, width))
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    if args.requests < 1:
        raise CliError(f"--requests must be at least 1, got {args.requests}")
    if not args.interval > 0 or args.interval == float("inf"):
        raise CliError(f"--interval must be a positive number of seconds, got {args.interval}")
    if args.sessions < 0:
        raise CliError(f"--sessions must be 0 or more, got {args.sessions}")
    if args.width < 1:
        raise CliError(f"--width must be at least 1, got {args.width}")


def _rules(config: RoutingConfig, wanted: list[str]) -> tuple[Rule, ...]:
    if wanted:
        return tuple(find_rule(config, name, None) for name in wanted)
    active = tuple(rule for rule in config.rules if rule.active)
    if not active:
        raise CliError("the config has no active rule to simulate")
    return active


def _latencies(pairs: list[str], services: list[str]) -> dict[str, float]:
    latency: dict[str, float] = {}
    for pair in pairs:
        sid, sep, value = pair.rpartition("=")
        try:
            ms = float(value)
        except ValueError:
            ms = -1.0
        if not sep or sid not in services or not 0 <= ms < float("inf"):
            known = ", ".join(services)
            raise CliError(f"--latency {pair!r}: expected SERVICE=MS with SERVICE one of: {known}")
        latency[sid] = ms
    return latency


def timeline(tally: Tally, width: int) -> str:
    """The tally's health, one :data:`LEGEND` character per bucket of requests."""
    count = len(tally.ejected)
    chars = []
    for bucket in range(width):
        lo, hi = bucket * count // width, (bucket + 1) * count // width
        ejected = sum(tally.ejected[lo:hi])
        if ejected == hi - lo:
            chars.append("#")
        elif ejected:
            chars.append("x")
        else:
            chars.append("!" if any(tally.failed[lo:hi]) else ".")
    return "".join(chars)


def _as_text(report: Report, width: int) -> str:
    settings = report.settings
    n = settings.requests
    rules = ", ".join(rule.uuid for rule in settings.rules)
    lines = [
        f"simulated {n} requests, {settings.interval:g}s apart, seed {settings.seed}; "
        f"rules: {rules}"
    ]
    lines += [f"fault: {fault.describe()}" for fault in settings.faults]
    name_width = max([len("service"), *(len(sid) for sid in report.services)])
    per = f"{n / width:.3g} request{'s' if n != width else ''} per character"
    head = ("service", "picks", "attempts", "served", "failures", "ejections")
    lines.append("")
    lines.append(f"{head[0]:<{name_width}}" + "".join(f"  {h:>9}" for h in head[1:]) + f"  {per}")
    for tally in report.services.values():
        counts = (tally.picks, tally.attempts, tally.served, tally.failures, tally.ejections)
        row = f"{tally.service:<{name_width}}" + "".join(f"  {c:>9}" for c in counts)
        lines.append(f"{row}  {timeline(tally, width)}")
    lines.append("")
    lines.append(
        f"requests: {n}  served: {report.served}  failed: {report.failed}  "
        f"no service: {report.unavailable}  served by a fallback: {report.failovers}"
    )
    lines.append(f"timeline: {_LEGEND_TEXT}")
    return "\n".join(lines)


def _as_json(path: str, report: Report, width: int) -> dict[str, Any]:
    settings = report.settings
    return {
        "config": path,
        "seed": settings.seed,
        "requests": settings.requests,
        "interval": settings.interval,
        "rules": [rule.uuid for rule in settings.rules],
        "faults": [fault.spec for fault in settings.faults],
        "totals": {
            "requests": settings.requests,
            "served": report.served,
            "failed": report.failed,
            "unavailable": report.unavailable,
            "failovers": report.failovers,
        },
        "services": [_service_json(tally, width) for tally in report.services.values()],
        "buckets": width,
        "legend": LEGEND,
    }


def _service_json(tally: Tally, width: int) -> dict[str, Any]:
    return {
        "service": tally.service,
        "picks": tally.picks,
        "attempts": tally.attempts,
        "served": tally.served,
        "failures": tally.failures,
        "ejections": tally.ejections,
        "timeline": timeline(tally, width),
    }
