"""Re-tagging right after training reuses the scores training computed (tagging.FittedScores):
the tags are exactly those a fresh process gives, and an article edited in between is scored
on its new text."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from monitor.classify import tagging, training
from monitor.classify.features import Features
from monitor.classify.topics import TopicModel
from monitor.store.schema import articles, tags
from tests.test_classify import NEWS, add

MORE = [
    ("Europol dismantles people-smuggling ring", "Migrants paid smugglers thousands to cross the border in lorries."),
    ("Cyber gang behind bank phishing arrested", "The hackers stole card data from customers."),
    ("Concert tickets sell out in minutes", "Fans queued online for the reunion tour."),
]


def _tags(db) -> dict[tuple[int, str, str, str], float]:
    with db.read() as conn:
        return {(r.article_id, r.kind, r.target, r.label): r.score for r in conn.execute(select(tags))}


@pytest.fixture
def trained(db):
    ids = [add(db, t, s) for t, s in NEWS + MORE]
    training.train(db, "topics")
    training.train(db, "stance")
    return ids


def test_a_retag_right_after_training_gives_the_tags_a_fresh_process_gives(db, trained, monkeypatch):
    analysed: list[int] = []
    transform = Features.transform
    monkeypatch.setattr(Features, "transform", lambda self, texts, ahead=None: analysed.append(len(texts)) or transform(self, texts, ahead))
    cleaned: list[str | None] = []
    clean = tagging.article_text
    monkeypatch.setattr(tagging, "article_text", lambda title, *rest: cleaned.append(title) or clean(title, *rest))
    rebuilt: list[str] = []
    from_payload = TopicModel.from_payload
    monkeypatch.setattr(TopicModel, "from_payload", lambda p: rebuilt.append("topics") or from_payload(p))
    tagging.retag_all(db)
    reused = _tags(db)
    assert sum(analysed) < len(trained)  # the stored articles' whole texts were not analysed again
    assert cleaned == [] and rebuilt == []  # nor read again, nor the new model rebuilt from its arrays

    tagging.remember_fitted_scores(None)  # what another process, or a later run, has
    tagging.retag_all(db)
    fresh = _tags(db)
    assert reused.keys() == fresh.keys() and reused
    assert all(abs(reused[k] - fresh[k]) < 1e-9 for k in fresh)


def test_an_article_edited_after_training_is_scored_on_its_new_text(db, trained):
    edited = trained[0]  # a ransomware story, tagged cybercrime
    with db.write() as conn:
        conn.execute(update(articles).where(articles.c.id == edited).values(
            title="City win the derby with a late goal", summary="The striker scored in the last minute of the match."))
    tagging.retag_all(db)
    labels = {k[3] for k in _tags(db) if k[0] == edited and k[1] == "topic"}
    assert "cybercrime" not in labels
