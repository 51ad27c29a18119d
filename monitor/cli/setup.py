"""`init`: create or migrate the schema."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.store import Database


def register(sub) -> None:
    p = sub.add_parser("init", help="create or migrate the database schema")
    p.set_defaults(handler=run_init, creates_db=True)


def run_init(args: argparse.Namespace, db: Database) -> int:
    from monitor.store.migrate import current_revision

    db.init()
    print(f"database ready at {db.display_url()} (schema {current_revision(db)})")
    return 0
