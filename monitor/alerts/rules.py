"""Alert rules: add, edit, remove, list. Everything an analyst types is validated here, once, so
the matcher, the CLI and the dashboard can trust what is stored.

Delivery URLs are stored as typed (they must be, to send) and leave this module only in Apprise's
privacy form (`Alert.targets`), so no page, command or log line shows a token or password.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update

from monitor.alerts.targets import display_form, parse_targets
from monitor.errors import InputError
from monitor.filters import PARAMS, STANCES, Filters
from monitor.query import parse_query
from monitor.store import utcnow
from monitor.store.schema import alert_matches, alerts, deliveries

CADENCES = ("immediate", "hourly", "daily")
KINDS = ("keyword", "spike")
MAX_NAME_CHARS = 200
# Filter dimensions an alert takes by their Filters field, beyond its query and its one topic,
# source and stance (dates make no sense for what is still to come)
MORE_FILTERS = tuple(f.name for f in fields(Filters) if f.name not in ("date_from", "date_to", "query", "topics", "sources", "stance", "target"))


@dataclass(frozen=True)
class Alert:
    """An alert, saved (id > 0) or a validated draft from a form (id 0): what every part of the
    alerts flow passes around. `notify` holds the delivery URLs as typed, secrets included, for
    the outbox only; it is left out of repr, and everything shown uses `targets` (privacy form)."""

    id: int
    name: str
    kind: str  # keyword|spike
    filters: Filters  # the query and the filters, as the Articles page applies them
    notify: tuple[str, ...] = field(default=(), repr=False)
    cadence: str = "immediate"
    sensitivity: float | None = None
    owner: str | None = None
    enabled: bool = True
    created_at: datetime | None = None  # None: a draft, not saved yet
    updated_at: datetime | None = None
    allow_private_networks: bool = False  # its targets may be on private addresses
    # filled by list_alerts for the Alerts page
    matches: int = 0
    new: int = 0
    queued: int = 0  # messages waiting in the outbox
    failing: int = 0  # of those, how many have failed at least once
    sent: int = 0
    last_error: str | None = None
    # Apprise's privacy form of `notify`: what pages, commands, logs and repr show
    targets: tuple[str, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(display_form(url) for url in self.notify))

    @property
    def query(self) -> str:
        return self.filters.query

    @property
    def topic(self) -> str | None:
        return self.filters.topics[0] if self.filters.topics else None

    @property
    def source(self) -> str | None:
        return self.filters.sources[0] if self.filters.sources else None

    @property
    def stance(self) -> str | None:
        return self.filters.stance

    @property
    def target(self) -> str | None:
        """The stance target (e.g. Interpol); None: any."""
        return self.filters.target

    def describe(self) -> str:
        parts = [f'"{self.query}"' if self.query else "(any words)"]
        if self.topic:
            parts.append(f"topic={self.topic}")
        if self.stance or self.target:
            parts.append(f"stance={self.target + ':' if self.target else ''}{self.stance or 'any'}")
        if self.source:
            parts.append(f"source={self.source}")
        for p in PARAMS:
            value = getattr(self.filters, p.field) if p.field in MORE_FILTERS else None
            if value:
                parts.append(f"{p.key}={','.join(value) if p.many else value}")
        return " ".join(parts)


def _clean(value) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def validate(
    db,
    name: str,
    query: str = "",
    *,
    topic: str | None = None,
    stance: str | None = None,
    target: str | None = None,
    source: str | None = None,
    notify=(),
    cadence: str = "immediate",
    owner: str | None = None,
    kind: str = "keyword",
    sensitivity: float | None = None,
    enabled: bool = True,
    allow_private: bool | None = None,
    **more_filters,
) -> Alert:
    """Check everything and return the alert as a draft (id 0, not saved); raises InputError
    (QueryError for queries) with a one-line message naming the field. `more_filters` are any
    other filter dimensions by their `Filters` field (e.g. languages=("ru",))."""
    from monitor.config import settings

    name = (name or "").strip()
    if not name:
        raise InputError("an alert needs a name")
    if len(name) > MAX_NAME_CHARS:
        raise InputError(f"an alert name is at most {MAX_NAME_CHARS} characters")
    kind = (kind or "keyword").strip().lower()
    if kind not in KINDS:
        raise InputError(f"alert kind must be one of {', '.join(KINDS)}, not {kind!r}")
    query = (query or "").strip()
    parse_query(query)  # QueryError: a one-line message, raised before anything is stored
    topic, source, target, owner = _clean(topic), _clean(source), _clean(target), _clean(owner)
    stance = _clean(stance)
    if stance is not None:
        stance = stance.upper()
        if stance not in STANCES:
            raise InputError(f"stance must be one of {', '.join(STANCES)}, not {stance!r}")
    cadence = (cadence or "immediate").strip().lower()
    if cadence not in CADENCES:
        raise InputError(f"--every must be one of {', '.join(CADENCES)}, not {cadence!r}")
    if kind == "keyword" and not (query or topic or stance or target or source or any(more_filters.values())):
        raise InputError("an alert needs a query or at least one filter (topic, stance, source)")
    if kind == "spike":
        if not (query or topic):
            raise InputError("a spike alert watches a topic or a query: give --topic or --query")
        if sensitivity is None:
            sensitivity = settings().spike_sensitivity
    if sensitivity is not None:
        try:
            sensitivity = float(sensitivity)
        except (TypeError, ValueError):
            raise InputError(f"sensitivity must be a number, not {sensitivity!r}") from None
        if not 0 < sensitivity <= 20:
            raise InputError("sensitivity is the number of standard deviations above the baseline: 0 < k ≤ 20")
    from monitor.names import check_names

    # a misspelt topic or source would make an alert that silently never fires
    check_names(db, topics=[topic] if topic else (), sources=[source] if source else (), prefix="")
    if isinstance(notify, str):
        notify = [notify]
    allow = settings().allow_private_networks if allow_private is None else allow_private
    targets = tuple(parse_targets(notify, allow_private=allow))
    unknown = set(more_filters) - set(MORE_FILTERS)
    if unknown:
        raise InputError(f"an alert has no filter {', '.join(sorted(unknown))}")
    more: dict[str, Any] = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in more_filters.items()}
    filters = Filters(
        query=query, topics=(topic,) if topic else (), sources=(source,) if source else (), stance=stance, target=target, **more
    )
    return Alert(
        id=0,
        name=name,
        kind=kind,
        filters=filters,
        notify=tuple(t.url for t in targets),
        cadence=cadence,
        sensitivity=sensitivity,
        owner=owner,
        enabled=bool(enabled),
        allow_private_networks=bool(allow_private),  # recorded, so every later delivery honours it
    )


def _row_values(alert: Alert) -> dict:
    stored = {k: v for k, v in alert.filters.to_params().items() if k != "q"}  # the query has its column
    return {
        "name": alert.name,
        "kind": alert.kind,
        "query": alert.query,
        "filters": stored,
        "notify": list(alert.notify),
        "cadence": alert.cadence,
        "sensitivity": alert.sensitivity,
        "owner": alert.owner,
        "enabled": alert.enabled,
        "allow_private_networks": alert.allow_private_networks,
    }


def add_alert(db, name: str, query: str = "", **options) -> int:
    """Create an alert; returns its id. Options: topic, stance, target, source, notify (Apprise
    URLs), cadence (immediate|hourly|daily), owner, kind (keyword|spike), sensitivity, enabled,
    allow_private (default: the MONITOR_ALLOW_PRIVATE_NETWORKS setting)."""
    spec = validate(db, name, query, **options)
    now = utcnow()
    with db.write() as conn:
        if conn.execute(select(alerts.c.id).where(alerts.c.name == spec.name)).first():
            raise InputError(f"an alert named {spec.name!r} already exists")
        return conn.execute(insert(alerts).values(**_row_values(spec), created_at=now, updated_at=now).returning(alerts.c.id)).scalar_one()


def _find(conn, alert: int | str):
    if isinstance(alert, int) or (isinstance(alert, str) and alert.strip().isdigit()):
        row = conn.execute(select(alerts).where(alerts.c.id == int(alert))).mappings().first()
        if row is not None or isinstance(alert, int):
            if row is None:
                raise InputError(f"no alert #{alert}")
            return row
    row = conn.execute(select(alerts).where(alerts.c.name == str(alert).strip())).mappings().first()
    if row is None:
        raise InputError(f"no alert named {alert!r} (see `alerts list`)")
    return row


def update_alert(db, alert: int | str, **changes) -> None:
    """Change some fields of an alert. `notify` entries may be the privacy form shown by
    `list_alerts` (unchanged targets, whose secrets the caller never saw) or new URLs."""
    allow_private = changes.pop("allow_private", None)
    unknown = set(changes) - {"name", "query", "topic", "stance", "target", "source", "notify", "cadence", "owner", "kind", "sensitivity", "enabled", *MORE_FILTERS}
    if unknown:
        raise InputError(f"cannot change {', '.join(sorted(unknown))} of an alert")
    with db.read() as conn:
        stored = find_alert(conn, alert)
    current = {k: getattr(stored, k) for k in ("name", "query", "topic", "stance", "target", "source", "cadence", "owner", "kind", "sensitivity", "enabled")}
    current.update({k: getattr(stored.filters, k) for k in MORE_FILTERS})
    notify = list(stored.notify)
    if "notify" in changes:
        # Masked forms can repeat (two webhooks on one host both show json://host/****): each
        # masked entry takes the next unused stored URL that shows that way, in order.
        by_display: dict[str, list[str]] = {}
        for url in notify:
            by_display.setdefault(display_form(url), []).append(url)
        new = changes.pop("notify") or []
        notify = []
        for entry in [new] if isinstance(new, str) else new:
            known = by_display.get(entry.strip()) if isinstance(entry, str) else None
            notify.append(known.pop(0) if known else entry)
    current.update(changes)
    if allow_private is None:  # not said: the choice recorded with the alert stands
        allow_private = stored.allow_private_networks
    spec = validate(db, current.pop("name"), current.pop("query"), notify=notify, allow_private=allow_private, **current)
    with db.write() as conn:
        clash = conn.execute(select(alerts.c.id).where(alerts.c.name == spec.name, alerts.c.id != stored.id)).first()
        if clash:
            raise InputError(f"an alert named {spec.name!r} already exists")
        conn.execute(update(alerts).where(alerts.c.id == stored.id).values(**_row_values(spec), updated_at=utcnow()))


def remove_alert(db, alert: int | str) -> str:
    """Delete an alert with its inbox and its unsent messages; returns its name."""
    with db.write() as conn:
        row = _find(conn, alert)
        # explicit deletes: SQLite enforces ON DELETE CASCADE only with foreign keys on, and
        # being explicit keeps the outbox from ever sending for an alert that is gone
        conn.execute(delete(deliveries).where(deliveries.c.alert_id == row["id"]))
        conn.execute(delete(alert_matches).where(alert_matches.c.alert_id == row["id"]))
        conn.execute(delete(alerts).where(alerts.c.id == row["id"]))
        return row["name"]


def _stored_filters(row) -> Filters:
    """The filters as stored, without validating them again: an alert saved under older rules
    still loads (the matcher then skips what no longer parses)."""
    stored = row["filters"] if isinstance(row["filters"], dict) else {}
    return Filters.from_params({**stored, "q": row["query"] or ""}, checked=False)


def _to_alert(row, **counts) -> Alert:
    return Alert(
        id=row["id"],
        name=row["name"],
        kind=row["kind"],
        filters=_stored_filters(row),
        notify=tuple(row["notify"] or ()),
        cadence=row["cadence"],
        sensitivity=row["sensitivity"],
        owner=row["owner"],
        enabled=bool(row["enabled"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        allow_private_networks=bool(row["allow_private_networks"]),
        **counts,
    )


def get_alert(db, alert: int | str) -> Alert:
    with db.read() as conn:
        return _to_alert(_find(conn, alert))


def list_alerts(db, *, owner: str | None = None) -> list[Alert]:
    """Every alert with its inbox and outbox counts (the Alerts page's table)."""
    with db.read() as conn:
        query = select(alerts).order_by(alerts.c.name)
        if owner is not None:
            query = query.where(alerts.c.owner == owner)
        rows = conn.execute(query).mappings().all()
        match_counts = {
            r.alert_id: (r.total, r.new or 0)
            for r in conn.execute(
                select(
                    alert_matches.c.alert_id,
                    func.count().label("total"),
                    func.sum(case((alert_matches.c.state == "new", 1), else_=0)).label("new"),
                ).group_by(alert_matches.c.alert_id)
            )
        }
        outbox: dict[int, dict] = {}
        for r in conn.execute(
            select(deliveries.c.alert_id, deliveries.c.status, func.count().label("n"))
            .group_by(deliveries.c.alert_id, deliveries.c.status)
        ):
            outbox.setdefault(r.alert_id, {})[r.status] = r.n
        failing = {
            r.alert_id: r.n
            for r in conn.execute(
                select(deliveries.c.alert_id, func.count().label("n"))
                .where(deliveries.c.status.in_(("queued", "sending", "unconfirmed")), deliveries.c.attempts > 0)
                .group_by(deliveries.c.alert_id)
            )
        }
        last_errors = {
            r.alert_id: r.last_error
            for r in conn.execute(
                select(deliveries.c.alert_id, func.max(deliveries.c.last_error).label("last_error"))
                .where(deliveries.c.status != "sent", deliveries.c.last_error.is_not(None))
                .group_by(deliveries.c.alert_id)
            )
        }
    result = []
    for row in rows:
        total, new = match_counts.get(row["id"], (0, 0))
        box = outbox.get(row["id"], {})
        result.append(
            _to_alert(
                row,
                matches=total,
                new=int(new),
                queued=box.get("queued", 0) + box.get("sending", 0),
                failing=failing.get(row["id"], 0),
                sent=box.get("sent", 0),
                last_error=last_errors.get(row["id"]),
            )
        )
    return result


def find_alert(conn, alert: int | str) -> Alert:
    """One alert by id or name, in a transaction the caller holds."""
    return _to_alert(_find(conn, alert))


def load_enabled(conn, *kinds: str) -> list[Alert]:
    """Enabled alerts of these kinds (all kinds if none given), by id."""
    query = select(alerts).where(alerts.c.enabled.is_(True)).order_by(alerts.c.id)
    if kinds:
        query = query.where(alerts.c.kind.in_(kinds))
    return [_to_alert(r) for r in conn.execute(query).mappings()]
