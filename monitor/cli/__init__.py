"""`python -m monitor`: a thin layer that parses arguments, calls the API and prints.

Each command group lives in its own module with `register(subparsers)`; a handler takes
`(args, db)` and returns an exit code. Domain errors become one line on stderr, never a traceback.
Handlers import the API they call inside themselves: `--help` and a usage error then answer in
a third of the time, without loading the ingest, export and classifier stacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from monitor import __version__
from monitor.errors import MonitorError, StoreError

# One module per command group, in the order `--help` lists them.
COMMAND_MODULES = ("setup", "feeds", "ingest", "poll", "classify", "alerts", "export")


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors on one line and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    # The `monitor` console script names itself; `python -m monitor` (argv[0] is __main__.py) says so.
    prog = "monitor" if os.path.basename(sys.argv[0]) == "monitor" else "python -m monitor"
    parser = _Parser(prog=prog, description="Monitor press coverage of international policing.")
    parser.add_argument(
        "--db", metavar="URL", help="database URL or SQLite file (default: $MONITOR_DATABASE_URL, then sqlite:///data/monitor.db); "
        "only init, ingest, poll and feeds add/import create one"
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"monitor.cli.{name}").register(sub)
    return parser


def _database_url(value: str | None) -> str | None:
    """--db takes a database URL, or a plain path to a SQLite file."""
    if value and "://" not in value and not value.startswith("sqlite:"):
        return f"sqlite:///{Path(value).expanduser().absolute()}"
    return value


def _head_start(argv: list[str]) -> None:
    """What a command can begin before the parser exists: building it imports every command's
    stack (about a second). `ingest` starts the training child it may need (cli.ingest.head_start)."""

    class Lenient(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise ValueError(message)  # the real parser reports it

    pre = Lenient(add_help=False)
    pre.add_argument("--db")
    pre.add_argument("command", nargs="?")
    try:
        known, _rest = pre.parse_known_args(argv)
    except ValueError:
        return
    if known.command == "ingest" and not {"-h", "--help"} & set(argv):
        from monitor.cli.ingest import head_start

        head_start(_database_url(known.db))


def main(argv: Sequence[str] | None = None) -> int:
    _head_start(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    db = None
    try:
        from monitor.store import open_database

        db = open_database(_database_url(args.db))
        if not getattr(args, "creates_db", False) and not db.exists():
            # only init, ingest, poll and feeds add/import may make a store: a mistyped --db
            # elsewhere must not leave an empty database (and folders) that looks like lost data
            raise StoreError(
                f"there is no database at {db.display_url()}: check --db (or MONITOR_DATABASE_URL), "
                "or create one with `python -m monitor init`"
            )
        return int(args.handler(args, db) or 0)
    except MonitorError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        if db is not None:
            db.dispose()  # SQLite folds its write-ahead log into the file as the last connection closes


def end_process(code: int) -> NoReturn:
    """End `python -m monitor` without the interpreter's teardown, which frees every module and
    object one by one (0.3 s of a first ingest) and has nothing else left to do: `main` closed the
    store, and the parse workers and an unused training child are stopped here, as at exit."""
    import logging

    from monitor.classify.child import release_warm
    from monitor.parse_workers import shutdown_workers

    release_warm()
    shutdown_workers()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing more can be said
            pass
    os._exit(code)
