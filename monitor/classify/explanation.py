"""Why a tag: the terms that pushed an article's score most, from TF-IDF weight × coefficient.

For a topic the contribution of a term is its TF-IDF value in the article times the topic
head's coefficient (naive-Bayes scaling is already folded into it). For a stance it is the
same against the predicted stance's head. Character n-grams are shown in «guillemets».
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from monitor.classify.features import Features, article_text
from monitor.classify.linear import LinearHeads
from monitor.errors import InputError, ModelError
from monitor.store.schema import articles


def explain_text(features: Features, heads: LinearHeads, text: str, label: str, top: int = 10) -> list[tuple[str, float]]:
    if label not in heads.labels:
        raise InputError(f"the model has no label {label!r}")
    j = heads.labels.index(label)
    x = features.transform([text])
    contrib = x.data * heads.coef[j, x.indices]
    order = np.argsort(-np.abs(contrib))[: top * 3]
    names = features.feature_names()
    out: list[tuple[str, float]] = []
    for k in order:
        if contrib[k] == 0:
            continue
        out.append((str(names[x.indices[k]]), round(float(contrib[k]), 4)))
    # positive evidence first, the strongest counter-evidence after it
    pos = [t for t in out if t[1] > 0][:top]
    neg = [t for t in out if t[1] < 0][: max(0, top - len(pos))]
    return pos + neg


def explain(db, article_id: int, kind: str, label: str, target: str = "", top: int = 10) -> list[tuple[str, float]]:
    """Top weighted terms for an article and a tag (kind 'topic' or 'stance')."""
    from monitor.classify.modelstore import load_active
    from monitor.classify.stance import StanceModel, mask_target
    from monitor.classify.tagging import target_context
    from monitor.classify.taxonomy import compile_terms, load_taxonomy
    from monitor.classify.topics import TopicModel

    with db.read() as conn:
        row = conn.execute(
            select(articles.c.title, articles.c.summary, articles.c.content).where(articles.c.id == int(article_id))
        ).one_or_none()
    if row is None:
        raise InputError(f"no article {article_id}")
    text = article_text(row.title, row.summary, row.content)
    if kind in ("topic", "topics"):
        stored = load_active(db, "topics")
        if stored is None:
            raise ModelError("no topic model yet")
        model = TopicModel.from_payload(stored.payload)
        return explain_text(model.features, model.heads, text, label, top)
    if kind == "stance":
        stored = load_active(db, "stance")
        if stored is None:
            raise ModelError("no stance model yet")
        stance_model = StanceModel.from_payload(stored.payload)
        sub = stance_model._sub(target)
        if sub is None:
            raise ModelError(f"no stance model for {target!r}")
        taxonomy = load_taxonomy(db)
        try:
            aliases = taxonomy.target(target).aliases
        except InputError:
            aliases = (target,)
        pattern = compile_terms(tuple(aliases))
        if pattern is not None:
            text = target_context(text, pattern)  # what tagging showed the model
        shown = text if sub.mode == "per_target" else mask_target(text, aliases)
        return explain_text(sub.features, sub.heads, shown, label.upper(), top)
    raise InputError("explain kind is topic or stance")
