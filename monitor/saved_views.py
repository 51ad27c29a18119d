"""Saved views: a named set of dashboard filters and query an analyst can reopen and share.

The params are the same strings the dashboard keeps in its URL, so a saved view and a shared link
are one thing. Names are unique per owner; saving under an existing name replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from monitor.errors import InputError
from monitor.store import Database, utcnow
from monitor.store.schema import saved_views

MAX_NAME = 200


@dataclass(frozen=True)
class SavedView:
    id: int
    name: str
    owner: str
    params: dict[str, list[str]]
    created_at: datetime


def _clean_params(params: dict) -> dict[str, list[str]]:
    """Only non-empty string values, as lists (a URL can repeat a key)."""
    out: dict[str, list[str]] = {}
    for key, value in params.items():
        values = [value] if isinstance(value, str) else list(value or [])
        values = [str(v) for v in values if v is not None and str(v) != ""]
        if values:
            out[str(key)] = values
    return out


def save_view(db: Database, name: str, params: dict, owner: str) -> int:
    """Store (or replace) the view `name` of `owner`; returns its id."""
    name = (name or "").strip()
    if not name:
        raise InputError("give the view a name")
    if len(name) > MAX_NAME:
        raise InputError(f"a view name is at most {MAX_NAME} characters")
    if not owner:
        raise InputError("a saved view needs an owner")
    clean = _clean_params(params)
    with db.write() as conn:
        existing = conn.execute(
            select(saved_views.c.id).where(saved_views.c.owner == owner, saved_views.c.name == name)
        ).scalar()
        if existing is not None:
            conn.execute(update(saved_views).where(saved_views.c.id == existing).values(params=clean, created_at=utcnow()))
            return int(existing)
        result = conn.execute(insert(saved_views).values(name=name, owner=owner, params=clean, created_at=utcnow()))
        assert result.inserted_primary_key is not None  # None only for a multi-row insert
        return int(result.inserted_primary_key[0])


def list_views(db: Database) -> list[SavedView]:
    """Every analyst's views (views are for sharing), newest first within each name order."""
    with db.read() as conn:
        rows = conn.execute(
            select(saved_views).order_by(saved_views.c.name, saved_views.c.owner)
        ).mappings().all()
    return [SavedView(r["id"], r["name"], r["owner"] or "", dict(r["params"] or {}), r["created_at"]) for r in rows]


def get_view(db: Database, view_id: int) -> SavedView:
    with db.read() as conn:
        r = conn.execute(select(saved_views).where(saved_views.c.id == view_id)).mappings().first()
    if r is None:
        raise InputError(f"no saved view with id {view_id}")
    return SavedView(r["id"], r["name"], r["owner"] or "", dict(r["params"] or {}), r["created_at"])


def delete_view(db: Database, view_id: int, owner: str) -> None:
    """Delete one of your own views; others' views are theirs to delete."""
    view = get_view(db, view_id)
    if view.owner != owner:
        raise InputError(f"the view {view.name!r} belongs to {view.owner}; only they can delete it")
    with db.write() as conn:
        conn.execute(delete(saved_views).where(saved_views.c.id == view_id))
