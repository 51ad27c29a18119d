"""Analyst labels: corrections made in the dashboard and rows imported from CSV/TSV.

A label says an article (or an imported text) has (value 1) or has not (value 0) a topic, or
has a stance toward a target. Every label waits (used_in_version NULL) until the next
training of its kind, which marks it with the new model's version.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update

from monitor.classify.datafile import Row
from monitor.classify.kinds import STANCES
from monitor.errors import InputError
from monitor.store import utcnow
from monitor.store.schema import articles, labels as lt

KINDS = {"topic": "topic", "topics": "topic", "stance": "stance"}


@dataclass(frozen=True)
class Label:
    id: int
    article_id: int | None
    text: str
    kind: str
    target: str
    label: str
    value: int


def add_label(db, article_id: int, kind: str, label: str, value: int | bool = 1, target: str = "", analyst: str | None = None) -> int:
    """Record an analyst's label for a stored article; it is used at the next training.

    Topics: `label` is the topic, value 1 = the article has it, 0 = it does not.
    Stance: `label` is FAVOR, AGAINST or NONE toward `target`.
    A newer label for the same article, kind, target and label replaces the older one.
    """
    if kind not in KINDS:
        raise InputError("label kind is topic or stance")
    kind = KINDS[kind]
    label = (label or "").strip()
    if kind == "stance":
        label = label.upper()
        if label not in STANCES:
            raise InputError("a stance label is FAVOR, AGAINST or NONE")
        if not target.strip():
            raise InputError("a stance label needs a target")
        value = 1
    if not label:
        raise InputError("a label is needed")
    with db.write() as conn:
        if conn.execute(select(articles.c.id).where(articles.c.id == int(article_id))).scalar() is None:
            raise InputError(f"no article {article_id}")
        cond = [lt.c.article_id == int(article_id), lt.c.kind == kind, lt.c.target == target.strip()]
        if kind == "topic":
            cond.append(lt.c.label == label)
        conn.execute(lt.delete().where(*cond))
        return conn.execute(
            lt.insert().values(
                article_id=int(article_id), kind=kind, target=target.strip(), label=label, value=int(bool(value)),
                analyst=analyst, created_at=utcnow(),
            )
        ).inserted_primary_key[0]


def import_rows(db, kind: str, rows: list[Row], analyst: str | None = None) -> int:
    """Store rows of a data file as labels (texts without an article). Returns labels added.

    A topic row is positive for its labels and negative for every other label in the file;
    a stance row gives its stance toward its target.
    """
    kind = KINDS[kind]
    now = utcnow()
    out: list[dict] = []
    if kind == "topic":
        universe = sorted({lab for r in rows for lab in r.labels})
        for r in rows:
            if not r.text:
                continue
            for lab in universe:
                out.append(dict(article_id=None, text=r.text, kind=kind, target="", label=lab,
                                value=1 if lab in r.labels else 0, analyst=analyst, created_at=now))
    else:
        for r in rows:
            if r.text and r.labels:
                out.append(dict(article_id=None, text=r.text, kind=kind, target=r.target, label=r.labels[0], value=1,
                                analyst=analyst, created_at=now))
    with db.write() as conn:
        for start in range(0, len(out), 5000):
            conn.execute(lt.insert(), out[start : start + 5000])
    return len(out)


def all_labels(db, kind: str) -> list[Label]:
    """Every label of a kind, with the article's text for article labels."""
    from monitor.classify.features import article_text

    kind = KINDS[kind]
    q = (
        select(lt.c.id, lt.c.article_id, lt.c.text, lt.c.kind, lt.c.target, lt.c.label, lt.c.value,
               articles.c.title, articles.c.summary, articles.c.content)
        .select_from(lt.outerjoin(articles, articles.c.id == lt.c.article_id))
        .where(lt.c.kind == kind)
        .order_by(lt.c.id)
    )
    out = []
    with db.read() as conn:
        for r in conn.execute(q):
            text = article_text(r.title, r.summary, r.content) if r.article_id is not None else (r.text or "")
            out.append(Label(r.id, r.article_id, text, r.kind, r.target or "", r.label, int(r.value)))
    return out


def mark_used(db, kind: str, label_ids: list[int], version: str) -> None:
    with db.write() as conn:
        for start in range(0, len(label_ids), 5000):
            conn.execute(update(lt).where(lt.c.id.in_(label_ids[start : start + 5000])).values(used_in_version=version))


def label_counts(db) -> dict[str, dict]:
    """Per kind: total labels, waiting (not yet used) and per label/target counts."""
    with db.read() as conn:
        rows = conn.execute(
            select(lt.c.kind, lt.c.target, lt.c.label, lt.c.value, (lt.c.used_in_version.is_(None)).label("waiting"), func.count())
            .group_by(lt.c.kind, lt.c.target, lt.c.label, lt.c.value, lt.c.used_in_version.is_(None))
        ).all()
    out: dict[str, dict] = {}
    for kind, target, label, value, waiting, n in rows:
        k = out.setdefault(kind, {"total": 0, "waiting": 0, "by_label": {}})
        k["total"] += n
        k["waiting"] += n if waiting else 0
        key = f"{target}:{label}" if target else label
        d = k["by_label"].setdefault(key, {"positive": 0, "negative": 0})
        d["positive" if value else "negative"] += n
    return out
