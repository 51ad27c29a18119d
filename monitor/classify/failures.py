"""Marking articles as not tagged, with the reason (kept free of heavy imports)."""

from __future__ import annotations

import logging

from sqlalchemy import update

log = logging.getLogger(__name__)


def mark_failed(db, ids: list[int], reason: str) -> None:
    """tag_status='failed' and the reason; `tag` retries them later. Never raises."""
    if not ids:
        return
    from monitor.store.schema import articles

    try:
        with db.write() as conn:
            conn.execute(update(articles).where(articles.c.id.in_(ids)).values(tag_status="failed", tag_error=reason[:500]))
    except Exception:  # noqa: BLE001 - the database itself is in trouble; ingest reports that
        log.exception("could not mark articles as failed")
