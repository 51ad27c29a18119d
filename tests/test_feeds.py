"""The feed list: add/list/remove, OPML in and out (bounded, a DTD refused), default feeds."""

from __future__ import annotations

import csv
import io
import json

import pytest

from monitor import feeds
from monitor.errors import InputError


def test_add_list_remove(db):
    a = feeds.add_feed(db, "https://Example.org/rss#x", name="  Example   News ", tags=["en", "en", "world"])
    b = feeds.add_feed(db, "https://example.net/atom.xml")
    rows = feeds.list_feeds(db)
    assert [r.id for r in rows] == [a, b]
    assert rows[0].url == "https://example.org/rss" and rows[0].name == "Example News" and rows[0].tags == ("en", "world")
    assert rows[0].status == "new" and rows[0].enabled
    with pytest.raises(InputError, match="already"):
        feeds.add_feed(db, "https://example.org/rss")
    assert feeds.remove_feed(db, "https://example.org/rss") == a
    assert feeds.remove_feed(db, str(b)) == b
    assert feeds.list_feeds(db) == []
    with pytest.raises(InputError, match="no feed"):
        feeds.remove_feed(db, "42")


def test_pause_and_resume(db):
    fid = feeds.add_feed(db, "https://example.org/rss")
    feeds.set_feed_enabled(db, fid, False)
    assert feeds.list_feeds(db)[0].status == "disabled"
    feeds.set_feed_enabled(db, fid, True)
    row = feeds.list_feeds(db)[0]
    assert row.enabled and row.status == "new" and row.disabled_reason is None


OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="Police">
    <outline type="rss" text="Europol" xmlUrl="https://www.europol.europa.eu/rss.xml"/>
    <outline type="rss" text="NCA &amp; friends" xmlUrl="https://www.nationalcrimeagency.gov.uk/news?format=feed&amp;type=rss" category="/uk,en"/>
  </outline>
  <outline type="rss" text="Bad scheme" xmlUrl="file:///etc/passwd"/>
  <outline type="rss" text="Loopback" xmlUrl="http://127.0.0.1/feed"/>
  <outline type="rss" text="Dup" xmlUrl="https://www.europol.europa.eu/rss.xml"/>
  <outline text="a folder without feeds"/>
</body></opml>"""


def test_import_opml_keeps_names_and_categories_and_skips_bad_urls(db):
    added, skipped = feeds.import_opml(db, OPML)
    assert (added, skipped) == (2, 3)
    rows = {r.url: r for r in feeds.list_feeds(db)}
    nca = rows["https://www.nationalcrimeagency.gov.uk/news?format=feed&type=rss"]
    assert nca.name == "NCA & friends" and nca.tags == ("Police", "uk", "en")
    assert feeds.import_opml(db, OPML) == (0, 5)  # re-import adds nothing


def test_export_then_import_round_trips(db, tmp_path):
    feeds.add_feed(db, "https://example.org/rss", name='Quotes "&" <angles>', tags=["a", "b"])
    feeds.add_feed(db, "https://example.net/feed?x=1&y=2")
    data = feeds.export_opml(db)
    outlines = feeds.parse_opml(data)
    assert [(o.url, o.name, o.tags) for o in outlines] == [
        ("https://example.org/rss", 'Quotes "&" <angles>', ("a", "b")),
        ("https://example.net/feed?x=1&y=2", "https://example.net/feed?x=1&y=2", ()),
    ]


def test_ten_thousand_feeds_import(db, tmp_path):
    body = "".join(f'<outline type="rss" text="Feed {i}" xmlUrl="https://news{i % 97}.example.org/feed/{i}.xml"/>' for i in range(10_000))
    path = tmp_path / "big.opml"
    path.write_text(f'<?xml version="1.0"?><opml version="2.0"><head/><body>{body}</body></opml>')
    assert feeds.import_opml(db, path) == (10_000, 0)
    assert len(feeds.list_feeds(db)) == 10_000


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<opml version="2.0"><body><outline type="rss" text="&lol9;" xmlUrl="https://example.org/rss"/></body></opml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<opml version="2.0"><body><outline type="rss" text="&xxe;" xmlUrl="https://example.org/rss"/></body></opml>"""


