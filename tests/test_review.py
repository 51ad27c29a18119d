"""Learning from a few labels: the review queue, label-based precision and recall, and what a
re-tag changed; on a real SQLite file and PostgreSQL, with real trained models."""

from __future__ import annotations

import pytest
from sqlalchemy import update

import monitor.classify as classify
from monitor.classify.quality import wilson
from monitor.errors import InputError
from monitor.store.schema import tags
from tests.test_classify import NEWS, add, topics_of


@pytest.fixture
def tagged(db):
    ids = [add(db, t, s) for t, s in NEWS]
    classify.tag_articles(db, ids)
    return ids


def test_the_queue_holds_the_unlabelled_articles_nearest_the_threshold(db, tagged):
    from monitor.classify.modelstore import load_active
    from monitor.classify.topics import TopicModel

    model = TopicModel.from_payload(load_active(db, "topics").payload)
    j = model.labels.index("cybercrime")
    queue = classify.review_queue(db, "cybercrime", limit=3)
    assert queue.model_version == load_active(db, "topics").version and queue.scored == len(NEWS)
    margins = {aid: abs(s - model.thresholds[j]) for aid, s in zip(tagged, model.scores([f"{t}. {t}. {s}" for t, s in NEWS])[:, j])}
    assert [i.article_id for i in queue.items] == sorted(margins, key=margins.get)[:3]
    for item in queue.items:
        assert item.tagged == ("cybercrime" in topics_of(db, item.article_id))
        assert item.threshold == pytest.approx(float(model.thresholds[j]))
    # a labelled article leaves the queue; the next one moves up
    first = queue.items[0].article_id
    classify.add_label(db, first, "topic", "cybercrime", 0, analyst="ana")
    again = classify.review_queue(db, "cybercrime", limit=3)
    assert first not in [i.article_id for i in again.items]
    assert [i.article_id for i in again.items][:2] == [i.article_id for i in queue.items][1:]
    assert again.labelled == 1 and again.scored == len(NEWS) - 1
    # a label for another topic does not take the article out of this topic's queue
    classify.add_label(db, again.items[0].article_id, "topic", "terrorism", 0, analyst="ana")
    assert classify.review_queue(db, "cybercrime", limit=3).items[0].article_id == again.items[0].article_id


def test_the_queue_without_a_model_or_with_an_unknown_topic(db):
    add(db, "Police seize cocaine", "")
    assert classify.review_queue(db, "cybercrime").model_version is None  # the page says so; nothing is trained
    classify.train(db, "topics")
    with pytest.raises(InputError, match="no topic 'gardening'"):
        classify.review_queue(db, "gardening")


def test_wilson_interval_matches_the_textbook_figures():
    # Wilson (1927) as in Newcombe (1998), table I: 81/263 -> 0.2553-0.3662; 0/10 -> 0-0.2775
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson(0, 10)
    assert (round(low, 4), round(high, 4)) == (0.0, 0.2775)
    assert wilson(0, 0) == (None, None)


def test_precision_and_recall_from_labels_against_the_current_tags(db, tagged):
    ransomware, life_hack, cocaine, derby = tagged[:4]
    assert "cybercrime" in topics_of(db, ransomware) and "cybercrime" not in topics_of(db, life_hack)
    classify.add_label(db, ransomware, "topic", "cybercrime", 1)  # tagged, right: a true positive
    classify.add_label(db, derby, "topic", "cybercrime", 1)  # about it (say), not tagged: missed
    classify.add_label(db, life_hack, "topic", "cybercrime", 0)  # not tagged, right
    with db.write() as conn:  # a wrong tag on the cocaine story, as an off model would give
        conn.execute(tags.insert().values(article_id=cocaine, kind="topic", target="", label="cybercrime", score=0.6,
                                          model_version="x", published_at=classify_time(db, cocaine)))
    classify.add_label(db, cocaine, "topic", "cybercrime", 0)
    q = {t.topic: t for t in classify.topic_quality(db)}["cybercrime"]
    assert (q.precision.hits, q.precision.n, q.recall.hits, q.recall.n) == (1, 2, 1, 2)
    assert q.precision.value == 0.5 and q.recall.value == 0.5
    assert (q.precision.low, q.precision.high) == pytest.approx(wilson(1, 2))
    assert q.labels == 4 and q.since_training == 4
    classify.train(db, "topics")
    assert {t.topic: t for t in classify.topic_quality(db)}["cybercrime"].since_training == 0


def classify_time(db, article_id):
    from sqlalchemy import select

    from monitor.store.schema import articles

    with db.read() as conn:
        return conn.execute(select(articles.c.published_at).where(articles.c.id == article_id)).scalar()


def test_a_retag_records_the_tags_added_and_removed_per_topic(db, tagged):
    ransomware, life_hack = tagged[:2]
    version = classify.model_status(db)["models"]["topics"]["active"]["version"]
    with db.write() as conn:  # one tag the model would not give, one it gives taken away
        conn.execute(tags.insert().values(article_id=life_hack, kind="topic", target="", label="terrorism", score=0.9,
                                          model_version="x", published_at=classify_time(db, life_hack)))
        conn.execute(tags.delete().where(tags.c.article_id == ransomware, tags.c.label == "cybercrime"))
    classify.retag_all(db)
    (report,) = classify.retags(db, version)
    by = {t.topic: t for t in report.topics}
    assert (by["cybercrime"].added, by["cybercrime"].removed) == (1, 0)
    assert (by["terrorism"].added, by["terrorism"].removed, by["terrorism"].after) == (0, 1, 0)
    assert report.articles == len(NEWS) and report.model_version == version
    classify.retag_all(db)  # nothing changed the second time; both are kept, newest first
    latest, first = classify.retags(db, version)
    assert latest.added == latest.removed == 0 and first.added == 1
    assert classify.retags(db, "no-such-version") == []


def test_a_model_row_without_retags_reads_as_none(db, tagged):
    from monitor.store.schema import classifier_models

    with db.write() as conn:
        conn.execute(update(classifier_models).values(metrics={}))
    version = classify.model_status(db)["models"]["topics"]["active"]["version"]
    assert classify.retags(db, version) == []


def test_the_queue_scores_with_the_model_active_now(db, tagged):
    from monitor.classify.modelstore import load_active
    from monitor.classify.topics import TopicModel

    first = classify.review_queue(db, "corruption", limit=len(NEWS))  # scores kept for the next click
    classify.add_label(db, tagged[4], "topic", "corruption", 0, analyst="ana")
    classify.train(db, "topics")
    stored = load_active(db, "topics")
    model = TopicModel.from_payload(stored.payload)
    again = classify.review_queue(db, "corruption", limit=len(NEWS))
    assert again.model_version == stored.version != first.model_version
    fresh = dict(zip(tagged, model.scores([f"{t}. {t}. {s}" for t, s in NEWS])[:, model.labels.index("corruption")]))
    assert {i.article_id: i.score for i in again.items} == pytest.approx({i: fresh[i] for i in tagged if i != tagged[4]})
