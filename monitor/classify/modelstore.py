"""Models in the `classifier_models` table, serialised with skops (never pickle).

Loading refuses any type outside an explicit allowlist, so a row an outsider wrote cannot run
code. Every poller and dashboard reads the same active row, cached by version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update

from monitor.errors import ModelError
from monitor.store import utcnow
from monitor.store.schema import classifier_models as cm

# Model blobs hold only dicts/lists of these plus numpy arrays and builtins, which skops trusts
# by default. Anything else in a blob is refused, not loaded.
# (Vectorizers are stored as their vocabulary and idf arrays, so the list is empty today.)
TRUSTED_TYPES: tuple[str, ...] = ()
FORMAT = 1  # bumped when the blob layout changes; older blobs are "incompatible", not misread


@dataclass
class StoredModel:
    kind: str
    version: str
    payload: dict[str, Any]
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    size: int = 0


def dumps(payload: dict[str, Any]) -> bytes:
    import skops.io as sio

    return sio.dumps({"format": FORMAT, **payload})


def loads(blob: bytes) -> dict[str, Any]:
    """Decode a blob, refusing unknown types; raises ModelError with a short reason."""
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=blob)
    except Exception as e:  # a damaged zip, a truncated row, random bytes
        raise ModelError(f"model is corrupt ({type(e).__name__})") from None
    unexpected = [t for t in untrusted if t not in TRUSTED_TYPES]
    if unexpected:
        raise ModelError(f"model contains untrusted types: {', '.join(unexpected[:3])}")
    try:
        payload = sio.loads(blob, trusted=list(untrusted))
    except Exception as e:
        raise ModelError(f"model is corrupt ({type(e).__name__}: {str(e)[:80]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError("model is from an incompatible version; retrain it")
    return payload


def save_model(db, kind: str, version: str, payload: dict[str, Any], metrics: dict, training: dict, activate: bool = True) -> None:
    blob = dumps(payload)
    with db.write() as conn:
        if activate:
            conn.execute(update(cm).where(cm.c.kind == kind, cm.c.active.is_(True)).values(active=False))
        conn.execute(
            cm.insert().values(
                kind=kind, version=version, created_at=utcnow(), active=activate, blob=blob,
                metrics=_jsonable(metrics), training=_jsonable(training),
            )
        )
    _cache.pop((db.url, kind), None)


_cache: dict[tuple[str, str], StoredModel] = {}
_lock = threading.Lock()


def active_version(db, kind: str) -> str | None:
    row = _active_row(db, kind)
    return None if row is None else row[0]


def _active_row(db, kind: str) -> tuple[str, int] | None:
    """(version, blob size) of the active model: the size notices a row damaged in place."""
    with db.read() as conn:
        row = conn.execute(
            select(cm.c.version, func.length(cm.c.blob)).where(cm.c.kind == kind, cm.c.active.is_(True)).order_by(cm.c.id.desc()).limit(1)
        ).first()
    return None if row is None else (row[0], int(row[1] or 0))


def load_active(db, kind: str) -> StoredModel | None:
    """The active model of a kind, or None when there is none; ModelError when it cannot be used."""
    active = _active_row(db, kind)
    if active is None:
        return None
    version, size = active
    key = (db.url, kind)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit.version == version and hit.size == size:
            return hit
    with db.read() as conn:
        row = conn.execute(select(cm.c.blob, cm.c.metrics, cm.c.training).where(cm.c.version == version)).one_or_none()
    if row is None:
        return None
    payload = loads(bytes(row.blob))
    if payload.get("kind") != kind:
        raise ModelError(f"model {version} is not a {kind} model")
    model = StoredModel(kind, version, payload, row.metrics or {}, row.training or {}, size)
    with _lock:
        _cache[key] = model
    return model


def list_models(db, kind: str | None = None) -> list[dict]:
    q = select(cm.c.kind, cm.c.version, cm.c.created_at, cm.c.active, cm.c.metrics, cm.c.training).order_by(cm.c.id.desc())
    if kind:
        q = q.where(cm.c.kind == kind)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _jsonable(value):
    """Numpy scalars and tuples out, so the JSON column takes it on both databases."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
