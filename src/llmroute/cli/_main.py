"""The ``llmroute`` command: its parser and the one place errors become exit statuses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from . import _check, _explain, _simulate
from ._common import CliError, print_json

__all__ = ["main", "parser"]

_EPILOG = f"""\
examples:
  {_check.EXAMPLE}
  {_explain.EXAMPLE}
  {_simulate.EXAMPLE}

Each command has --help with its details and --json for scripts.
"""


def parser() -> argparse.ArgumentParser:
    """The ``llmroute`` argument parser with its three commands."""
    top = argparse.ArgumentParser(
        prog="llmroute",
        description="Check, explain and simulate llmroute routing configurations.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _check.add_parser(commands)
    _explain.add_parser(commands)
    _simulate.add_parser(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llmroute`` with ``argv`` (default: the process's arguments); returns the exit
    status: 0 success, 1 warnings (``check``), 2 an error, printed to standard error as
    ``llmroute: error: ...`` (or, with ``--json``, as ``{"error": ...}`` on standard output)."""
    args = parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except CliError as exc:
        if getattr(args, "json", False):
            print_json({"error": str(exc)})
        else:
            print(f"llmroute {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader left (| head): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status
