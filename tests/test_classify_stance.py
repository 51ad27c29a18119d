"""Stance models as SemEval-2016 Task 6 scores them: parameters are chosen on the training rows
only, hashtags are read as the words they spell, and a stored model reads text as the trained one."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.classify.analyzers import split_hashtags
from monitor.classify.stance import StanceModel, fit_stance_model
from monitor.store.schema import classifier_models, labels

FAVOR = ["Thank you for catching the fugitive", "Great work on the arrest", "Proud of the officers who found him",
         "Brilliant cooperation across borders", "They keep us safe", "Well done on the red notice"]
AGAINST = ["They hunt dissidents for dictators", "Abuse of red notices again", "Scrap it, it serves tyrants",
           "Another journalist jailed on their notice", "Corrupt and unaccountable", "They ignore the abuse"]
NONE = ["The meeting is in Lyon on Tuesday", "The report is due next week", "Weather was mild at the summit",
        "The agency has 195 member countries", "A spokesperson declined to comment", "The conference opens on Monday"]
TAGS = {"FAVOR": "#ThankYouInterpol", "AGAINST": "#ReformInterpol", "NONE": "#news"}


def rows_for(target: str, n_each: int, salt: str) -> list[list[str]]:
    """Labelled tweets: (Target, Tweet, Stance), enough per stance for an inner cross-validation."""
    out = []
    for stance, texts in (("FAVOR", FAVOR), ("AGAINST", AGAINST), ("NONE", NONE)):
        for i in range(n_each):
            out.append([target, f"{texts[i % len(texts)]} {salt}{i} {TAGS[stance]} #SemST", stance])
    return out


def write_tsv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(["Target", "Tweet", "Stance"])
        w.writerows(rows)
    return path


@pytest.mark.parametrize(
    "text, spelled",
    [
        ("#StopHillary2016 now", "#StopHillary2016 Stop Hillary 2016 now"),
        ("#prolife and #SemST", "#prolife and #SemST Sem ST"),  # one lower-case word stays as it is
        ("no tags here", "no tags here"),
        ("#HTML5 #GoGreen!", "#HTML5 HTML 5 #GoGreen Go Green!"),
    ],
)
def test_hashtags_are_spelled_out_as_words(text, spelled):
    assert split_hashtags(text) == spelled


def test_evaluation_file_is_never_read_by_training(cli, db, tmp_path):
    """`train` chooses C and class balancing by cross-validation on its own rows; `evaluate`
    scores the active model and neither retrains it nor stores the evaluation file's labels."""
    train = write_tsv(tmp_path / "train.tsv", rows_for("Interpol", 24, "t"))
    test = write_tsv(tmp_path / "test.tsv", rows_for("Interpol", 6, "x"))
    code, out, err = cli("train", "stance", "--data", str(train))
    assert code == 0, err
    trained = json.loads(out)
    params = trained["training"]["params"]["interpol"]
    assert params["chosen_by"] == "5-fold CV on training rows"
    assert 0.0 <= params["cv_f_avg"] <= 1.0
    with db.read() as conn:
        stored_labels = conn.execute(select(func.count()).select_from(labels)).scalar()
        models = conn.execute(select(func.count()).select_from(classifier_models)).scalar()
    assert stored_labels == 72

    code, out, err = cli("evaluate", "stance", "--data", str(test))
    assert code == 0, err
    result = json.loads(out)
    assert result["model_version"] == trained["version"]
    assert result["modes"] == {"Interpol": "per_target"}
    assert result["f_avg"] > 0.9  # the stances are plain in these rows
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(labels)).scalar() == stored_labels
        assert conn.execute(select(func.count()).select_from(classifier_models)).scalar() == models


def test_stored_stance_model_reads_hashtags_as_the_trained_one():
    """The hashtag spelling travels inside the model: a reloaded model (what a poller tags
    with) gives the same stances and scores, and learnt the words a hashtag spells."""
    rows = [(tweet, target, stance) for target, tweet, stance in rows_for("Interpol", 24, "t")]
    model = fit_stance_model(rows, {"Interpol": ("Interpol",)})
    again = StanceModel.from_payload(model.to_payload())
    texts = ["We should reform interpol today", "Thank you interpol for the arrest", "The summit is on Monday #ReformInterpol"]
    assert again.predict(texts, ["Interpol"] * 3) == model.predict(texts, ["Interpol"] * 3)
    sub = again.per_target["interpol"]
    names = set(sub.features.feature_names())
    assert {"reform interpol", "thank you interpol"} <= names  # spelled from #ReformInterpol, #ThankYouInterpol
    labels_, _ = again.predict(["reform interpol"], ["Interpol"])
    assert labels_ == ["AGAINST"]
