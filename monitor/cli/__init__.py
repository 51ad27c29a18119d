"""`python -m monitor`: a thin layer that parses arguments, calls the API and prints.

Each command group lives in its own module with `register(subparsers)`; a handler takes
`(args, db)` and returns an exit code. Domain errors become one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from monitor import __version__
from monitor.errors import MonitorError

# One module per command group, in the order `--help` lists them.
COMMAND_MODULES = ("setup", "feeds", "ingest", "poll", "classify", "alerts", "export")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line and exits 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="python -m monitor", description="Monitor press coverage of international policing.")
    parser.add_argument("--db", metavar="URL", help="database URL (default: $MONITOR_DATABASE_URL, then sqlite:///data/monitor.db)")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"monitor.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from monitor.store import open_database

        db = open_database(args.db)
        return int(args.handler(args, db) or 0)
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
