"""When models are trained and the archive re-tagged: the one place that decides.

An ingest run or a poll round stores its articles and tags them with the models that are active
(`tagging.tag_articles(..., train_missing=False)`: an empty store has none yet, and its articles
wait as `pending`). When the run ends, `bring_up_to_date` makes the tags current:

- no topic model yet, or a bootstrap the archive has outgrown (`training.bootstrap_is_stale`):
  train it now, over everything stored, and re-tag the archive;
- then tag what is still pending, and match the alerts on the articles that were waiting, so a
  topic alert sees their tags.

Training at the end of a run, never in the middle of one, is what makes the same input give the
same tags whatever the threads' timing: the bootstrap learns from the whole of what the run
stored, not from whichever batch happened to arrive first. A process without scikit-learn (a
poller) trains in a child process (`training.train_isolated`), under a lock that makes pollers
sharing a store train a stale bootstrap once.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from monitor.errors import MonitorError
from monitor.store.schema import articles

log = logging.getLogger(__name__)


def bring_up_to_date(db) -> int:
    """Train what is missing or stale, re-tag if a model changed, tag what waits; returns how
    many articles were tagged. Never raises: a failure is logged and the articles stay pending."""
    from monitor import alerts
    from monitor.classify import training
    from monitor.classify.modelstore import load_active
    from monitor.classify.tagging import retag_all, tag_articles

    try:
        waiting = _pending(db)
        topics, stance = load_active(db, "topics"), load_active(db, "stance")
        missing = [kind for kind, model in (("topics", topics), ("stance", stance)) if model is None]
        done = 0
        if missing:
            training.train_isolated(db, missing)
            done = retag_all(db)
        elif training.bootstrap_is_stale(db, topics):
            training.refresh_stale(db)  # trains and re-tags under a lock shared by every poller
        still = _pending(db)
        if still:
            done += tag_articles(db, still)
        if waiting:
            alerts.evaluate_new_articles(db, waiting)
        return done
    except MonitorError as e:  # a full disk, a locked store: one line, the articles stay pending
        log.warning("bringing the tags up to date failed: %s", e)
        return 0
    except Exception:  # noqa: BLE001 - the articles are stored; `tag` catches them up later
        log.exception("bringing the tags up to date failed")
        return 0


def ensure_models(db) -> None:
    """Train whichever kind has no model yet (and nothing else). Never raises."""
    from monitor.classify import training
    from monitor.classify.modelstore import load_active

    try:
        missing = [kind for kind in ("topics", "stance") if load_active(db, kind) is None]
        if missing:
            training.train_isolated(db, missing)
    except Exception:  # noqa: BLE001 - tagging then marks the articles failed, with the reason
        log.exception("training the missing models failed")


def _pending(db) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(select(articles.c.id).where(articles.c.tag_status == "pending").order_by(articles.c.id)).scalars())
