"""Models in the `classifier_models` table, as numpy archives (never pickle).

A blob is an .npz archive: each array of the model is a member, and everything else (labels,
settings, analyzer specs) is one JSON member. It is read with `allow_pickle=False`, so a row an
outsider wrote can fail to load but cannot run code; and numpy alone reads it, so a poller
loads models without scikit-learn. Every poller and dashboard reads the same active row,
cached by version.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import func, select, update

from monitor.errors import ModelError
from monitor.store import utcnow
from monitor.store.schema import classifier_models as cm

FORMAT = 2  # bumped when the blob layout changes; older blobs are "incompatible", not misread
_SKELETON = "__model__"  # the archive member holding the JSON part
_ZIP = b"PK\x03\x04"
M = TypeVar("M")


@dataclass
class StoredModel:
    kind: str
    version: str
    payload: dict[str, Any]
    metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    size: int = 0


def dumps(payload: dict[str, Any]) -> bytes:
    arrays: dict[str, np.ndarray] = {}

    def split(value):
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise TypeError("model arrays must hold numbers or bytes, not objects")
            key = f"a{len(arrays)}"
            arrays[key] = value
            return {"__array__": key}
        if isinstance(value, dict):
            return {str(k): split(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [split(v) for v in value]
        if isinstance(value, np.generic):
            return value.item()
        return value

    skeleton = json.dumps({"format": FORMAT, **split(payload)}, ensure_ascii=False)
    members = {_SKELETON: np.frombuffer(skeleton.encode("utf-8"), dtype=np.uint8), **arrays}
    buf = io.BytesIO()
    # what np.savez_compressed writes, at the fastest deflate level: a model's coefficients
    # compress by a third whatever the level, and level 6 took a bootstrap 0.6 s, level 1 0.25 s
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in members.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()


# A blob that cannot be read is corrupt (a damaged row, a truncated write) or tampered with:
# retraining replaces it. Only a well-formed model archive written with another FORMAT is
# "from an incompatible version".
CORRUPT = "model is unreadable, corrupt or tampered with ({}); retrain it with `train`"


def loads(blob: bytes) -> dict[str, Any]:
    """Decode a blob without running anything in it; raises ModelError with a short reason."""
    if not blob.startswith(_ZIP):
        raise ModelError(CORRUPT.format("not a model archive"))
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            if _SKELETON not in archive.files:
                raise ModelError(CORRUPT.format("no model description in the archive"))
            skeleton = json.loads(bytes(archive[_SKELETON]).decode("utf-8"))
            arrays = {k: archive[k] for k in archive.files if k != _SKELETON}
    except ModelError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):  # an object array: the one way an .npz could carry code
            raise ModelError("model contains pickled objects; refused") from None
        raise ModelError(CORRUPT.format(f"ValueError: {str(e)[:80]}")) from None
    except Exception as e:  # noqa: BLE001 - a damaged zip, a truncated row
        raise ModelError(CORRUPT.format(type(e).__name__)) from None

    def join(value):
        if isinstance(value, dict):
            if set(value) == {"__array__"}:
                return arrays[value["__array__"]]
            return {k: join(v) for k, v in value.items()}
        if isinstance(value, list):
            return [join(v) for v in value]
        return value

    if not isinstance(skeleton, dict) or not isinstance(skeleton.get("format"), int):
        raise ModelError(CORRUPT.format("no format number"))
    if skeleton["format"] != FORMAT:
        raise ModelError(f"model is from an incompatible version (format {skeleton['format']}, this one reads {FORMAT}); retrain it with `train`")
    try:
        return join(skeleton)
    except (KeyError, TypeError):
        raise ModelError(CORRUPT.format("an array is missing")) from None


def decode(stored: StoredModel, build: Callable[[dict[str, Any]], M], probe: Callable[[M], object]) -> M:
    """The model object of a stored row, checked by scoring one probe text: arrays that decode
    but do not fit together (a tampered vocabulary, coefficients of the wrong shape) are
    reported as a corrupt model here, not as a numpy error in the middle of tagging."""
    try:
        model = build(stored.payload)
        probe(model)
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a damaged payload makes the decoder do
        raise ModelError(CORRUPT.format(f"{stored.kind} {stored.version}: {type(e).__name__}")) from None
    return model


def save_model(db, kind: str, version: str, payload: dict[str, Any], metrics: dict, training: dict, activate: bool = True) -> StoredModel:
    """Store a model (and make it the active one); returns it as `load_active` would."""
    kind = str(kind)  # a ModelKind is stored as its plain string
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
    stored = StoredModel(kind, version, payload, _jsonable(metrics), _jsonable(training), len(blob))
    with _lock:
        if activate:  # what this process just wrote: no need to read and unpack it again
            _cache[(db.url, kind)] = stored
        else:
            _cache.pop((db.url, kind), None)
    return stored


_cache: dict[tuple[str, str], StoredModel] = {}
_lock = threading.Lock()


def active_version(db, kind: str) -> str | None:
    row = _active_row(db, kind)
    return None if row is None else row[0]


def _active_row(db, kind: str) -> tuple[str, int] | None:
    """(version, blob size) of the active model: the size notices a row damaged in place."""
    kind = str(kind)
    with db.read() as conn:
        row = conn.execute(
            select(cm.c.version, func.length(cm.c.blob)).where(cm.c.kind == kind, cm.c.active.is_(True)).order_by(cm.c.id.desc()).limit(1)
        ).first()
    return None if row is None else (row[0], int(row[1] or 0))


def load_active(db, kind: str) -> StoredModel | None:
    """The active model of a kind, or None when there is none; ModelError when it cannot be used."""
    kind = str(kind)
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
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
