"""The classification service: when models are trained and the archive re-tagged, in one place.

Scoring (`tagging`) tags with the models that are active and never trains; fitting
(`training`) fits and stores a model when asked. What to train when, and re-tagging after it,
is decided here:

- `tag_articles`, `tag_pending`, `retag_all` (the public API's): bootstrap any model kind that
  has none yet, then tag;
- `bring_up_to_date`, at the end of an ingest run or a poll round (whose batches were tagged
  with the models already active, or left `pending` in an empty store): train what is missing
  or a bootstrap the archive has outgrown (`bootstrap_is_stale`), over everything stored, and
  re-tag the archive; then tag what still waits, and match the alerts on the articles that
  were waiting, so a topic alert sees their tags.

Training at the end of a run, never in the middle of one, is what makes the same input give the
same tags whatever the threads' timing: the bootstrap learns from the whole of what the run
stored, not from whichever batch happened to arrive first. A process without scikit-learn (a
poller) trains in a child process (`python -m monitor.classify.upkeep`), under a lock that makes
pollers sharing a store refresh a stale bootstrap once.
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select

from monitor.classify import child, tagging, training
from monitor.classify.failures import mark_failed
from monitor.classify.kinds import ModelKind
from monitor.classify.modelstore import StoredModel, load_active
from monitor.classify.prepared import Prepared
from monitor.classify.training import article_count, train
from monitor.errors import ModelError, MonitorError
from monitor.locks import LockKey
from monitor.store.schema import articles

log = logging.getLogger(__name__)
REFRESH_MIN_ARTICLES = 200  # a bootstrap is retrained when the archive doubles past this
REFRESH_LOCK_KEY = int(LockKey.MODEL_REFRESH)  # PostgreSQL advisory lock (monitor.locks)


# ---------------------------------------------------------------- the public service


def tag_articles(db, article_ids: Iterable[int], *, train_missing: bool = True) -> int:
    """Tag these articles; never raises. With `train_missing`, a kind with no model yet is
    bootstrapped first (a failure marks the articles failed, with the reason); without, a store
    with no models leaves them pending for `bring_up_to_date`."""
    ids = list(article_ids)
    if train_missing:
        try:
            train_missing_models(db)
        except Exception as e:  # noqa: BLE001 - ingest must go on whatever training does
            mark_failed(db, ids, tagging.failure_reason(e))
            return 0
    return tagging.tag_articles(db, ids)


def tag_pending(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Tag every article that is pending or failed (`tag`), bootstrapping missing models first."""
    train_missing_models(db)
    return tagging.tag_pending(db, progress)


