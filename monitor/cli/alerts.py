"""`alerts` commands: add, list, check, remove, deliver, inbox. A thin layer over monitor.alerts;
delivery URLs are only ever printed in Apprise's privacy form."""

from __future__ import annotations

import json

from monitor.errors import InputError


def register(sub) -> None:
    p = sub.add_parser(
        "alerts",
        help="keyword and spike alerts",
        description="Alerts fire once per matching article, land in the inbox and are delivered "
        "through Apprise (webhook, e-mail, Slack, Telegram, …) immediately or as a digest.",
    )
    group = p.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")
    group.required = True

    add = group.add_parser(
        "add",
        help="create an alert",
        description='Create an alert. The query uses the search language: words, "phrases", prefix*, '
        "AND/OR/NOT, parentheses. Example: alerts add extraditions --query '\"red notice\" OR extradit*' "
        "--topic interpol --notify 'json://hooks.example.org/monitor' --every hourly",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--query", "-q", default="", metavar="Q", help="search query (may be empty with a filter)")
    add.add_argument("--topic", metavar="T", help="only articles tagged with this topic")
    add.add_argument("--stance", metavar="S", help="only articles with this stance: FAVOR, AGAINST or NONE")
    add.add_argument("--target", metavar="T", help="stance target the --stance applies to (default: any)")
    add.add_argument("--source", metavar="S", help="only articles from this source (outlet name)")
    for param in _more_filter_params():  # the other filter dimensions, as `export` takes them
        add.add_argument(param.cli, dest=f"filter_{param.key}", action="append" if param.many else "store", metavar=param.metavar, help=param.help)
    add.add_argument("--notify", action="append", default=[], metavar="APPRISE_URL", help="delivery target (repeatable)")
    add.add_argument("--every", default="immediate", metavar="CADENCE", help="immediate (default), hourly or daily digest")
    add.add_argument("--owner", metavar="ANALYST", help="who the alert belongs to")
    add.add_argument("--spike", action="store_true", help="a spike alert: fires when the topic's or query's daily share jumps")
    add.add_argument("--sensitivity", type=float, metavar="K", help="spike alerts: standard deviations above the baseline (default 3)")
    add.add_argument(
        "--allow-private-networks", action="store_true", default=None,
        help="allow delivery targets on private addresses (recorded with the alert: later deliveries honour it)",
    )
    add.set_defaults(handler=run_add)

    ls = group.add_parser("list", help="list alerts with their inbox and outbox counts")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(handler=run_list)

    check = group.add_parser(
        "check",
        help="evaluate alerts over the archive, then deliver what is due",
        description="Match every alert (or one) against the whole archive: print what matched, record "
        "new matches in the inbox (each article once per alert), assess spike alerts over recent days, "
        "then send due messages.",
    )
    check.add_argument("alert", nargs="?", metavar="ID|NAME", help="only this alert")
    check.add_argument("--no-deliver", action="store_true", help="record matches but send nothing")
    check.add_argument("--days", type=int, default=30, metavar="N", help="spike alerts: days to assess (default 30)")
    check.add_argument("--allow-private-networks", action="store_true", default=None, help="allow delivery to private addresses")
    check.set_defaults(handler=run_check)

    rm = group.add_parser("remove", help="delete an alert, its inbox and unsent messages")
    rm.add_argument("alert", metavar="ID|NAME")
    rm.set_defaults(handler=run_remove)

    deliver = group.add_parser("deliver", help="send due messages from the outbox")
    deliver.add_argument("--allow-private-networks", action="store_true", default=None, help="allow delivery to private addresses")
    deliver.set_defaults(handler=run_deliver)

    inbox = group.add_parser("inbox", help="list recorded matches")
    inbox.add_argument("alert", nargs="?", metavar="ID|NAME", help="only this alert")
    inbox.add_argument("--state", choices=("new", "reviewed"), help="only new or reviewed matches")
    inbox.add_argument("--limit", type=int, default=50, metavar="N")
    inbox.add_argument("--mark-reviewed", action="store_true", help="mark the listed matches reviewed")
    inbox.set_defaults(handler=run_inbox)


def _more_filter_params():
    from monitor.alerts.rules import MORE_FILTERS
    from monitor.filters import PARAMS

    return [p for p in PARAMS if p.field in MORE_FILTERS]


def run_add(args, db) -> int:
    from monitor.alerts import add_alert

    more = {}
    for param in _more_filter_params():
        given = getattr(args, f"filter_{param.key}")
        if given:
            more[param.field] = tuple(param.parse(v, param.cli) for v in given) if param.many else param.parse(given, param.cli)

    alert_id = add_alert(
        db,
        args.name,
        args.query,
        topic=args.topic,
        stance=args.stance,
        target=args.target,
        source=args.source,
        notify=args.notify,
        cadence=args.every,
        owner=args.owner,
        kind="spike" if args.spike else "keyword",
        sensitivity=args.sensitivity,
        allow_private=args.allow_private_networks,
        **more,
    )
    from monitor.alerts import get_alert

    alert = get_alert(db, alert_id)
    targets = ", ".join(alert.targets) or "inbox only"
    print(f"added alert #{alert.id} {alert.name!r}: {alert.kind} {alert.describe()}, {alert.cadence}, to {targets}")
    return 0


def run_list(args, db) -> int:
    from monitor.alerts import list_alerts

    alerts = list_alerts(db)
    if args.format == "json":
        print(
            json.dumps(
                [
                    {
                        "id": a.id,
                        "name": a.name,
                        "kind": a.kind,
                        "query": a.query,
                        "topic": a.topic,
                        "stance": a.stance,
                        "target": a.target,
                        "source": a.source,
                        "filters": a.filters.to_params(),
                        "notify": list(a.targets),
                        "allow_private_networks": a.allow_private_networks,
                        "every": a.cadence,
                        "sensitivity": a.sensitivity,
                        "owner": a.owner,
                        "enabled": a.enabled,
                        "matches": a.matches,
                        "new": a.new,
                        "queued": a.queued,
                        "failing": a.failing,
                        "sent": a.sent,
                        "last_error": a.last_error,
                    }
                    for a in alerts
                ],
                ensure_ascii=False,
                indent=1,
            )
        )
        return 0
    if not alerts:
        print("no alerts yet: python -m monitor alerts add NAME --query Q [--notify APPRISE_URL]")
        return 0
    for a in alerts:
        state = "" if a.enabled else " (disabled)"
        print(f"#{a.id} {a.name}{state}: {a.kind} {a.describe()}, {a.cadence}")
        private = " (private networks allowed)" if a.allow_private_networks else ""
        print(f"    notify: {', '.join(a.targets) or 'inbox only'}{private}")
        outbox = f"{a.queued} queued" + (f" ({a.failing} failing: {a.last_error})" if a.failing else "")
        print(f"    matches: {a.matches} ({a.new} new), messages: {a.sent} sent, {outbox}")
    return 0


def run_check(args, db) -> int:
    from monitor.alerts import check_alerts

    if args.days < 1:
        raise InputError("--days must be at least 1")
    report = check_alerts(
        db, alert=args.alert, deliver=not args.no_deliver, allow_private=args.allow_private_networks, spike_days=args.days
    )
    if not report.alerts:
        print("no enabled alerts")
    for check in report.alerts:
        a = check.alert
        if a.kind == "spike":
            print(f"{a.name}: {check.matching} spike day(s) in the last {args.days} days ({check.recorded} new)")
            for day in check.sample:
                note = f" — {day.held_reason}" if day.held_reason else ""
                print(f"    {day.day}: {day.detail}{note}")
            continue
        print(f"{a.name}: {check.matching} matching article(s) ({check.recorded} new in the inbox)")
        for row in check.sample:
            print(f"    {row.published_at:%Y-%m-%d} {row.source}: {' '.join(row.title.split())[:120]}")
    if report.delivery:
        d = report.delivery
        print(f"delivery: {d.sent} sent, {d.failed} failed attempts, {d.waiting} waiting in the outbox" + _unconfirmed(d))
    return 0


def run_remove(args, db) -> int:
    from monitor.alerts import remove_alert

    print(f"removed alert {remove_alert(db, args.alert)!r}")
    return 0


def run_deliver(args, db) -> int:
    from monitor.alerts import deliver_due

    d = deliver_due(db, allow_private=args.allow_private_networks)
    print(f"delivery: {d.digests} digest(s) queued, {d.sent} sent, {d.failed} failed attempts, {d.waiting} waiting in the outbox" + _unconfirmed(d))
    return 0


def _unconfirmed(d) -> str:
    if not d.unconfirmed:
        return ""
    return f"; {d.unconfirmed} unconfirmed (sent, never answered: not retried by itself, see the dashboard's Deliveries tab)"


def run_inbox(args, db) -> int:
    from monitor.alerts import get_alert, list_inbox, set_state

    alert_id = get_alert(db, args.alert).id if args.alert else None
    rows = list_inbox(db, alert=alert_id, state=args.state, limit=max(args.limit, 1))
    if not rows:
        print("the inbox is empty")
    for r in rows:
        if r.article_id is None:
            what = f"spike on {r.day:%Y-%m-%d}: {r.held_reason or r.detail}"
        else:
            what = f"{r.published_at:%Y-%m-%d} {r.source}: {' '.join((r.title or '').split())[:100]}"
        print(f"[{r.state}] #{r.id} {r.alert_name}: {what} (delivery: {r.delivery})")
    if args.mark_reviewed:
        print(f"marked {set_state(db, [r.id for r in rows], 'reviewed')} reviewed")
    return 0
