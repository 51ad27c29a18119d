"""The topic bootstrap's per-article work done ahead (monitor.classify.prepared): training on
prepared articles gives the model training on the store alone gives, reads no prepared article
again, and reads afresh what changed since it was prepared."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select, update

from monitor.classify import features, prepared, training
from monitor.classify.kinds import ModelKind
from monitor.classify.modelstore import load_active
from monitor.classify.prepared import Prepared
from monitor.classify.tagging import retag_all
from monitor.classify.taxonomy import add_topic
from monitor.store.schema import articles, tags
from tests.test_classify import NEWS, add

MORE = [
    ("Europol dismantles people-smuggling ring", "Migrants paid smugglers thousands to cross the border in lorries."),
    ("Cocaine haul seized at the port", "Customs found two tonnes of cocaine in a banana shipment; the cartel's courier was arrested."),
    ("Concert tickets sell out in minutes", "Fans queued online for the reunion tour."),
    # long enough to be scored passage by passage too
    ("Inside the laundromat", " ".join(f"Investigators traced shell company number {i} through three banks in the laundering scheme."
                                        for i in range(12))),
]


def _model(db) -> dict:
    """The active topic model's thresholds and coefficients, and the tags it gives."""
    stored = load_active(db, ModelKind.TOPICS)
    assert stored is not None
    retag_all(db)
    with db.read() as conn:
        tagged = {(r.article_id, r.label) for r in conn.execute(select(tags).where(tags.c.kind == "topic"))}
    blocks = stored.payload["features"]["blocks"]
    return {"thresholds": list(stored.payload["thresholds"]), "coef": np.asarray(stored.payload["heads"]["coef"]), "tags": tagged,
            "terms": [bytes(b["terms"]) for b in blocks], "idf": [np.asarray(b["idf"]) for b in blocks]}


def _same(a: dict, b: dict) -> None:
    assert a["thresholds"] == b["thresholds"] and a["tags"] == b["tags"] and a["tags"]
    assert a["terms"] == b["terms"] and all(np.array_equal(x, y) for x, y in zip(a["idf"], b["idf"]))
    # liblinear's heads, fitted side by side in threads, share one random generator: the same rows
    # give the same optimum to the solver's tolerance, not to the last digit
    assert a["coef"].shape == b["coef"].shape and np.allclose(a["coef"], b["coef"], atol=5e-3)


@pytest.fixture
def archive(db):
    ids = [add(db, t, s) for t, s in NEWS + MORE]
    training.train(db, "stance")  # tagging needs both kinds; these tests train topics
    return ids


def _caught_up(db) -> Prepared:
    ahead = training.prepare_ahead(db)  # as a warm child starts
    while ahead.catch_up(db, limit=4):  # a few at a time, as a warm child does while a run stores
        pass
    return ahead


def test_training_on_prepared_articles_gives_the_model_the_store_gives(db, archive):
    training.train(db, "topics")
    alone = _model(db)
    training.train(db, "topics", prepared=_caught_up(db))
    _same(_model(db), alone)


def test_prepared_articles_are_not_read_or_analysed_again(db, archive, monkeypatch):
    ahead = _caught_up(db)
    assert len(ahead.texts) == len(archive)
    read, analysed = [], []
    real_read = prepared.StoredText.read
    monkeypatch.setattr(prepared.StoredText, "read", classmethod(lambda cls, row: read.append(row.id) or real_read(row)))
    assert any(len(a.text) > 700 for a in ahead.texts.values())  # one is scored by passages too
    build, topic_spec = features.analyzers.build, ahead.analysed.spec
    # the topic analyzer records the texts training and the re-tag have it read
    monkeypatch.setattr(features.analyzers, "build",
                        lambda spec: (lambda a: (lambda t: analysed.append(t) or a(t)) if spec == topic_spec else a)(build(spec)))
    training.train(db, "topics", prepared=ahead)
    retag_all(db)
    assert read == []
    assert analysed == []  # no article, blanked copy, passage, example or description


def test_an_article_edited_after_it_was_prepared_is_read_afresh(db, archive):
    ahead = _caught_up(db)
    edited = archive[0]  # a ransomware story
    with db.write() as conn:
        conn.execute(update(articles).where(articles.c.id == edited).values(
            title="City win the derby with a late goal", summary="The striker scored in the last minute of the match."))
    training.train(db, "topics", prepared=ahead)
    with_ahead = _model(db)
    training.train(db, "topics")
    _same(with_ahead, _model(db))
    assert not any(aid == edited and label == "cybercrime" for aid, label in with_ahead["tags"])


def test_a_topic_added_after_the_articles_were_prepared_is_learned_from_them(db, archive):
    ahead = _caught_up(db)
    add_topic(db, "football", "Football matches and clubs", ["derby", "striker", "goal"])
    more = add(db, "Derby day: the striker's late goal", "The home side won the derby in the last minute.")
    training.train(db, "topics", prepared=ahead)
    with_ahead = _model(db)
    training.train(db, "topics")
    _same(with_ahead, _model(db))
    assert (more, "football") in with_ahead["tags"]


def test_articles_prepared_from_another_store_are_not_used(db, archive, tmp_path):
    from monitor.store import Database

    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    other.init()
    add(other, "Hackers hit the bank", "Ransomware encrypted the bank's servers.")
    ahead = _caught_up(other)
    training.train(db, "topics", prepared=ahead)
    with_other = _model(db)
    training.train(db, "topics")
    _same(with_other, _model(db))


def test_preparing_stops_at_what_training_reads(db, archive, monkeypatch):
    monkeypatch.setattr(prepared, "MAX_WEAK_ARTICLES", 5)
    ahead = Prepared.start(db)
    assert ahead.catch_up(db, limit=3) == 3 and ahead.catch_up(db) == 2 and ahead.catch_up(db) == 0
    assert sorted(ahead.texts) == sorted(archive)[:5]
