"""Top terms: the words of the news, not the function words of its languages or feed boilerplate."""

from __future__ import annotations

from monitor.filters import Filters
from monitor.ingest import ingest_paths
from monitor.terms import top_terms
from tests.conftest import shared_path


def _rss(lang: str, items: list[tuple[str, str]]) -> str:
    body = "".join(f"<item><title>{t}</title><description>{d}</description><link>https://example.org/{lang}/{i}</link><guid>{lang}{i}</guid><pubDate>Mon, 0{1 + i % 8} Dec 2025 10:00:00 GMT</pubDate></item>" for i, (t, d) in enumerate(items))
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {lang}</title><link>https://example.org/</link><language>{lang}</language>{body}</channel></rss>'


GERMAN = [
    ("Die Polizei und der Zoll von Bayern fassen Schmuggler", "Die Ermittler der Polizei haben von einer Bande erfahren. Weiterlesen"),
    ("Der Prozess gegen die Schmuggler beginnt", "Die Anklage und der Richter sind bereit, von Schmuggel ist die Rede."),
    ("Interpol und die Polizei warnen vor Betrug", "Die Polizei sagt, der Betrug sei von einer Bande."),
]
ENGLISH = [
    ("Why police get back at smugglers off the coast", "Police say smugglers were caught. Read more"),
    ("Smugglers back in court after police raid", "Continue reading: the police raid got results. The post Smugglers appeared first on Example News."),
    ("Police get Interpol help on smugglers", "Why it matters: police and Interpol work together. Read more"),
]
RUSSIAN = [
    ("Полиция и Интерпол задержали контрабандистов в порту", "Как сообщает полиция, это было в порту. Подробнее"),
    ("Контрабандисты в суде, и полиция говорит", "Это уже не первый раз, как полиция находит контрабанду."),
]


def test_top_terms_skip_function_words_and_boilerplate_in_every_language(db, tmp_path):
    for lang, items in (("de", GERMAN), ("en", ENGLISH), ("ru", RUSSIAN)):
        (tmp_path / f"{lang}.xml").write_text(_rss(lang, items), encoding="utf-8")
    ingest_paths(db, sorted(tmp_path.glob("*.xml")))
    terms = [t.term for t in top_terms(db, Filters(), limit=25).terms]
    function_words = {"die", "der", "und", "von", "why", "get", "back", "off", "the", "как", "это", "уже", "и", "в"}
    assert not function_words & set(terms), terms
    assert not {"read", "more", "continue", "reading", "weiterlesen", "подробнее", "appeared", "first"} & set(terms), terms
    assert {"polizei", "police", "smugglers", "interpol", "полиция"} <= set(terms), terms


def test_top_terms_of_real_feeds_are_not_function_words(db):
    folder = shared_path("feeds", "real")
    names = ["heise-developer__heise.atom.xml", "spiegel__Rss20Spiegel.xml", "bbc-news-frontpage__bbc.xml", "abcnews-international__abcnews.xml"]
    ingest_paths(db, [folder / n for n in names if (folder / n).exists()])
    terms = {t.term for t in top_terms(db, Filters(), limit=40).terms}
    assert terms
    assert not {"die", "der", "und", "von", "mit", "für", "back", "get", "off", "why", "the", "and"} & terms, sorted(terms)
