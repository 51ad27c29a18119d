"""The Review page and the Models page as an analyst uses them: a click in the review queue
becomes a label, the next `train topics` learns from it, a re-tag applies it, and the Models
page says how far to trust each topic and what the re-tag changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import monitor.classify as classify
from monitor.store.schema import labels
from tests.dashboard_app import assert_clean, make_app, texts
from tests.test_classify import NEWS, add, topics_of


@pytest.fixture
def store(db):
    ids = [add(db, t, s) for t, s in NEWS]
    classify.tag_articles(db, ids)  # bootstraps a real topic model
    return db, ids


def _review(monkeypatch, db_url, topic: str):
    at = make_app(monkeypatch, db_url).run()
    at.switch_page("views/review.py").run()
    assert_clean(at)
    at.selectbox(key="review_topic").select(topic).run()
    assert_clean(at)
    return at


def _queue_ids(at) -> list[int]:
    return [int(b.key.removeprefix("review_yes_")) for b in at.button if b.key and b.key.startswith("review_yes_")]


def test_a_review_click_becomes_a_label_that_the_next_training_uses(monkeypatch, db_url, store, cli):
    db, ids = store
    at = _review(monkeypatch, db_url, "cybercrime")
    queue = _queue_ids(at)
    expected = [i.article_id for i in classify.review_queue(db, "cybercrime", 10).items]
    assert queue == expected and len(queue) == len(NEWS)  # nearest the threshold first
    assert "nearest the threshold" in texts(at)
    # the analyst says the most doubtful article is about cybercrime when it is not tagged so,
    # and not about it when it is: the label goes against the model either way
    pick = queue[0]
    about = "cybercrime" not in topics_of(db, pick)
    at.button(key=f"review_{'yes' if about else 'no'}_{pick}").click().run()
    assert_clean(at)
    assert f"Saved: article {pick} is {'about' if about else 'not about'} cybercrime" in texts(at)
    assert pick not in _queue_ids(at)  # labelled: it leaves the queue
    with db.read() as conn:
        rows = conn.execute(select(labels.c.article_id, labels.c.kind, labels.c.label, labels.c.value, labels.c.analyst, labels.c.used_in_version)).all()
    assert [(r.article_id, r.kind, r.label, r.value, r.used_in_version) for r in rows] == [(pick, "topic", "cybercrime", int(about), None)]
    assert rows[0].analyst  # recorded as the local analyst's, as "Correct a tag" does

    before = classify.model_status(db)["models"]["topics"]["active"]
    code, out, err = cli("train", "topics")
    assert code == 0, err
    after = classify.model_status(db)["models"]["topics"]["active"]
    assert after["training"]["analyst_labels"] == before["training"]["analyst_labels"] + 1
    side = "labelled_positive" if about else "labelled_negative"
    assert after["metrics"]["per_topic"]["cybercrime"][side] == before["metrics"]["per_topic"]["cybercrime"][side] + 1
    with db.read() as conn:
        assert conn.execute(select(labels.c.used_in_version)).scalar() == after["version"]
    code, out, err = cli("tag", "--all")
    assert code == 0, err
    assert ("cybercrime" in topics_of(db, pick)) is about  # the tag follows the label
    assert "topic tags:" in out and "cybercrime +" in out  # and `tag --all` says what changed


def test_the_models_page_shows_trust_from_labels_and_what_a_retag_changed(monkeypatch, db_url, store):
    db, ids = store
    ransomware, life_hack = ids[:2]
    classify.add_label(db, ransomware, "topic", "cybercrime", 1, analyst="ana")
    classify.add_label(db, life_hack, "topic", "cybercrime", 0, analyst="ana")
    at = make_app(monkeypatch, db_url).run()
    at.switch_page("views/models.py").run()
    assert_clean(at)
    page = texts(at)
    assert "How far to trust each topic" in page and "Wilson" in page
    trust = next(d.value for d in at.dataframe if "precision (95 % interval)" in d.value.columns)
    row = trust.set_index("topic").loc["cybercrime"]
    assert row["precision (95 % interval)"] == "100% (21%–100%)"  # 1 of 1: right, but little to go on
    assert row["tagged and labelled"] == 1 and row["labelled about it"] == 1 and row["labels"] == 2
    assert row["labels since training"] == 2
    assert "has not been applied to the stored articles yet" in " ".join(i.value for i in at.info)
    assert not any(isinstance(e.value, dict) for e in at.json)  # no raw JSON viewer any more

    at.button(key="train_topics").click().run()
    assert_clean(at)
    at.button(key="retag").click().run()
    assert_clean(at)
    assert "Re-tagged 8 articles" in texts(at)
    changes = next(d.value for d in at.dataframe if "removed" in d.value.columns)
    version = classify.model_status(db)["models"]["topics"]["active"]["version"]
    (report,) = classify.retags(db, version)
    assert list(changes["added"]) == [t.added for t in report.topics]
    assert list(changes["topic"]) == [t.topic for t in report.topics]
    assert "articles with this version" in texts(at)
    facts = next(d.value for d in at.dataframe if list(d.value.columns) == ["what", "value"])
    assert dict(zip(facts["what"], facts["value"]))["Analyst labels"] == "2"
    # each topic's threshold, and how many labels it rests on: cybercrime's two, no other topic's
    per_topic = next(d.value for d in at.dataframe if "labels behind threshold" in d.value.columns).set_index("topic")
    assert per_topic.loc["cybercrime", "labels behind threshold"] == 2
    assert (per_topic.drop(index="cybercrime")["labels behind threshold"] == 0).all()
    assert (per_topic.drop(index="cybercrime")["threshold"] == 0.33).all()
    assert "Labels behind threshold" in texts(at)
