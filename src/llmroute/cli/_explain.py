"""``llmroute explain CONFIG REQUEST.json``: how a request would be routed, with no effects."""

from __future__ import annotations

import argparse
import random
from typing import Any

from ..config import RoutingConfig, Rule
from ..errors import NoServiceAvailableError
from ..selector import SelectionResult, ServiceSelector
from ..testing import FakeClock
from ._common import CliError, command, load, print_json, read_request

__all__ = ["EXAMPLE", "add_parser", "find_rule", "run"]

EXAMPLE = "llmroute explain routing.yaml request.json --rule assistant --header X-Session-ID=abc"

_EPILOG = f"""\
example:
  {EXAMPLE}

The rule: --rule (a uuid or request_model); without it, the rule the request's "model"
names (by uuid or request_model, as selector.select(body["model"], body) finds it); else
the document's only rule; else an error listing the rules. --scenario NAME finds it by
scenario instead, as select(None, body, scenario=NAME) does (the scenario's one active rule
when it is unified, the one of the body's model when it is separate).

The state is fresh (every service healthy, no pins, no figures) and select() writes
nothing. The random draws come from random.Random(--seed), so the same seed gives the same
answer as ServiceSelector.from_config(config, rng=random.Random(seed)).select(...).

exit status: 0 explained, 2 an error (a file, the request, the rule, or no usable service).

--json prints one object: {{"rule", "service", "provider" (name or null), "source",
"matched_smart_rule_index", "degraded", "session" ({{"source", "value"}} or null),
"fallbacks" [service ids], "trace" [{{"stage", "text"}}], "explain" (the text)}}.
"""


def add_parser(commands: Any) -> None:
    parser = command(
        commands,
        "explain",
        summary="print how a request would be routed (explain() of its selection)",
        description="Select a service for the request in REQUEST.json (an OpenAI or "
        "Anthropic body; - reads standard input) under CONFIG and print the selection's "
        "explain(): every stage, what it saw and why it chose.",
        epilog=_EPILOG,
    )
    parser.add_argument("request", metavar="REQUEST.json", help="the request body (JSON)")
    parser.add_argument("--rule", metavar="R", help="the rule: a uuid or request_model")
    parser.add_argument(
        "--scenario",
        metavar="NAME",
        help="find the rule by scenario, as select(None, body, scenario=NAME) (not with --rule)",
    )
    parser.add_argument("--session", metavar="S", help="the session id (as session_id=)")
    parser.add_argument(
        "--header",
        metavar="K=V",
        action="append",
        default=[],
        help="a request header, e.g. X-Session-ID=abc (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random draws (0)")
    parser.set_defaults(run=run)


def find_rule(config: RoutingConfig, wanted: str | None, body: Any) -> Rule:
    """The rule a request goes to: ``wanted``, else the one the body's model names, else the
    only rule; a :class:`CliError` listing the rules otherwise."""
    if wanted is not None:
        rule = config.get_rule(wanted)
        if rule is None:
            raise CliError(f"no rule {wanted!r} in the config; {_rules(config)}")
        return rule
    model = body.get("model") if isinstance(body, dict) else None
    if isinstance(model, str) and model:
        rule = config.get_rule(model)
        if rule is not None:
            return rule
    if len(config.rules) == 1:
        return config.rules[0]
    said = f"the request's model {model!r} names no rule" if model else "the request names no model"
    raise CliError(f"no --rule given and {said}; {_rules(config)}")


def _rules(config: RoutingConfig) -> str:
    if not config.rules:
        return "the config has no rules"
    named = [
        f"{r.uuid} (request_model {r.request_model})" if r.request_model else r.uuid
        for r in config.rules
    ]
    return "pick one with --rule: " + ", ".join(named)


def _headers(pairs: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--header {pair!r}: expected K=V, e.g. X-Session-ID=abc")
        headers[key.strip()] = value.strip()
    return headers


def run(args: argparse.Namespace) -> int:
    config = load(args.config)
    body = read_request(args.request)
    if args.scenario is not None and args.rule is not None:
        raise CliError("--rule and --scenario both name the rule: give one")
    rule = find_rule(config, args.rule, body).uuid if args.scenario is None else None
    headers = _headers(args.header)
    selector = ServiceSelector.from_config(
        config,
        rng=random.Random(args.seed),
        clock=FakeClock(),
        probe=(lambda _service: True) if config.health.probe_enabled else None,
    )
    try:
        result = selector.select(
            rule, body, session_id=args.session, headers=headers, scenario=args.scenario
        )
    except NoServiceAvailableError as exc:
        raise CliError(f"no service can serve this request: {exc}") from None
    if args.json:
        print_json(_as_json(result))
    else:
        print(result.explain())
    return 0


def _as_json(result: SelectionResult) -> dict[str, Any]:
    session = result.session_id
    return {
        "rule": result.rule.uuid,
        "service": str(result.service_id),
        "provider": result.provider.name if result.provider is not None else None,
        "source": result.source,
        "matched_smart_rule_index": result.matched_smart_rule_index,
        "degraded": result.degraded,
        "session": (
            {"source": session.source, "value": session.value}
            if session is not None and session.source != "none"
            else None
        ),
        "fallbacks": [str(s.service_id) for s in result.fallbacks],
        "trace": [
            {"stage": stage, "text": template.format(*args) if args else template}
            for stage, template, args in result.trace
        ],
        "explain": result.explain(),
    }
