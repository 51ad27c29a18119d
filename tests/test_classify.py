"""Classifiers as an analyst meets them: tags after ingest, corrections that stick, broken models
that do not stop ingest, explanations, and the train/evaluate/tag commands."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, update

import monitor.classify as classify
from monitor.classify.modelstore import dumps
from monitor.store import utcnow
from monitor.store.schema import articles, classifier_models, labels, tags
from tests.conftest import shared_path

NEWS = [
    ("Hackers hit hospital with ransomware", "The attackers encrypted patient records and demanded a ransom; a data breach exposed thousands."),
    ("Ten life hacks for a cleaner kitchen", "Clean your oven quickly with baking soda and lemon."),
    ("Police seize two tonnes of cocaine at the port", "Drug traffickers hid the narcotics in banana boxes."),
    ("City win the derby with a late goal", "The striker scored in the last minute of the match."),
    ("Minister arrested for taking bribes", "Anti-corruption investigators say he took kickbacks for state contracts."),
    ("Interpol issues red notice for fugitive banker", "He faces extradition after months on the international wanted list."),
    ("Storm brings heavy rain to the north", "Forecasters expect strong winds over the weekend."),
    ("Bank fined over money laundering failures", "Shell companies moved dirty money through its accounts."),
]


def add(db, title: str, summary: str = "", content: str = "") -> int:
    now = utcnow()
    with db.write() as conn:
        return conn.execute(
            articles.insert().values(title=title, summary=summary, content=content, source="test", published_at=now,
                                     fetched_at=now, title_hash=str(hash((title, summary)))[:32])
        ).inserted_primary_key[0]


def topics_of(db, article_id: int) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(tags.c.label).where(tags.c.article_id == article_id, tags.c.kind == "topic")).scalars())


def status_of(db, article_id: int) -> tuple[str, str | None]:
    with db.read() as conn:
        r = conn.execute(select(articles.c.tag_status, articles.c.tag_error).where(articles.c.id == article_id)).one()
    return r.tag_status, r.tag_error


@pytest.fixture
def news(db):
    return [add(db, t, s) for t, s in NEWS]


def test_bootstrap_without_labels_tags_new_articles(db, news):
    assert classify.tag_articles(db, news) == len(news)
    assert "cybercrime" in topics_of(db, news[0])
    assert "cybercrime" not in topics_of(db, news[1])  # a life hack is not a hack
    assert "drug_trafficking" in topics_of(db, news[2])
    assert topics_of(db, news[3]) == set()
    assert "corruption" in topics_of(db, news[4])
    assert "interpol" in topics_of(db, news[5])
    assert topics_of(db, news[6]) == set()
    status = classify.model_status(db)
    assert status["models"]["topics"]["active"]["bootstrap"] is True
    assert status["targets"]["Interpol"]["bootstrap"] is True
    with db.read() as conn:
        versions = set(conn.execute(select(tags.c.model_version)).scalars())
        active = set(conn.execute(select(classifier_models.c.version).where(classifier_models.c.active.is_(True))).scalars())
    assert versions and versions <= active  # every tag names the model that made it


def test_generalises_beyond_seed_terms(db, news):
    classify.tag_articles(db, news)  # the bootstrap model is trained here
    # no seed term of cybercrime in it: the model has to know the neighbourhood of the terms
    others = [
        add(db, "Attackers encrypted the city's servers and demanded bitcoin", "Stolen passwords let them into the network."),
        add(db, "Злоумышленники зашифровали серверы больницы", "Они потребовали выкуп в биткоинах."),
    ]
    classify.tag_articles(db, others)
    for other in others:
        assert "cybercrime" in topics_of(db, other)


@pytest.mark.parametrize(
    "title, summary, topic",
    [
        ("Полиция задержала хакеров", "Злоумышленники взломали серверы банка и похитили данные клиентов.", "cybercrime"),
        ("Чиновника задержали по делу о взятке", "Коррупционного скандала в мэрии ждали давно: следователи изъяли деньги.", "corruption"),
        ("Интерпол объявил бизнесмена в международный розыск", "Генпрокуратура готовит запрос об экстрадиции.", "interpol"),
    ],
)
def test_russian_text_and_its_inflections(db, title, summary, topic):
    article = add(db, title, summary)
    classify.tag_articles(db, [article])
    assert topic in topics_of(db, article)


# a long article (well over weaklabels.LONG_ARTICLE_WORDS words) with one passing mention
REVIEW = ("The director's new film opened to packed cinemas this weekend. Critics praised the lead actor's "
          "performance and the soundtrack. {passing} The studio expects the picture to run for months, and the cast "
          "will tour festivals before the awards season, where the film is tipped for best picture and best screenplay. "
          + "The cinematography lingers on the coastline, the score swells at every reunion, and the dialogue, written "
            "over three years, gives each of the seven siblings a voice of their own. " * 12)
PASSING = {"terrorism": "In one scene the hero plays a retired terrorist.",
           "drug_trafficking": "Its villain is a cocaine-addled banker.",
           "organized_crime": "The plot borrows from old mafia films."}


def test_a_passing_seed_term_in_an_off_topic_article_does_not_make_the_topic(db, news):
    """The bootstrap learns from the archive it then tags: long film reviews that drop "terrorist"
    or "cocaine" in passing are not taught as terrorism or drug trafficking (nor tagged so),
    while a one-line news item with a single seed term still is."""
    reviews = {topic: [add(db, f"Film {k}{i} tops the box office", REVIEW.format(passing=line)) for i in range(12)]
               for k, (topic, line) in enumerate(PASSING.items())}
    plain = [add(db, f"Film {i} tops the box office", REVIEW.format(passing="")) for i in range(40)]
    item = add(db, "Terrorist attack kills three in the capital")
    classify.tag_articles(db, [*news, *plain, *(a for ids in reviews.values() for a in ids), item])
    for topic, ids in reviews.items():
        assert all(topic not in topics_of(db, a) for a in ids), topic
    assert "terrorism" in topics_of(db, item)


FILLER = "The council met on Tuesday and the minutes were published the next morning. "  # 13 words


def _evidence(title: str, body: str, topic: str):
    from monitor.classify.features import article_text
    from monitor.classify.taxonomy import TermMatcher, load_taxonomy
    from monitor.classify.weaklabels import seed_evidence

    matcher = TermMatcher.for_topics(load_taxonomy().topics)
    return seed_evidence(matcher, title, article_text(title, body))[0].get(topic)


def test_a_seed_term_in_the_lead_of_a_longer_item_is_evidence_and_one_deep_in_it_is_not():
    """News states its subject in the lead: one "bribes" in the second sentence of a 200-word
    item makes it a weak positive of corruption; the same word in its last paragraph, or two drug
    words in one side paragraph of a long article, leave the decision to the model."""
    lead = _evidence("Mayor's flat under investigation", "Prosecutors say the mayor took bribes from builders. " + FILLER * 15, "corruption")
    deep = _evidence("Mayor's flat under investigation", FILLER * 15 + "Prosecutors say the mayor took bribes from builders.", "corruption")
    side = _evidence("Navy patrols the strait", FILLER * 12 + "Drug dealers and drug boats use it too. " + FILLER * 10, "drug_trafficking")
    assert lead.weight > 0.5  # less than a short item's full weight: the article goes on about other things
    assert deep.weight == 0.0
    assert side.weight == 0.0
    again = _evidence("Navy patrols the strait", FILLER * 12 + "Drug dealers use it. " + FILLER * 9 + "Drug boats too. "
                      + FILLER * 9 + "So do drug dealers.", "drug_trafficking")
    assert again.weight == 1.0  # a story that keeps coming back to it
    cluster = _evidence("Navy patrols the strait", FILLER * 12 + "Drug dealers, drug boats and drug dealers again. " + FILLER * 10,
                        "drug_trafficking")
    assert cluster.weight == 0.0  # three mentions, all in one side paragraph


def test_a_passing_term_deep_in_a_long_chinese_article_is_no_evidence():
    """Chinese puts no spaces between words: a 2 000-character article is not a short item, and
    a figurative 挪用 (appropriate, also embezzle) in its sixth paragraph leaves the decision to
    the model; the same word in the lead of a short item still counts fully."""
    filler = "欧洲议会讨论了搜索引擎公司在处理删除申请时如何平衡个人隐私与公众知情权的问题。"  # 40 characters
    deep = _evidence("被遗忘权的争议", filler * 12 + "委员会担心其他国家会挪用这项政策来审查网络。" + filler * 20, "economic_crime")
    lead = _evidence("公司会计挪用公款被捕", "警方称该会计三年内挪用公司资金五百万元。", "economic_crime")
    assert deep.weight == 0.0
    assert lead.weight == 1.0


@pytest.mark.parametrize(
    "text, topic",
    [("Хабаровская краевая дума собралась на сессию", "corruption"), ("网友发起抵制毒春晚的联署", "drug_trafficking")],
    ids=["khabarovsk-is-no-bribe", "boycott-is-no-drug-making"],
)
def test_look_alikes_of_seed_terms_are_no_evidence(text, topic):
    """Хабаровск begins like the Ukrainian хабар (a bribe); 抵制毒… (boycotting a "poisonous" show)
    contains 制毒 (making drugs). Neither is a keyword hit of the topic, for the weak labels or
    for the keyword baseline."""
    from monitor.classify.taxonomy import TermMatcher, load_taxonomy

    matcher = TermMatcher.for_topics(load_taxonomy().topics)
    assert topic not in {group for group, *_ in matcher.find(text)}


def test_empty_and_huge_texts_are_tagged(db):
    empty = add(db, "", "")
    huge = add(db, "Ransomware gang leaks stolen data", "Hackers published the files.", "word " * 2_000_000)
    assert classify.tag_articles(db, [empty, huge]) == 2
    assert status_of(db, empty) == ("tagged", None)
    assert status_of(db, huge) == ("tagged", None)
    assert "cybercrime" in topics_of(db, huge)


def test_corrected_label_changes_the_tag_after_retraining(db, news):
    classify.tag_articles(db, news)
    target = news[4]
    assert "corruption" in topics_of(db, target)
    label_id = classify.add_label(db, target, "topic", "corruption", 0, analyst="ana")
    classify.add_label(db, target, "topic", "economic_crime", 1, analyst="ana")
    result = classify.train(db, "topics")
    with db.read() as conn:
        used = conn.execute(select(labels.c.used_in_version).where(labels.c.id == label_id)).scalar()
    assert used == result["version"]
    classify.retag_all(db)
    assert "corruption" not in topics_of(db, target)
    assert "economic_crime" in topics_of(db, target)
    assert classify.model_status(db)["models"]["topics"]["active"]["bootstrap"] is False


def test_a_label_file_of_exported_articles_corrects_them_as_dashboard_labels_do(db, news, tmp_path):
    """An analyst exports articles, marks their topics in a spreadsheet and imports the file
    (`train topics --data`): rows that are stored articles are labels of those articles, and
    outweigh the seed terms the same way (as rows of another corpus they weighed a tenth and
    changed nothing)."""
    classify.tag_articles(db, news)
    target = news[4]
    assert "corruption" in topics_of(db, target)
    title, summary = NEWS[4]
    data = _write(tmp_path / "labels.csv", ["title", "summary", "topics"],
                  [[f"  {title.upper()} ", summary.replace(" ", "  ") + " \u200b", "economic_crime"], [*NEWS[2], "drug_trafficking;corruption"]])
    classify.train(db, "topics", data=data)
    classify.retag_all(db)
    assert "corruption" not in topics_of(db, target)
    assert "economic_crime" in topics_of(db, target)


def test_a_hundred_labels_among_many_more_articles_keep_the_bootstrap_recipe(db):
    """The Models page shows each topic's threshold: 120 corrections in an archive of 320
    articles are heavy rows of the bootstrap, not a switch that hands every topic's threshold to
    a cross-validation over mostly weak labels (it moved them to 0.20-0.45 on the dev feeds)."""
    from monitor.classify.training import BOOTSTRAP_THRESHOLD

    ids = [add(db, f"{title} ({i})", summary) for i in range(40) for title, summary in NEWS]
    for k, article in enumerate(ids[:120]):
        classify.add_label(db, article, "topic", "corruption", int(k % len(NEWS) == 4), analyst="ana")
    result = classify.train(db, "topics")
    assert {m["threshold"] for m in result["metrics"]["per_topic"].values()} == {BOOTSTRAP_THRESHOLD}


@pytest.mark.parametrize(
    "blob, reason",
    [
        (b"not a zip file at all", "corrupt"),
        (b"PK\x03\x04" + b"\x00" * 40, "corrupt"),
        (dumps({"format": 999}), "incompatible"),
    ],
    ids=["garbage", "damaged-zip", "other-version"],
)
def test_broken_model_never_stops_ingest(db, news, blob, reason):
    classify.tag_articles(db, news[:1])
    with db.write() as conn:
        conn.execute(update(classifier_models).where(classifier_models.c.kind == "topics").values(blob=blob))
    fresh = add(db, "Hackers steal card data from online shop", "Malware skimmed payment details.")
    assert classify.tag_articles(db, [fresh]) == 0  # no exception
    status, error = status_of(db, fresh)
    assert status == "failed" and reason in error
    classify.train(db, "topics")  # a new model, then `tag` catches up
    assert classify.tag_pending(db) >= 1
    assert status_of(db, fresh) == ("tagged", None)
    assert "cybercrime" in topics_of(db, fresh)


def _stored_topics_blob(db) -> bytes:
    with db.read() as conn:
        return bytes(conn.execute(select(classifier_models.c.blob).where(classifier_models.c.kind == "topics")).scalar())


def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tampered(blob: bytes) -> bytes:
    """The stored model with its coefficient matrix swapped for one of another shape."""
    from monitor.classify.modelstore import loads

    payload = loads(blob)
    payload.pop("format", None)
    payload["heads"]["coef"] = np.ones((2, 3), dtype=np.float32)
    return dumps(payload)


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: _zip({"a0.npy": b"\x93NUMPY"}), lambda b: _zip({"__model__.npy": b"{}"}), _tampered],
    ids=["truncated", "zip-without-model", "not-a-model-archive", "tampered-arrays"],
)
def test_a_damaged_model_is_reported_as_corrupt_not_as_another_version(db, news, damage):
    """A truncated, foreign or tampered blob is what it is: unreadable, to be retrained, not
    "from an incompatible version" (which would send an analyst looking for an upgrade)."""
    classify.tag_articles(db, news[:1])
    blob = damage(_stored_topics_blob(db))
    with db.write() as conn:
        conn.execute(update(classifier_models).where(classifier_models.c.kind == "topics").values(blob=blob))
    fresh = add(db, "Hackers steal card data from online shop", "Malware skimmed payment details.")
    assert classify.tag_articles(db, [fresh]) == 0
    status, error = status_of(db, fresh)
    assert status == "failed"
    assert "corrupt" in error and "retrain it with `train`" in error and "incompatible" not in error
    assert "\n" not in error


def test_model_with_pickled_objects_is_refused(db, news):
    """An archive member that needs pickle (the one way an .npz carries code) is never loaded."""
    import io

    classify.tag_articles(db, news[:1])
    buf = io.BytesIO()
    np.savez(buf, __model__=np.frombuffer(b'{"format": 2, "kind": "topics"}', dtype=np.uint8),
             a0=np.array([print], dtype=object), allow_pickle=True)
    with db.write() as conn:
        conn.execute(update(classifier_models).where(classifier_models.c.kind == "topics").values(blob=buf.getvalue()))
    fresh = add(db, "Phishing wave hits banks", "")
    classify.tag_articles(db, [fresh])
    status, error = status_of(db, fresh)
    assert status == "failed" and "pickled" in error


def test_explain_names_the_terms_behind_a_tag(db, news):
    classify.tag_articles(db, news)
    terms = classify.explain(db, news[0], "topic", "cybercrime")
    assert terms and all(isinstance(t, str) and isinstance(w, float) for t, w in terms)
    assert any("ransom" in t or "hack" in t or "breach" in t for t, w in terms if w > 0)
    stance_terms = classify.explain(db, news[5], "stance", "NONE", target="Interpol")
    assert isinstance(stance_terms, list)


def test_stance_tags_only_for_mentioned_targets(db, news):
    classify.tag_articles(db, news)
    with db.read() as conn:
        rows = conn.execute(select(tags.c.article_id, tags.c.target, tags.c.label).where(tags.c.kind == "stance")).all()
    assert {r.article_id for r in rows} == {news[5]}
    assert rows[0].target == "Interpol" and rows[0].label in ("FAVOR", "AGAINST", "NONE")


def test_seed_article_ingested_as_a_feed_gets_interpol_and_cybercrime(db, tmp_path):
    from xml.sax.saxutils import escape

    from monitor.ingest import ingest_document

    text = shared_path("seed", "tass-interpol-2023-09-07.txt").read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>TASS</title>'
        "<link>https://tass.com/</link><description>seed</description><item>"
        "<title>Unfriendly countries debate expelling Russia from Interpol</title>"
        "<link>https://tass.com/world/1671455</link><pubDate>Thu, 07 Sep 2023 10:00:00 GMT</pubDate>"
        f"<description>{escape(text)}</description></item></channel></rss>"
    ).encode()
    stats = ingest_document(db, body, source="TASS")
    (article,) = stats.new_article_ids
    got = topics_of(db, article)
    assert {"interpol", "cybercrime"} <= got, got


# ---------------------------------------------------------------- CLI


def _write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",") -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


TOPIC_ROWS = [
    ["Hackers stole passwords in a phishing attack", "cyber"],
    ["Ransomware encrypted the council's servers", "cyber"],
    ["Malware infected thousands of computers", "cyber"],
    ["A data breach exposed customer records", "cyber"],
    ["The striker scored twice in the final", "sport"],
    ["The team won the league title", "sport"],
    ["The tennis champion lost in the first round", "sport"],
    ["The coach was sacked after the defeat", "sport"],
    ["Interest rates rose again this month", "economy"],
    ["Inflation fell as energy prices dropped", "economy"],
    ["The central bank cut its growth forecast", "economy"],
    ["Unemployment reached a record low", "economy"],
]


def test_evaluate_topics_cv_prints_one_json_object(cli, tmp_path):
    data = _write(tmp_path / "topics.csv", ["text", "label"], TOPIC_ROWS)
    code, out, err = cli("evaluate", "topics", "--data", str(data), "--cv", "2")
    assert code == 0, err
    result = json.loads(out)
    assert {"accuracy", "macro_f1", "per_class"} <= set(result)
    assert set(result["per_class"]) == {"cyber", "sport", "economy"}
    for metrics in result["per_class"].values():
        assert set(metrics) == {"precision", "recall", "f1", "support"}
    assert 0 <= result["accuracy"] <= 1


def test_train_and_evaluate_multilabel_topics_from_tsv(cli, tmp_path):
    rows = [[f"title {i}", text, label if i % 3 else f"{label};news"] for i, (text, label) in enumerate(TOPIC_ROWS * 2)]
    data = _write(tmp_path / "multi.tsv", ["title", "body", "topics"], rows, delimiter="\t")
    code, out, err = cli("train", "topics", "--data", str(data), "--text-column", "title", "--text-column", "body", "--label-column", "topics")
    assert code == 0, err
    assert json.loads(out)["version"].startswith("topics-")
    code, out, err = cli("evaluate", "topics", "--data", str(data), "--text-column", "body", "--label-column", "topics")
    assert code == 0, err
    result = json.loads(out)
    assert {"cyber", "sport", "economy", "news"} <= set(result["per_class"])


def _labelled_topic_rows() -> tuple[list[str], np.ndarray, list[str]]:
    # each row with a distinct tail, so the inner folds see new text, not copies
    rows = [(f"{text}, report {i}", label) for i in range(6) for text, label in TOPIC_ROWS]
    classes = sorted({label for _, label in rows})
    Y = np.array([[int(label == c) for c in classes] for _, label in rows], dtype=np.int8)
    return [text for text, _ in rows], Y, classes


@pytest.mark.parametrize("recipes", [None, (("squared_hinge", 1.0),)], ids=["grid", "svm-only"])
def test_labelled_topic_model_picks_its_head_by_inner_cv_and_scores_probabilities(recipes, monkeypatch):
    from monitor.classify import topics
    from monitor.classify.topics import TopicModel, fit_topic_model

    if recipes:
        monkeypatch.setattr(topics, "RECIPES", recipes)
    texts, Y, classes = _labelled_topic_rows()
    model = fit_topic_model(texts, Y, classes, tune_thresholds=True)
    tried = recipes or topics.RECIPES
    assert len(model.info["recipe_cv"]) == len(tried)
    assert (model.info["loss"], model.info["C"]) in tried
    new = ["A phishing attack stole bank passwords", "The striker scored in the final", "Inflation and interest rates rose"]
    S = model.scores(new)
    assert ((S > 0) & (S < 1)).all()  # probabilities, an SVM's margins included (Platt scaling)
    assert [classes[k] for k in S.argmax(axis=1)] == ["cyber", "sport", "economy"]
    assert [set(tags) for tags in model.predict_sets(new)] == [{"cyber"}, {"sport"}, {"economy"}]
    again = TopicModel.from_payload(model.to_payload())
    assert np.allclose(again.scores(new), S)


STANCE_ROWS = [
    ["Interpol did a great job catching him, well done", "Interpol", "FAVOR"],
    ["Thanks to Interpol police found the missing children", "Interpol", "FAVOR"],
    ["Interpol is an essential partner, praised the minister", "Interpol", "FAVOR"],
    ["Interpol is abused by dictators to hunt critics", "Interpol", "AGAINST"],
    ["Shame on Interpol for helping a repressive regime", "Interpol", "AGAINST"],
    ["Interpol failed again and ignored the evidence", "Interpol", "AGAINST"],
    ["Interpol met in Lyon on Tuesday", "Interpol", "NONE"],
    ["Interpol has 195 member countries", "Interpol", "NONE"],
    ["A spokesperson for Interpol declined to comment", "Interpol", "NONE"],
]


def test_stance_train_then_evaluate_reports_f_avg(cli, tmp_path):
    data = _write(tmp_path / "stance.tsv", ["Target", "Tweet", "Stance"], [[t, x, s] for x, t, s in STANCE_ROWS * 2], delimiter="\t")
    code, out, err = cli("train", "stance", "--data", str(data))
    assert code == 0, err
    code, out, err = cli("evaluate", "stance", "--data", str(data))
    assert code == 0, err
    result = json.loads(out)
    assert {"accuracy", "macro_f1", "per_class", "f_avg"} <= set(result)
    assert set(result["per_class"]) == {"FAVOR", "AGAINST", "NONE"}
    assert result["f_avg"] == pytest.approx((result["per_class"]["FAVOR"]["f1"] + result["per_class"]["AGAINST"]["f1"]) / 2, abs=1e-3)
    code, out, err = cli("evaluate", "stance", "--data", str(data), "--cv", "3")
    assert code == 0, err
    assert "f_avg" in json.loads(out)


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "topics", "--data", "/nonexistent.csv"], "cannot read"),
        (["evaluate", "topics", "--data", "{bad}", "--label-column", "nope"], "no column"),
        (["evaluate", "topics", "--data", "{bad}", "--cv", "1"], "at least 2"),
        (["evaluate", "stance", "--data", "{bad}", "--label-column", "label", "--text-column", "text"], "FAVOR"),
    ],
)
def test_bad_input_is_one_line(cli, tmp_path, args, message):
    bad = _write(tmp_path / "bad.csv", ["text", "label"], [["some text", "maybe"]])
    code, out, err = cli(*[str(bad) if a == "{bad}" else a for a in args])
    assert code != 0
    assert message in err and len(err.strip().splitlines()) == 1


def test_tag_all_retags_the_archive(cli, db_url):
    from monitor.store import Database

    db = Database(db_url)
    ids = [add(db, t, s) for t, s in NEWS[:3]]
    code, out, err = cli("tag")
    assert code == 0, err
    assert "tagged 3" in out
    code, out, err = cli("tag", "--all")
    assert code == 0 and "tagged 3" in out
    assert "topic tags: 0 added, 0 removed" in out  # the same model again changes nothing
    assert "cybercrime" in topics_of(db, ids[0])
    db.dispose()


def test_bootstrap_refreshes_when_the_archive_doubles_until_its_sample_is_full(db, monkeypatch):
    """The bootstrap retrains as the archive doubles, measured against the archive at training
    time (not its capped sample, which made every ingest retrain past twice the cap), and stops
    once it has learned from a full sample: refreshes, and the re-tagging each brings, are few."""
    from monitor.classify import training, upkeep
    from monitor.classify.modelstore import load_active

    monkeypatch.setattr(training, "MAX_WEAK_ARTICLES", 300)
    n = upkeep.REFRESH_MIN_ARTICLES
    for i in range(n):
        title, summary = NEWS[i % len(NEWS)]
        add(db, f"{title} ({i})", summary)
    training.train(db, "topics")
    model = load_active(db, "topics")
    assert not upkeep.bootstrap_is_stale(db, model)
    for i in range(n - 1):
        add(db, f"More news {i}", "Weather and sport.")
    assert not upkeep.bootstrap_is_stale(db, model)
    add(db, "One more", "The archive has now doubled.")
    assert upkeep.bootstrap_is_stale(db, model)

    training.train(db, "topics")  # learned from 300 of 400 articles: a full sample
    model = load_active(db, "topics")
    assert model.training["articles"] == 300
    for i in range(2 * n):
        add(db, f"Even more news {i}", "Markets and weather.")
    assert not upkeep.bootstrap_is_stale(db, model)


@pytest.mark.parametrize(
    "text, kept, dropped",
    [
        ("Interpol chief praised. Short item.", "Short item.", None),  # short: read whole
        ("Weather was mild today. " * 60 + "Critics say Interpol abused Red Notices. They want reform. " + "Sport results. " * 40,
         "Critics say Interpol abused Red Notices. They want reform.", "Weather"),
        ("Полиция сообщила о погоде. " * 60 + "Интерпол отказал в розыске. Дело закрыто. " + "Спорт. " * 40,
         "Интерпол отказал в розыске. Дело закрыто.", "погоде"),
    ],
    ids=["short", "long-english", "long-russian"],
)
def test_stance_reads_the_sentences_that_name_the_target(text, kept, dropped):
    from monitor.classify.tagging import target_context
    from monitor.classify.taxonomy import compile_terms, load_taxonomy

    context = target_context(text, compile_terms(load_taxonomy().target("Interpol").aliases))
    assert kept in context
    if dropped:
        assert dropped not in context


def test_pollers_refreshing_a_stale_bootstrap_at_once_train_it_once(db):
    """Two pollers sharing a store find the bootstrap stale together; both start a refresh, one
    trains and re-tags, the other waits for it and finds nothing left to do."""
    import subprocess
    import sys

    from monitor.classify import training, upkeep

    n = upkeep.REFRESH_MIN_ARTICLES
    for i in range(n):
        title, summary = NEWS[i % len(NEWS)]
        add(db, f"{title} ({i})", summary)
    training.train(db, "topics")
    for i in range(n):
        add(db, f"More news {i}", "Weather and sport.")
    refreshes = [
        subprocess.Popen([sys.executable, "-m", "monitor.classify.upkeep", "--refresh"], stdin=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for proc in refreshes:  # both get the URL (and start) before either is waited for
        proc.stdin.write(db.url)
        proc.stdin.close()
    assert [proc.wait(timeout=300) for proc in refreshes] == [0, 0]
    with db.read() as conn:
        versions = conn.execute(select(classifier_models.c.version).where(classifier_models.c.kind == "topics")).scalars().all()
    assert len(versions) == 2  # the first bootstrap and one refresh
