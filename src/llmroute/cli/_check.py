"""``llmroute check CONFIG``: validate a document, then warn about what is probably wrong."""

from __future__ import annotations

import argparse
from typing import Any

from ..config import check_config
from ._common import CliError, command, load, print_json

__all__ = ["EXAMPLE", "add_parser", "run"]

EXAMPLE = "llmroute check routing.yaml"

_EPILOG = f"""\
example:
  {EXAMPLE}

exit status: 0 clean, 1 warnings, 2 errors (the document does not load).

--json prints one object: {{"config": PATH, "status": "ok" | "warnings" | "error",
"errors": [{{"path", "message"}}], "warnings": [{{"code", "path", "message"}}]}}.
Warning codes: see llmroute.config.WARNING_CODES.
"""


def add_parser(commands: Any) -> None:
    parser = command(
        commands,
        "check",
        summary="validate a config and warn about what loads but is probably wrong",
        description="Validate CONFIG (a .json, .yaml or .yml routing document), then list "
        "what loads but is probably wrong: models their provider does not list, unused "
        "providers, rules whose services all weigh 0, smart blocks that can never match, "
        "tactics reading figures nothing records.",
        epilog=_EPILOG,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load(args.config)
    except CliError as exc:
        if not args.json:
            raise
        errors = [{"path": p, "message": m} for p, m in exc.problems]
        print_json(
            {
                "config": args.config,
                "status": "error",
                "errors": errors or [{"path": "", "message": str(exc)}],
                "warnings": [],
            }
        )
        return 2
    warnings = check_config(config)
    if args.json:
        print_json(
            {
                "config": args.config,
                "status": "warnings" if warnings else "ok",
                "errors": [],
                "warnings": [
                    {"code": w.code, "path": w.path, "message": w.message} for w in warnings
                ],
            }
        )
    elif warnings:
        plural = "s" if len(warnings) > 1 else ""
        print(f"{args.config}: {len(warnings)} warning{plural}")
        for warning in warnings:
            print(f"  {warning}")
    else:
        rules, providers = len(config.rules), len(config.providers)
        print(f"{args.config}: ok ({rules} rules, {providers} providers, no warnings)")
    return 1 if warnings else 0
