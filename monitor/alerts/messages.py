"""The text of an alert's message: a title and one line per match (an article or a spike day)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from monitor.alerts.rules import Alert
from monitor.normalize import safe_link
from monitor.store.schema import alert_matches, articles

PERIODS = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}
MAX_LISTED = 25  # articles listed in one message; the rest are counted and in the inbox


def _line(text: str | None, limit: int = 200) -> str:
    text = " ".join((text or "").split())  # one line: no injected headers or fake list items
    return text if len(text) <= limit else text[: limit - 1] + "…"


def compose(alert: Alert, items: list[dict], *, kind: str, total: int | None = None) -> tuple[str, str]:
    """(title, body) of a message. `items` are (the first MAX_LISTED of `total`) inbox rows joined
    with their article (or a spike's day and detail). kind: now|check|hourly|daily."""
    name = _line(alert.name, 80)
    n = len(items) if total is None else total
    spikes = [i for i in items if i.get("article_id") is None]
    if n == 1 and spikes:
        title = f"Alert {name}: spike on {spikes[0]['day']:%Y-%m-%d}"
    elif spikes and len(spikes) == len(items) and kind not in PERIODS:
        title = f"Alert {name}: {n} spike days"
    elif n == 1 and kind == "now":
        title = f"Alert {name}: {_line(items[0].get('title'), 120)}"
    elif kind in PERIODS:
        title = f"Alert {name}: {kind} digest, {n} new match{'es' if n != 1 else ''}"
    elif kind == "check":
        title = f"Alert {name}: {n} article{'s' if n != 1 else ''} in the archive match"
    else:
        title = f"Alert {name}: {n} new articles"
    lines = []
    for item in items[:MAX_LISTED]:
        if item.get("article_id") is None:
            lines.append(f"• Spike on {item['day']:%Y-%m-%d}: {_line(item.get('detail'), 400)}")
            continue
        when = item.get("published_at")
        lines.append(f"• {_line(item.get('title'))} — {_line(item.get('source'), 80)}{f', {when:%Y-%m-%d %H:%M} UTC' if when else ''}")
        link = safe_link(item.get("link"))  # http(s) only, characters that break out of HTML encoded
        if link:
            lines.append(f"  {link}")
    if n > MAX_LISTED:
        lines.append(f"… and {n - MAX_LISTED} more in the Alerts inbox.")
    return title, "\n".join(lines)


def message_items(conn, match_ids: list[int], limit: int = MAX_LISTED) -> list[dict]:
    """The newest `limit` of these matches with their articles (the rest are only counted)."""
    chosen = match_ids[-limit * 4 :] if len(match_ids) > limit * 4 else match_ids  # the latest recorded
    rows = conn.execute(
        select(
            alert_matches.c.id,
            alert_matches.c.article_id,
            alert_matches.c.day,
            alert_matches.c.detail,
            articles.c.title,
            articles.c.source,
            articles.c.published_at,
            articles.c.link,
        )
        .select_from(alert_matches.outerjoin(articles, articles.c.id == alert_matches.c.article_id))
        .where(alert_matches.c.id.in_(chosen))
        .order_by(articles.c.published_at.desc(), alert_matches.c.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
