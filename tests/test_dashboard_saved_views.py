"""Saved views: named filter sets analysts reopen and share."""

from __future__ import annotations

import pytest

from monitor.errors import InputError
from monitor.saved_views import delete_view, get_view, list_views, save_view


def test_save_list_replace_and_delete(db):
    vid = save_view(db, "Interpol last month", {"q": "interpol", "topic": ["cybercrime", "terrorism"], "stance": "", "from": "2026-10-01"}, owner="ana")
    view = get_view(db, vid)
    assert view.params == {"q": ["interpol"], "topic": ["cybercrime", "terrorism"], "from": ["2026-10-01"]}
    assert [v.name for v in list_views(db)] == ["Interpol last month"]
    # Same name, same owner: replaced, not duplicated; another owner may use the name too.
    assert save_view(db, "Interpol last month", {"q": "europol"}, owner="ana") == vid
    save_view(db, "Interpol last month", {"q": "interpol"}, owner="bob")
    assert [(v.owner, v.params["q"]) for v in list_views(db)] == [("ana", ["europol"]), ("bob", ["interpol"])]
    with pytest.raises(InputError, match="belongs to ana"):
        delete_view(db, vid, "bob")
    delete_view(db, vid, "ana")
    assert [v.owner for v in list_views(db)] == ["bob"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_bad_names_are_refused(db, name):
    with pytest.raises(InputError):
        save_view(db, name, {}, owner="ana")
