"""`ingest PATH… [--source NAME]`: feed documents from files or folders, same pipeline as poll."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.store import Database



def register(sub) -> None:
    p = sub.add_parser(
        "ingest",
        help="ingest feed documents from files or folders",
        description="Ingest RSS/Atom documents from files, or folders searched recursively for "
        "*.xml, *.rss, *.atom, *.rdf and *.feed. Documents that cannot be read are reported with a "
        "reason; the run goes on.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="feed file or folder")
    p.add_argument("--source", metavar="NAME", help="outlet name for every document (default: the feed's title, else the file name)")
    p.set_defaults(handler=run_ingest, creates_db=True)


def head_start(url: str | None) -> None:
    """An ingest into a store with no models trains them at its end: start the training child
    now, so it loads scikit-learn (a couple of seconds of one core) while this process is still
    loading its own libraries, on the core that would otherwise wait."""
    try:
        from monitor.classify.child import prewarm_for_url
        from monitor.config import settings

        prewarm_for_url(url or settings().database_url)
    except Exception:  # noqa: BLE001 - only a head start: the run starts its own child if need be
        pass


def run_ingest(args: argparse.Namespace, db: Database) -> int:
    from monitor.ingest import ingest_paths

    bar = _ProgressBar() if sys.stderr.isatty() else None
    try:
        stats = ingest_paths(db, args.paths, source=args.source, progress=bar)
    finally:
        if bar:
            bar.finish()
    for path, reason in sorted(stats.failed_documents.items()):
        print(f"failed: {path}: {reason}", file=sys.stderr)
    for path, warning in sorted(stats.warnings.items()):
        print(f"warning: {path}: ill-formed, kept what could be read: {warning}", file=sys.stderr)
    rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(stats.rejected.items())) or "0"
    failed = len(stats.failed_documents)
    print(
        f"documents: {stats.documents} ({failed} failed"
        + (f", {len(stats.warnings)} with warnings" if stats.warnings else "")
        + f"), entries: {stats.entries}, new articles: "
        f"{stats.new_articles}, duplicates: {stats.duplicates}, rejected: {rejected}"
    )
    # Some unreadable documents in a folder are expected (archives hold odd files): the run
    # fails only when nothing could be read at all.
    return 1 if stats.documents and failed == stats.documents else 0


class _ProgressBar:
    """A one-line bar on stderr, redrawn at most ten times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int, path: str) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        name = path[-40:]
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}")
        sys.stderr.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            sys.stderr.write("\r" + " " * 90 + "\r")
            sys.stderr.flush()
