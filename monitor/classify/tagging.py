"""Tagging stored articles with the active models, in batches, never failing the caller.

A topic tag is written when its score reaches the topic's threshold; a stance tag is written
for each target the article mentions (by alias), whatever the stance (NONE included), so
"stance over time" has its denominator. Every tag row records the model version.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, func, select, update

from monitor.classify.failures import mark_failed
from monitor.classify.features import SENTENCE_END, Analysed, article_text, stored_key
from monitor.classify.kinds import ModelKind
from monitor.classify.modelstore import decode, load_active
from monitor.classify.stance import StanceModel
from monitor.classify.taxonomy import (
    Taxonomy,
    TermPattern,
    compile_terms,
    load_taxonomy,
)
from monitor.classify.topics import TopicModel
from monitor.errors import ModelError, StoreError
from monitor.store.schema import articles, tags

log = logging.getLogger(__name__)
BATCH = 1000
STANCE_CONTEXT_CHARS = 1000  # a tweet-sized model reads a few sentences, not a whole article


@dataclass(frozen=True)
class FittedScores:
    """What training just computed for the stored articles it was fitted on: the clean text it
    read of each (its first `chars` characters) and the new topic model's whole-text scores, by
    article id, with the `stored_key` of the fields they came from. A re-tag by the same process
    right after (the bootstrap at the end of a first ingest, a refresh) uses them instead of
    cleaning and analysing every text again. An article edited since, or not trained on, is read
    and scored as usual."""

    version: str
    rows: dict[int, tuple[int, int]]  # article id -> (row of `scores` and `texts`, stored_key)
    scores: np.ndarray
    texts: list[str]
    chars: int
    analysed: Analysed | None = None  # terms found ahead in texts and their passages (monitor.classify.prepared)
    wholes: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (stored_key, whole text) of a text cut at `chars`

    def read(self, version: str, rows) -> tuple[list[str], np.ndarray | None]:
        """The articles' classifier texts, and (texts, topics) whole-text scores with NaN rows
        for the texts the model `version` still has to score (None: it has to score them all)."""
        texts: list[str] = []
        known = None
        for i, r in enumerate(rows):
            hit = self.rows.get(r.id)
            if hit is None or hit[1] != stored_key(r.title, r.summary, r.content):
                texts.append(article_text(r.title, r.summary, r.content))
                continue
            text = self.texts[hit[0]]
            if len(text) >= self.chars:  # cut: the passages and the stance read all of it
                whole = self.wholes.get(r.id)
                text = whole[1] if whole is not None and whole[0] == hit[1] else article_text(r.title, r.summary, r.content)
            texts.append(text)
            if version == self.version:
                if known is None:
                    known = np.full((len(rows), self.scores.shape[1]), np.nan)
                known[i] = self.scores[hit[0]]
        return texts, known


_fitted: FittedScores | None = None


def remember_fitted_scores(scores: FittedScores | None) -> None:
    global _fitted
    _fitted = scores


class NoModelYet(Exception):
    """A kind has no model yet: the articles wait (pending) for the service to train one
    (classify.upkeep); scoring never trains."""


def active_models(db):
    """(topic model, version, stance model, version), decoded; NoModelYet when a kind has
    none, ModelError when one cannot be used."""
    topics, stance = load_active(db, ModelKind.TOPICS), load_active(db, ModelKind.STANCE)
    if topics is None or stance is None:
        raise NoModelYet(", ".join(k for k, m in ((ModelKind.TOPICS, topics), (ModelKind.STANCE, stance)) if m is None))
    return _decoded(topics, TopicModel), topics.version, _decoded(stance, StanceModel), stance.version


_decoded_cache: dict[tuple[str, str, int], object] = {}
DECODED_KEPT = 8  # models kept decoded per process: the active two, and a few a test or refresh replaced


def remember_decoded(stored, model: object) -> None:
    """The model object training just fitted and stored as `stored` (modelstore.save_model):
    a re-tag right after uses it as it is, instead of rebuilding it from the stored arrays."""
    _keep_decoded((stored.kind, stored.version, stored.size), model)


def _decoded(stored, cls):
    """Rebuilding vectorizers from arrays takes a moment: once per model version and process."""
    key = (stored.kind, stored.version, stored.size)
    model = _decoded_cache.get(key)
    if model is None:
        model = _keep_decoded(key, decode(stored, cls.from_payload, _probe))
    return model


def _keep_decoded(key: tuple[str, str, int], model):
    _decoded_cache[key] = model
    while len(_decoded_cache) > DECODED_KEPT:  # the oldest go first: the newest are the active ones
        del _decoded_cache[next(iter(_decoded_cache))]
    return model


def _probe(model) -> None:
    """Score one text, as tagging will: a model whose parts do not fit together fails here."""
    if isinstance(model, TopicModel):
        S = model.scores(["probe"])
        if S.shape != (1, len(model.labels)) or len(model.thresholds) != len(model.labels):
            raise ValueError("scores and thresholds do not match the labels")
    else:
        for sub in (*model.per_target.values(), model.shared, model.bootstrap):
            if sub is not None:
                sub.predict(["probe"])


def target_context(text: str, pattern: TermPattern | re.Pattern[str]) -> str:
    """What the stance model reads: the sentences that name the target, each with the sentence
    after it, up to STANCE_CONTEXT_CHARS. A long article's stance toward Interpol is in what it
    says around "Interpol", not in the paragraphs about something else."""
    if len(text) <= STANCE_CONTEXT_CHARS:
        return text
    sentences = SENTENCE_END.split(text)
    keep: list[int] = []
    for i, sentence in enumerate(sentences):
        if pattern.search(sentence):
            keep += [k for k in (i, i + 1) if k < len(sentences) and k not in keep]
    out = " ".join(sentences[k] for k in keep) or text  # a name split across sentences: the lead
    return out[:STANCE_CONTEXT_CHARS]


def tag_articles(db, article_ids: Iterable[int]) -> int:
    """Tag these articles with the active models; returns how many were tagged. Never raises.

    When a model cannot be loaded (corrupt, from another version), the articles are marked
    tag_status='failed' with the reason and `tag` picks them up later. A store with no models
    yet leaves them pending for the service to train them (classify.upkeep).
    """
    ids = sorted({int(i) for i in article_ids})
    if not ids:
        return 0
    try:
        model = active_models(db)
        taxonomy = load_taxonomy(db)
    except NoModelYet:
        return 0
    except Exception as e:  # noqa: BLE001 - ingest must go on whatever the models do
        mark_failed(db, ids, failure_reason(e))
        return 0
    done = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        try:
            done += _tag_batch(db, chunk, model, taxonomy)
        except StoreError as e:  # disk full, read-only: the untagged rows stay for resume_hooks
            log.error("tagging failed: %s", e)
            return done
        except Exception as e:
            log.exception("tagging failed")
            mark_failed(db, chunk, failure_reason(e))
    return done


def failure_reason(e: Exception) -> str:
    """What an article's tag_error says: a model's own reason, or the error's type and text."""
    if isinstance(e, ModelError):
        return str(e)[:500]
    return f"{type(e).__name__}: {str(e)[:300]}"