@pytest.mark.parametrize(
    "data, message",
    [
        (BILLION_LAUGHS, "DTD"),
        (EXTERNAL_ENTITY, "DTD"),
        (b"<opml><body><outline xmlUrl='https://example.org/rss'></body>", "not a readable OPML"),
        (b"<rss version='2.0'><channel/></rss>", "not an OPML"),
        (b"", "not a readable OPML"),
    ],
)
def test_hostile_or_broken_opml_is_refused(db, data, message):
    with pytest.raises(InputError, match=message):
        feeds.import_opml(db, data)
    assert feeds.list_feeds(db) == []


def test_import_of_a_missing_file_is_a_clear_error(db, tmp_path):
    with pytest.raises(InputError, match="no such file"):
        feeds.import_opml(db, tmp_path / "nope.opml")


def test_default_feeds_are_seeded_once(db):
    n = feeds.seed_default_feeds(db)
    rows = feeds.list_feeds(db)
    assert n == len(rows) >= 25
    tags = {t for r in rows for t in r.tags}
    assert {"ru", "en", "Police and justice agencies", "Cybersecurity news"} <= tags
    assert all(r.url.startswith("https://") for r in rows)
    for r in rows[:3]:
        feeds.remove_feed(db, r.id)
    assert feeds.seed_default_feeds(db) == 0  # removed defaults do not come back
    assert len(feeds.list_feeds(db)) == n - 3


def test_default_feeds_are_not_added_to_a_store_that_has_feeds(db):
    feeds.add_feed(db, "https://example.org/rss")
    assert feeds.seed_default_feeds(db) == 0
    assert len(feeds.list_feeds(db)) == 1


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_add_list_formats_remove(cli):
    code, out, err = cli("feeds", "add", "https://example.org/rss", "--name", "Example", "--tag", "en", "--tag", "=cmd")
    assert code == 0 and "added feed 1" in out
    code, out, _ = cli("feeds", "list")
    assert code == 0 and "https://example.org/rss" in out and "Example" in out
    code, out, _ = cli("feeds", "list", "--format", "json")
    data = json.loads(out)
    assert data[0]["url"] == "https://example.org/rss" and data[0]["tags"] == ["en", "=cmd"]
    code, out, _ = cli("feeds", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["url"] == "https://example.org/rss" and rows[0]["tags"] == "en,=cmd"  # no leading '=' cell
    code, out, err = cli("feeds", "remove", "https://example.org/rss")
    assert code == 0 and "removed feed 1" in out
    code, out, err = cli("feeds", "remove", "https://example.org/rss")
    assert code != 0 and "no feed" in err and "Traceback" not in err


def test_cli_import_export(cli, tmp_path):
    src = tmp_path / "in.opml"
    src.write_bytes(OPML)
    code, out, err = cli("feeds", "import", str(src))
    assert code == 0 and "imported 2 feeds" in out
    dest = tmp_path / "out.opml"
    code, out, err = cli("feeds", "export", str(dest))
    assert code == 0 and len(feeds.parse_opml(dest.read_bytes())) == 2
    code, out, err = cli("feeds", "export")
    assert code == 0 and "<opml" in out
    bomb = tmp_path / "bomb.opml"
    bomb.write_bytes(BILLION_LAUGHS)
    code, out, err = cli("feeds", "import", str(bomb))
    assert code != 0 and "DTD" in err


@pytest.mark.parametrize("args", [("feeds", "--help"), ("feeds", "add", "--help"), ("feeds", "list", "--help"), ("feeds", "import", "--help"), ("feeds", "export", "--help"), ("feeds", "remove", "--help"), ("poll", "--help")])
def test_help_works(args, capsys):
    from monitor.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out
