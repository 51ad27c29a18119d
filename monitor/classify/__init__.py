"""Topic and stance classifiers: trained, evaluated, explained, correctable.

The public API (used by ingest, the CLI and the dashboard): `tag_articles`, `retag_all`,
`tag_pending`, `bring_up_to_date`, `train`, `evaluate`, `explain`, `add_label`, `load_taxonomy`, `add_topic`,
`add_target`, `model_status`, `review_queue`, `topic_quality`, `retags`. Each is a thin wrapper that imports its module on first use, so
importing `monitor.classify` (ingest does, at start-up) does not load scikit-learn.

Inside: `tagging` scores with the active models (numpy only) and never trains; `training`
fits models; `upkeep` is the service that decides when to train, refresh and re-tag;
`kinds` holds the vocabularies (ModelKind, Stance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path


def tag_articles(db, article_ids: Iterable[int], *, train_missing: bool = True) -> int:
    """Tag freshly stored articles. Never raises: failures mark them tag_status='failed'. With
    `train_missing` False, a store without models leaves them pending for `bring_up_to_date`."""
    try:
        from monitor.classify.upkeep import tag_articles as run
    except Exception as e:  # noqa: BLE001 - a broken install must not stop ingest either
        from monitor.classify.failures import mark_failed

        mark_failed(db, list(article_ids), f"classifier unavailable: {type(e).__name__}: {e}")
        return 0
    return run(db, article_ids, train_missing=train_missing)


def ensure_models(db) -> None:
    """Train whichever model kind has none yet (resuming a killed poller's articles)."""
    from monitor.classify.upkeep import ensure_models as run

    run(db)


def bring_up_to_date(db) -> int:
    """At the end of an ingest run or poll round: train missing or stale models, re-tag, tag
    what waits (monitor.classify.upkeep owns when)."""
    from monitor.classify.upkeep import bring_up_to_date as run

    return run(db)


def retag_all(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-tag the whole archive with the current models (`tag --all`)."""
    from monitor.classify.upkeep import retag_all as run

    return run(db, progress)


def tag_pending(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Tag articles that are pending or failed (`tag`)."""
    from monitor.classify.upkeep import tag_pending as run

    return run(db, progress)


def train(db, kind: str, data: str | Path | None = None, text_columns: list[str] | None = None,
          label_column: str | None = None, target_column: str | None = None, analyst: str | None = None) -> dict:
    """Train and activate a topics or stance model; returns version, metrics, training summary."""
    from monitor.classify.training import train as run

    return run(db, kind, data, text_columns, label_column, target_column, analyst)


def evaluate(db, kind: str, data: str | Path, cv: int | None = None, text_columns: list[str] | None = None,
             label_column: str | None = None, target_column: str | None = None) -> dict:
    """Metrics on a labelled file: cross-validated fresh models (cv=K) or the active model."""
    from monitor.classify.evaluation import evaluate as run

    return run(db, kind, data, cv, text_columns, label_column, target_column)


def explain(db, article_id: int, kind: str, label: str, target: str = "", top: int = 10) -> list[tuple[str, float]]:
    """The terms that weighed most for this article and tag: [(term, contribution)]."""
    from monitor.classify.explanation import explain as run

    return run(db, article_id, kind, label, target, top)


def add_label(db, article_id: int, kind: str, label: str, value: int | bool = 1, target: str = "",
              analyst: str | None = None) -> int:
    """An analyst's label (a correction); used at the next training."""
    from monitor.classify.labels import add_label as run

    return run(db, article_id, kind, label, value, target, analyst)


def load_taxonomy(db=None):
    """Topics (descriptions, seed terms) and stance targets (aliases): file plus database."""
    from monitor.classify.taxonomy import load_taxonomy as run

    return run(db)


def add_topic(db, name: str, description: str, terms: list[str], added_by: str | None = None) -> None:
    from monitor.classify.taxonomy import add_topic as run

    run(db, name, description, terms, added_by)


def add_target(db, name: str, aliases: list[str], added_by: str | None = None) -> None:
    from monitor.classify.taxonomy import add_target as run

    run(db, name, aliases, added_by)


def model_status(db) -> dict:
    """For the Models page: active versions, metrics, label counts, bootstrap flags."""
    from monitor.classify.status import model_status as run

    return run(db)


def review_queue(db, topic: str, limit: int = 10):
    """For one topic, the unlabelled articles whose score is nearest its threshold (ReviewQueue)."""
    from monitor.classify.review import review_queue as run

    return run(db, topic, limit)


def topic_quality(db):
    """Per topic, precision and recall of the current tags against analysts' labels, with
    95 % Wilson intervals and the label counts they rest on ([TopicQuality])."""
    from monitor.classify.quality import topic_quality as run

    return run(db)


def retags(db, version: str):
    """What each re-tag with this topic model version changed, per topic ([RetagReport])."""
    from monitor.classify.changes import retags as run

    return run(db, version)