def _tag_batch(db, ids: list[int], model, taxonomy: Taxonomy) -> int:
    topic_model, topic_version, stance_model, stance_version = model
    with db.read() as conn:
        rows = conn.execute(
            select(articles.c.id, articles.c.title, articles.c.summary, articles.c.content, articles.c.published_at)
            .where(articles.c.id.in_(ids))
        ).all()
    if not rows:
        return 0
    fitted = _fitted
    if fitted is None:
        texts, known = [article_text(r.title, r.summary, r.content) for r in rows], None
    else:
        texts, known = fitted.read(topic_version, rows)
    S = topic_model.scores(texts, known=known, analysed=fitted.analysed if fitted else None)
    out: list[dict] = []
    for i, r in enumerate(rows):
        for j, label in enumerate(topic_model.labels):
            if S[i, j] >= topic_model.thresholds[j]:
                out.append({"article_id": r.id, "kind": ModelKind.TOPICS.tag_kind, "target": "", "label": label,
                            "score": float(S[i, j]), "model_version": topic_version, "published_at": r.published_at})
    for target in taxonomy.targets:
        pattern = compile_terms(target.aliases)
        if pattern is None:
            continue
        hit = [i for i, t in enumerate(texts) if pattern.search(t)]
        if not hit:
            continue
        context = [target_context(texts[i], pattern) for i in hit]
        labels, scores = stance_model.predict(context, [target.name] * len(hit), aliases=target.aliases)
        for i, lab, sc in zip(hit, labels, scores):
            out.append({"article_id": rows[i].id, "kind": ModelKind.STANCE.tag_kind, "target": target.name, "label": lab,
                        "score": float(sc), "model_version": stance_version, "published_at": rows[i].published_at})
    found = [r.id for r in rows]
    with db.write() as conn:
        conn.execute(delete(tags).where(tags.c.article_id.in_(found)))
        if out:
            conn.execute(tags.insert(), out)
        conn.execute(update(articles).where(articles.c.id.in_(found)).values(tag_status="tagged", tag_error=None))
    return len(found)


def tag_pending(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Tag every article that is pending or failed (what `tag` without --all does)."""
    return _tag_where(db, articles.c.tag_status != "tagged", progress)


def retag_all(db, progress: Callable[[int, int], None] | None = None) -> int:
    """Re-tag the whole archive with the current models; what it changed per topic is stored
    with the topic model's version (monitor.classify.changes) for the Models page."""
    from monitor.classify.changes import RetagDiff

    diff = RetagDiff(db)
    done = _tag_where(db, None, progress, diff)
    diff.save()
    return done


def _tag_where(db, condition, progress, diff=None) -> int:
    with db.read() as conn:
        q = select(articles.c.id).order_by(articles.c.id)
        if condition is not None:
            q = q.where(condition)
        ids = list(conn.execute(q).scalars())
    if not ids:
        return 0
    active_models(db)  # once up front, so a failure is reported, not repeated per batch
    done = 0
    for start in range(0, len(ids), BATCH * 5):
        chunk = ids[start : start + BATCH * 5]
        if diff is not None:
            diff.before(chunk)
        done += tag_articles(db, chunk)
        if diff is not None:
            diff.after(chunk)
        if progress:
            progress(min(start + len(chunk), len(ids)), len(ids))
    return done


def count_by_status(db) -> dict[str, int]:
    with db.read() as conn:
        return {s: n for s, n in conn.execute(select(articles.c.tag_status, func.count()).group_by(articles.c.tag_status))}
