"""`poll [--once|--forever]`: fetch due feeds, ingest, tag, alert; print what happened."""

from __future__ import annotations

import signal
import sys
import threading


def register(sub) -> None:
    p = sub.add_parser(
        "poll",
        help="fetch due feeds and store their new articles",
        description="Poll every feed that is due, once (default) or in a loop. Any number of "
        "`poll --forever` workers may share one PostgreSQL database; they divide the feeds through "
        "row leases. SIGINT/SIGTERM stop a loop cleanly: in-flight fetches finish, the rest is "
        "handed back.",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="poll what is due now, print a summary, exit (default)")
    mode.add_argument("--forever", action="store_true", help="keep polling until SIGINT/SIGTERM")
    p.add_argument("--concurrency", type=int, metavar="N", help="fetches in flight at once (default: MONITOR_POLL_CONCURRENCY)")
    p.add_argument("--allow-private-networks", action="store_true", help="allow feeds on loopback/private addresses")
    p.set_defaults(handler=run_poll, creates_db=True)


def run_poll(args, db) -> int:
    from monitor.config import settings
    from monitor.errors import InputError, StoreError
    from monitor.feeds import seed_default_feeds
    from monitor.poller import poll_cycle, poll_forever

    if args.concurrency is not None and not 1 <= args.concurrency <= 1000:
        raise InputError("--concurrency must be between 1 and 1000")
    if settings().seed_default_feeds:
        seeded = seed_default_feeds(db)
        if seeded:
            print(f"seeded {seeded} default feeds into the empty store", file=sys.stderr)
    allow_private = bool(args.allow_private_networks)
    if not args.forever:
        # catch up on articles a killed poller stored but never tagged or matched, poll, deliver
        summary = poll_cycle(db, strict=True, concurrency=args.concurrency, allow_private=allow_private).summary
        if summary.error:  # the store refused the round: one line, non-zero, nothing half-said
            if summary.feeds:
                print(summary)
            raise StoreError(summary.error)
        print(summary)
        return 0

    stop = threading.Event()

    def on_signal(signum, _frame) -> None:
        if stop.is_set():
            return
        print(f"\n{signal.Signals(signum).name}: stopping after the fetches in flight…", file=sys.stderr)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"polling {db.display_url()} until SIGINT/SIGTERM", file=sys.stderr)
        total = poll_forever(
            db, stop, concurrency=args.concurrency, allow_private=allow_private, on_round=lambda s: print(s, flush=True) if s.feeds else None
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped. total: {total}")
    return 0