def retag_all(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-tag the whole archive with the current models (`tag --all`), bootstrapping missing ones."""
    train_missing_models(db)
    return tagging.retag_all(db, progress)


def ensure_models(db) -> None:
    """Train whichever kind has no model yet (and nothing else). Never raises."""
    try:
        train_missing_models(db)
    except Exception:
        log.exception("training the missing models failed")


def bring_up_to_date(db) -> int:
    """Train what is missing or stale, re-tag if a model changed, tag what waits; returns how
    many articles were tagged. Never raises: a failure is logged and the articles stay pending."""
    from monitor import alerts

    try:
        waiting = _pending(db)
        topics = load_active(db, ModelKind.TOPICS)
        done = 0
        if missing_kinds(db):
            # the re-tag runs where the training ran, which reuses what it scored (FittedScores)
            try:
                train_missing_models(db, retag=True)
            except ModelError:
                if missing_kinds(db):
                    raise
                log.warning("re-tagging after training failed in the training process; tagging what waits here")
            done = tagging.count_by_status(db).get("tagged", 0)
        elif topics is not None and bootstrap_is_stale(db, topics):
            refresh_stale(db)  # trains and re-tags under a lock shared by every poller
        still = _pending(db)
        if still:
            done += tagging.tag_articles(db, still)
        if waiting:
            alerts.evaluate_new_articles(db, waiting)
        return done
    except MonitorError as e:  # a full disk, a locked store: one line, the articles stay pending
        log.warning("bringing the tags up to date failed: %s", e)
        return 0
    except Exception:
        log.exception("bringing the tags up to date failed")
        return 0


# ---------------------------------------------------------------- the policy


def missing_kinds(db) -> list[ModelKind]:
    return [kind for kind in ModelKind if load_active(db, kind) is None]


def train_missing_models(db, *, retag: bool = False) -> None:
    """Bootstrap every kind with no model yet, and with `retag` re-tag the archive with them
    then; raises ModelError when that fails."""
    missing = missing_kinds(db)
    if missing:
        train_isolated(db, missing, retag=retag)
        if missing_kinds(db):
            raise ModelError("no model could be trained")


def bootstrap_is_stale(db, model: StoredModel) -> bool:
    """A seed-term bootstrap retrains itself once the archive has doubled since it was made,
    until it has learned from a full sample (training.MAX_WEAK_ARTICLES): a larger archive adds little
    to weak labels, and each refresh re-tags everything. `train topics` refreshes on demand.

    Compared with the archive's size at training time, not the (capped) sample it learned from:
    against the sample, an archive past twice MAX_WEAK_ARTICLES would look doubled for ever."""
    info = model.training or {}
    if not info.get("bootstrap") or info.get("analyst_labels"):
        return False
    trained_at = int(info.get("archive_articles", info.get("articles", 0)))
    if trained_at >= training.MAX_WEAK_ARTICLES:
        return False
    n = article_count(db)
    return n >= REFRESH_MIN_ARTICLES and n >= 2 * trained_at


def _pending(db) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(select(articles.c.id).where(articles.c.tag_status == "pending").order_by(articles.c.id)).scalars())


# ---------------------------------------------------------------- training where it costs nothing


def _in_place(db) -> bool:
    """Train in this process? Yes when it holds scikit-learn already (the CLI's `train`, tests)
    or the database is in memory (a child could not see it)."""
    from sqlalchemy.engine import make_url

    return "sklearn" in sys.modules or (db.is_sqlite and make_url(db.url).database in (None, "", ":memory:"))


def train_isolated(db, kinds: list[ModelKind], *, retag: bool = False) -> None:
    """Train models with no new data (bootstrap or stored labels) and wait for them; with
    `retag`, then re-tag the archive in the same process (it reuses what training scored).

    A process that has not loaded scikit-learn (a poller, which only tags) trains in a child
    process, so the ~150 MB that fitting costs goes away with the child.
    """
    if _in_place(db):
        for kind in kinds:
            train(db, kind)
        if retag:
            tagging.retag_all(db)
        return
    _run_child(f"training {' and '.join(kinds)}", *kinds, *(["--retag"] if retag else []), db=db)


def refresh_stale(db) -> None:
    """Retrain a stale topic bootstrap and re-tag the archive with it, and wait: in a child
    process when this one is lean (a poller), so the memory that fitting costs goes with it."""
    if _in_place(db):
        _refresh_if_stale(db)
        return
    _run_child("refreshing the topic bootstrap", "--refresh", db=db)


def _run_child(what: str, *args: str, db) -> None:
    child.run(what, *args, url=db.url)


def prewarm(db: Any) -> None:
    """Start a training child now, for `train_isolated` (or a refresh) to use later in this
    process (monitor.classify.child). Nothing when this process trains in place."""
    if not _in_place(db):
        child.start_warm(db.url)


def release_warm() -> None:
    child.release_warm()


def _refresh_if_stale(db) -> None:
    """Retrain the bootstrap and re-tag the archive, unless another process has just done it."""
    with _one_refresh_at_a_time(db):
        current = load_active(db, ModelKind.TOPICS)
        if current is None or bootstrap_is_stale(db, current):
            train(db, ModelKind.TOPICS)
            retag_all(db)


@contextmanager
def _one_refresh_at_a_time(db) -> Iterator[None]:
    """Pollers sharing a store find the bootstrap stale at the same moment: the second waits for
    the first's refresh and then finds nothing to do, instead of training the same model again."""
    from sqlalchemy.engine import make_url

    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(select(func.pg_advisory_lock(REFRESH_LOCK_KEY)))
            try:
                yield
            finally:
                conn.execute(select(func.pg_advisory_unlock(REFRESH_LOCK_KEY)))
        return
    name = make_url(db.url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        yield  # one process's database: nobody else can refresh it
        return
    try:
        import fcntl
    except ImportError:  # not POSIX: the staleness check alone
        yield
        return
    # a lock file beside the database, as the host gate's; the kernel drops the lock if we die
    with open(os.path.abspath(name) + "-refresh", "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


WARM_POLL_S = 0.3  # how often a warm child waiting for its request looks for new articles


def _child_main(args: list[str]) -> int:
    from monitor.store import Database

    prepared = None
    try:
        if args == ["--warm"]:
            # load what fitting needs, prepare the articles of the store named on the first line
            # as they are stored, until "kinds\nURL" follows (nothing: not needed after all)
            import scipy.sparse  # noqa: F401
            import sklearn.linear_model
            import sklearn.model_selection
            import sklearn.svm  # noqa: F401  (loaded now so the fit later finds it imported)

            request, prepared = _await_request(sys.stdin.readline().strip())
            if not request.strip():
                return 0
            line, _, url = request.partition("\n")
            args = line.split()
        else:
            url = sys.stdin.read()
        db = Database(url.strip())
        try:
            if args == ["--refresh"]:
                _refresh_if_stale(db)
                return 0
            for kind in args:
                if kind != "--retag":
                    train(db, kind, prepared=prepared)
            if "--retag" in args:
                tagging.retag_all(db)
        finally:
            db.dispose()
    except Exception as e:  # noqa: BLE001 - the parent reports the last line
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


def _await_request(url: str) -> tuple[str, Prepared | None]:
    """Wait for the request on stdin, meanwhile preparing the articles stored at `url` for the
    topic bootstrap (monitor.classify.prepared); the request, and what was prepared."""
    import select as selectors

    from monitor.store import Database

    db = prepared = None
    while url:
        done = 0
        try:
            db = db or Database(url)
            prepared = prepared or training.prepare_ahead(db)  # fails until the run has made the store
            done = prepared.catch_up(db)
        except Exception:  # noqa: BLE001 - only a head start: training reads the store itself
            log.debug("could not prepare articles ahead yet", exc_info=True)
        try:
            ready, _, _ = selectors.select([sys.stdin], [], [], 0 if done else WARM_POLL_S)
        except (OSError, ValueError):  # a platform without select on pipes: just wait
            break
        if ready:
            break
    if db is not None:
        db.dispose()
    return sys.stdin.read(), prepared


class _WithoutPandas(importlib.abc.MetaPathFinder):
    """Makes pandas unimportable. scikit-learn imports it at start-up when it is installed (an
    optional dependency, for data frames); a training child fits numpy and scipy arrays only,
    and that import was 0.5 s of CPU on the longest path of a first ingest."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(f"No module named {name!r} (a training child does without it)", name=name)
        return None


def without_pandas() -> None:
    """From now on this process imports scikit-learn as if pandas were not installed."""
    if not any(isinstance(f, _WithoutPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _WithoutPandas())


if __name__ == "__main__":  # a training child: kinds (and --retag) or --refresh in argv, database URL on stdin
    without_pandas()
    code = _child_main(sys.argv[1:])
    # Everything it wrote is committed and its connections are closed. Tearing down the heap of
    # fitted models and term tables kept the parent waiting 0.6 s of a first ingest: it ends here.
    sys.stderr.flush()
    os._exit(code)
