"""Leases: which due feeds this poller takes, keeps and gives back.

A claim sets `lease_owner`/`lease_until` on the feed row. On PostgreSQL the claim is `SELECT …
FOR UPDATE SKIP LOCKED`, so any number of pollers share the due feeds without waiting on each
other; on SQLite it runs inside `BEGIN IMMEDIATE`, which serialises claims. A poller that dies
leaves its leases; they expire after `lease_seconds` and the feeds return to the pool.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, func, or_, select, update

from monitor.store import Database, utcnow
from monitor.store.schema import feeds

# feeds of one host a round holds at once (one being fetched, the rest waiting their turn): more
# would only wait on the host's lock while other hosts' feeds could be fetched
HOST_SHARE = 3
CLAIM_SCAN = 4096  # due feeds a claim looks through for hosts that still have room


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True)
class ClaimedFeed:
    id: int
    url: str
    name: str | None
    status: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    poll_interval_s: int | None
    consecutive_failures: int
    redirect_url: str | None
    redirect_count: int

    @property
    def host(self) -> str:
        return host_of(self.url)


@dataclass(frozen=True)
class Claim:
    """What one claim leased, and whether due feeds were left behind (their host already had its
    share of this round's feeds in hand, or another poller took them first): an empty claim with
    `more` set means "try again shortly", not "nothing is due"."""

    feeds: list[ClaimedFeed]
    more: bool = False


_CLAIM_COLUMNS = (
    feeds.c.id,
    feeds.c.url,
    feeds.c.name,
    feeds.c.status,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.body_hash,
    feeds.c.poll_interval_s,
    feeds.c.consecutive_failures,
    feeds.c.redirect_url,
    feeds.c.redirect_count,
)


def new_owner() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _due_conditions(owner: str, now: datetime, due_before: datetime, feed_ids: list[int] | None) -> list[Any]:
    cond = [
        feeds.c.enabled.is_(True),
        or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now),
        # never re-claim our own lease: a feed already queued in this round is not fetched twice
        or_(feeds.c.lease_owner.is_(None), feeds.c.lease_owner != owner),
    ]
    if feed_ids is not None:
        cond.append(feeds.c.id.in_(list(feed_ids)))
        cond.append(or_(feeds.c.last_fetch_at.is_(None), feeds.c.last_fetch_at < due_before))
    else:
        cond.append(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= due_before))
    return cond


def pick_within_host_share(candidates: list[tuple[int, str]], limit: int, in_hand: Mapping[str, int], per_host: int) -> tuple[list[int], bool]:
    """The first `limit` candidate (id, url) pairs whose host has fewer than `per_host` feeds in
    hand (counting those picked here), and whether any due candidate was passed over."""
    taken: dict[str, int] = {}
    picked: list[int] = []
    passed = False
    for fid, url in candidates:
        if len(picked) >= limit:
            break
        host = host_of(url)
        if in_hand.get(host, 0) + taken.get(host, 0) >= per_host:
            passed = True
            continue
        taken[host] = taken.get(host, 0) + 1
        picked.append(fid)
    return picked, passed


def claim_batch(
    db: Database,
    owner: str,
    limit: int,
    *,
    lease_s: int,
    due_before: datetime,
    feed_ids: list[int] | None = None,
    in_hand: Mapping[str, int] | None = None,
    per_host: int | None = None,
) -> Claim:
    """Lease up to `limit` due feeds for `owner` (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite).

    With `per_host`, a host that already has that many feeds in hand (`in_hand`: claimed in
    this round and not yet fetched) gets no more: the claim takes other hosts' feeds instead, so
    one slow host with many due feeds cannot fill the round while workers wait on its lock.
    """
    now = utcnow()
    cond = _due_conditions(owner, now, due_before, feed_ids)
    order = (feeds.c.next_poll_at.asc().nulls_first(), feeds.c.id)
    more = False
    picked: list[int] = []
    with db.write() as conn:
        if per_host is None:
            query = select(*_CLAIM_COLUMNS).where(and_(*cond)).order_by(*order).limit(limit)
        else:
            # Look past the hosts that have their share (up to CLAIM_SCAN rows, ids and URLs only,
            # unlocked), then lock just the feeds picked; one another poller took meanwhile is
            # skipped and the claim says there is more.
            scan = conn.execute(select(feeds.c.id, feeds.c.url).where(and_(*cond)).order_by(*order).limit(max(CLAIM_SCAN, limit))).all()
            picked, more = pick_within_host_share([(r.id, r.url) for r in scan], limit, in_hand or {}, per_host)
            if not picked:
                return Claim([], more)
            query = select(*_CLAIM_COLUMNS).where(and_(*cond), feeds.c.id.in_(picked)).order_by(*order)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=feeds)
        rows = conn.execute(query).all()
        if per_host is not None and len(rows) < len(picked):
            more = True
        if not rows:
            return Claim([], more)
        conn.execute(
            update(feeds)
            .where(feeds.c.id.in_([r.id for r in rows]))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
        )
    return Claim([_claimed(r) for r in rows], more)


def _claimed(r: Any) -> ClaimedFeed:
    return ClaimedFeed(
        id=r.id,
        url=r.url,
        name=r.name,
        status=r.status,
        etag=r.etag,
        last_modified=r.last_modified,
        body_hash=r.body_hash,
        poll_interval_s=r.poll_interval_s,
        consecutive_failures=r.consecutive_failures or 0,
        redirect_url=r.redirect_url,
        redirect_count=r.redirect_count or 0,
    )


def claim_due(
    db: Database, owner: str, limit: int, *, lease_s: int, due_before: datetime, feed_ids: list[int] | None = None
) -> list[ClaimedFeed]:
    """Lease up to `limit` due feeds for `owner`, whatever their hosts (see `claim_batch`)."""
    return claim_batch(db, owner, limit, lease_s=lease_s, due_before=due_before, feed_ids=feed_ids).feeds


def renew(db: Database, owner: str, feed_ids: list[int], lease_s: int) -> None:
    """Extend our leases on feeds still queued or in flight, so a long round keeps them."""
    _our_leases(db, owner, feed_ids, lease_until=utcnow() + timedelta(seconds=lease_s))


def release(db: Database, owner: str, feed_ids: list[int]) -> None:
    """Give back leases without polling (stop requested): the feeds stay due."""
    _our_leases(db, owner, feed_ids, lease_owner=None, lease_until=None)


def _our_leases(db: Database, owner: str, feed_ids: list[int], **values: Any) -> None:
    """Set these values on the feeds among `feed_ids` that `owner` still holds."""
    if not feed_ids:
        return
    with db.write() as conn:
        conn.execute(update(feeds).where(feeds.c.id.in_(feed_ids), feeds.c.lease_owner == owner).values(**values))


def seconds_until_due(db: Database, cap: float) -> float:
    """How long until the next feed is due (or a lease expires), at most `cap`."""
    now = utcnow()
    unleased = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
    with db.read() as conn:
        # feeds another poller holds are not "due" for us until their lease lapses
        nxt = conn.execute(select(func.min(feeds.c.next_poll_at)).where(feeds.c.enabled.is_(True), unleased)).scalar()
        lease = conn.execute(select(func.min(feeds.c.lease_until)).where(feeds.c.lease_until >= now)).scalar()
    candidates = [t for t in (nxt, lease) if t is not None]
    if not candidates:
        return cap
    return max(1.0, min(cap, (min(candidates) - now).total_seconds() + 0.05))
