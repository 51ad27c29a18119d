"""The topics' descriptions in the feeds' languages: what each topic is about (taught as the
topic) and what it is not (shown to analysts, never taught as the topic)."""

from __future__ import annotations

import tomllib

import pytest

from monitor.classify import add_topic, load_taxonomy, taxonomy as taxonomy_module
from monitor.classify.taxonomy import TermMatcher
from monitor.classify.training import WEIGHT_EXAMPLE, _Rows, _shipped_rows
from monitor.errors import ConfigError

# the languages of the feeds analysts read (the dev and held-out pools), at the least
LANGUAGES = ("en", "ru", "de", "fr", "es", "pt", "it", "uk", "zh")
SHIPPED = load_taxonomy()


@pytest.mark.parametrize("topic", SHIPPED.topics, ids=lambda t: t.name)
def test_every_topic_says_what_it_is_about_in_every_language_of_the_feeds(topic):
    about = {d.language: d for d in topic.descriptions}
    missing = [lang for lang in LANGUAGES if not about.get(lang) or not about[lang].about.strip()]
    assert not missing, f"{topic.name}: no description in {missing}"
    english = about["en"]
    if english.not_about:  # where the guide names look-alikes, every language names them too
        assert [d.language for d in topic.descriptions if not d.not_about] == []
    # analysts are shown the English one, whole
    assert topic.description == " ".join(filter(None, (english.about, english.not_about)))
    assert [d.language for d in topic.descriptions][0] == "en"


def test_the_guides_exclusions_are_shown_to_analysts():
    shown = SHIPPED.topic("cybercrime").description
    assert "Not patches" in shown and "intrusions" in shown
    assert "a takedown not described as international" in SHIPPED.topic("interpol").description


def test_training_learns_each_language_about_the_topic_and_never_what_it_is_not(db):
    add_topic(db, "wildlife_crime", "Poaching and the illegal trade in protected species.", ["poaching"])
    taxonomy = load_taxonomy(db)
    rows = _Rows(taxonomy.topic_names)
    _shipped_rows(rows, taxonomy, TermMatcher.for_topics(taxonomy.topics))
    positives = {
        (text, name) for text, y, w in zip(rows.texts, rows.Y, rows.W) for name in taxonomy.topic_names
        if y[rows.col[name]] == 1 and w[rows.col[name]] == WEIGHT_EXAMPLE
    }
    for topic in SHIPPED.topics:
        for d in topic.descriptions:
            assert (d.about, topic.name) in positives, (topic.name, d.language)
            if d.not_about:
                assert d.not_about not in rows.texts, (topic.name, d.language)
    # an analyst's topic has one description, and it is learned as before
    assert ("Poaching and the illegal trade in protected species.", "wildlife_crime") in positives
    assert load_taxonomy(db).topic("wildlife_crime").descriptions == ()


def test_a_not_without_its_about_is_a_clear_error(tmp_path, monkeypatch):
    broken = tmp_path / "taxonomy.toml"
    broken.write_text('[[topics]]\nname = "x"\nabout_en = "X."\nnot_de = "Nicht Y."\nterms_en = ["x"]\n', encoding="utf-8")
    tomllib.loads(broken.read_text(encoding="utf-8"))  # valid TOML: the loader finds the mistake
    monkeypatch.setattr(taxonomy_module, "TAXONOMY_FILE", broken)
    taxonomy_module._file_taxonomy.cache_clear()
    try:
        with pytest.raises(ConfigError, match="not_de without about_de"):
            taxonomy_module.load_taxonomy()
    finally:
        monkeypatch.undo()
        taxonomy_module._file_taxonomy.cache_clear()
