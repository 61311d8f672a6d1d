"""What every command shares: loading files with errors a person can act on, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..config import RoutingConfig, load_config
from ..errors import ConfigError

__all__ = ["CliError", "command", "load", "print_json", "read_request"]


class CliError(Exception):
    """A problem the command reports and exits on (status 2): a bad file, argument or rule.

    ``problems`` holds ``(path, message)`` pairs when a configuration did not validate.
    """

    def __init__(self, message: str, problems: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


def command(
    commands: Any, name: str, *, summary: str, description: str, epilog: str
) -> argparse.ArgumentParser:
    """A command's parser (from ``add_subparsers()``) with the arguments all commands take:
    the CONFIG document and ``--json``; ``epilog`` (its example and output) is kept as
    written."""
    parser: argparse.ArgumentParser = commands.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", metavar="CONFIG", help="the routing document")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def load(path: str) -> RoutingConfig:
    """The configuration in ``path``, or a :class:`CliError` saying what is wrong with it."""
    try:
        return load_config(path)
    except ConfigError as exc:  # load_config names the file or the path for every problem
        raise CliError(str(exc), exc.problems) from None


def read_request(path: str) -> Any:
    """The JSON request body in ``path`` (``-`` for standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"cannot read {path}: not UTF-8 text ({exc.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise CliError(f"{path}: the JSON is nested too deep") from None


def print_json(data: Any) -> None:
    """``data`` as indented JSON with sorted keys on standard output."""
    print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))
