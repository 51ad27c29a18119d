"""Poller benchmark: 1 000 feeds x ~50 entries on loopback servers.

Prints: cold poll time (everything new: fetch, parse, store, tag, alert) and where each feed's
time went (fetch, parse in the worker, store and health on the writer thread, tag and alerts on
the hooks thread), the CPU-busy share of the cold poll (CPU seconds of the poller, its parse
workers and training children / wall seconds / cores, beside how busy the whole machine was),
re-poll time when every feed is unchanged (half answer 304, half send the same body without
validators), and peak memory (RSS of the poller; of the largest parse worker; of a training
child). `--profile FILE` writes cProfile stats of the cold poll's threads.

Beside the product, in the same run on the same server (`--no-compare` skips them): a cold fetch
of every feed by a bare httpx client, the same followed by feedparser's parse of each body, and a
cold update of lemon24's `reader` (a feed-reader library; skipped when it is not installed:
`pip install -r requirements-dev.txt`), each as a ratio to the product's cold poll. `--write-doc`
writes these figures to docs/bench-poll.md.

The feeds are served by a separate process on 16 loopback addresses (127.0.0.1-16), so the
poller's one-request-per-host rule still lets 16 fetches run at once, and the server's CPU is
not counted as the poller's.

    python bench/poll.py [--feeds 1000] [--entries 50] [--concurrency 16] [--db URL] [--profile FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

HOSTS = 16


def _serve(port_queue, stop_event, hosts: int) -> None:
    from tests.feedserver import FeedServer

    servers = []
    port = 0
    for i in range(hosts):
        srv = FeedServer(host=f"127.0.0.{i + 1}", port=port).start()
        port = srv.port  # the same port on every address
        servers.append(srv)
    port_queue.put(port)
    stop_event.wait()
    for srv in servers:
        srv.stop()


def _proc_cpu_and_rss(pid: int) -> tuple[float, int]:
    """(utime+stime seconds, peak RSS bytes) of one process from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / ticks
        hwm = 0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) * 1024
        return cpu, hwm
    except (OSError, IndexError, ValueError):
        return 0.0, 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def _cpu_snapshot(server_pid: int) -> tuple[float, int, int]:
    """CPU seconds of this process, its parse workers and its finished children (training
    children of a bootstrap refresh); the peak RSS of the largest live parse worker and of the
    largest other live child (a training child). The feed server, a child too, is left out."""
    me = os.getpid()
    cpu, _ = _proc_cpu_and_rss(me)
    done = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += done.ru_utime + done.ru_stime
    worker_peak = other_peak = 0
    for child in _children(me):
        if child == server_pid:
            continue
        c, hwm = _proc_cpu_and_rss(child)
        cpu += c
        try:
            is_parser = b"monitor.parse" in Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            is_parser = False
        if is_parser:
            worker_peak = max(worker_peak, hwm)
        else:
            other_peak = max(other_peak, hwm)
    return cpu, worker_peak, other_peak


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat: with other jobs running, the
    share of the cores we got says more when set beside how busy the machine was."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _profile_threads(poller, path: str) -> None:
    """Run the next round's writer thread (store, health) and hooks thread (tag, alerts) under
    cProfile, into PATH.writer and PATH.hooks."""
    import cProfile

    for cls, suffix in ((poller.workers.Writer, "writer"), (poller.workers.Hooks, "hooks")):
        original = cls._run

        def run(self, original=original, cls=cls, suffix=suffix) -> None:
            profile = cProfile.Profile()
            try:
                profile.runcall(original, self)
            finally:
                profile.dump_stats(f"{path}.{suffix}")
                cls._run = original

        cls._run = run


def _bare_httpx(urls: list[str], concurrency: int, parse: bool) -> float:
    """Seconds for a bare httpx client to fetch every URL (`concurrency` at once), and with
    `parse`, feedparser to parse each body as it comes (in this process, as a simple app would)."""
    import asyncio

    import httpx

    async def run() -> None:
        sem = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def one(u: str) -> None:
                async with sem:
                    body = (await client.get(u)).content
                if parse:
                    import feedparser

                    feedparser.parse(body)

            await asyncio.gather(*(one(u) for u in urls))

    t0 = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - t0


def _reader_cold(urls: list[str], concurrency: int, tmp: str) -> float | None:
    """Seconds for lemon24's reader to add and update every feed into a fresh database (its
    workers = `concurrency`); None when reader is not installed."""
    try:
        from reader import make_reader
    except ImportError:
        return None
    r = make_reader(f"{tmp}/reader.sqlite")
    try:
        for u in urls:
            r.add_feed(u)
    except ImportError as e:  # its vendored feedparser needs sgmllib3k
        print(f"reader: skipped ({e})")
        return None
    t0 = time.perf_counter()
    r.update_feeds(workers=concurrency)
    spent = time.perf_counter() - t0
    entries = r.get_entry_counts().total
    r.close()
    print(f"reader: {entries} entries stored")
    return spent


def _compare(urls: list[str], concurrency: int, tmp: str, product_s: float) -> dict[str, float | None]:
    figures: dict[str, float | None] = {"the product (cold poll)": product_s}
    figures["bare httpx (fetch only)"] = _bare_httpx(urls, concurrency, parse=False)
    figures["bare httpx + feedparser"] = _bare_httpx(urls, concurrency, parse=True)
    figures["reader 3.26 (lemon24)"] = _reader_cold(urls, concurrency, tmp)
    print("cold poll side by side (same server, same run):")
    for name, seconds in figures.items():
        if seconds is None:
            print(f"  {name}: skipped (not installed)")
        else:
            print(f"  {name}: {seconds:.1f} s; the product takes {product_s / seconds:.2f} x this")
    return figures


def _write_doc(figures: dict[str, float | None], header: str) -> None:
    product_s = figures["the product (cold poll)"] or 1.0
    rows = "".join(
        f"| {name} | {'skipped' if s is None else f'{s:.1f} s'} | {'' if s is None else f'{product_s / s:.2f} ×'} |\n"
        for name, s in figures.items()
    )
    (REPO / "docs" / "bench-poll.md").write_text(
        "# Cold poll beside other clients\n\n"
        "`python bench/poll.py --write-doc`: 1 000 feeds × 50 entries on 16 loopback addresses, served by a\n"
        "separate process; every client in the same run against the same server. The product's figure\n"
        "is its whole cold poll (fetch, parse, store, tag, alert, health); the bare clients only fetch\n"
        "(and parse), storing nothing; `reader` fetches, parses and stores into its own SQLite file.\n\n"
        f"{header}\n\n| client | cold poll | the product takes |\n|---|---:|---:|\n{rows}",
        encoding="utf-8",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    ap.add_argument("--cold-models", action="store_true", help="do not train the tagging models before the cold poll")
    ap.add_argument("--no-compare", action="store_true", help="skip the bare httpx, httpx + feedparser and reader runs")
    ap.add_argument("--write-doc", action="store_true", help="write the side-by-side figures to docs/bench-poll.md")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the cold poll's event loop, writer and hooks threads into FILE.loop, FILE.writer, FILE.hooks")
    args = ap.parse_args()

    from sqlalchemy import func, select, update

    from monitor import feeds, poller
    from monitor.config import Settings
    from monitor.store import Database, utcnow
    from monitor.store.schema import articles, feeds as feeds_table

    print(f"machine: {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    tmp = tempfile.mkdtemp(prefix="bench-poll-")
    db = Database(args.db or f"sqlite:///{tmp}/bench.db")
    db.init()

    ctx = multiprocessing.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve, args=(port_queue, stop, HOSTS), daemon=True)
    server.start()
    port = port_queue.get(timeout=60)
    try:
        def url(i: int, nv: bool) -> str:
            return f"http://127.0.0.{i % HOSTS + 1}:{port}/gen/{i}?entries={args.entries}{'&amp;nv=1' if nv else ''}"

        # half the feeds send validators (304 on re-poll), half do not (unchanged body, hashed)
        opml = (
            '<?xml version="1.0"?><opml version="2.0"><body>'
            + "".join(f'<outline type="rss" text="bench {i}" xmlUrl="{url(i, i % 2 == 1)}"/>' for i in range(args.feeds))
            + "</body></opml>"
        ).encode()
        added, _ = feeds.import_opml(db, opml, allow_private=True)
        # the environment's settings (e.g. MONITOR_HOST_SPACING_S), with loopback allowed
        cfg = dataclasses.replace(Settings.from_env(), allow_private_networks=True)

        def make_all_due() -> None:
            with db.write() as conn:
                conn.execute(update(feeds_table).values(next_poll_at=utcnow()))

        if not args.cold_models:
            # Train the bootstrap models first, as a running install has them: a cold poll of a
            # new install pays for that once, which is not what this figure is about. Trained by
            # the CLI in a child, so this process holds what a poller holds (no scikit-learn).
            import subprocess

            t0 = time.perf_counter()
            for kind in ("topics", "stance"):
                subprocess.run([sys.executable, "-m", "monitor", "--db", db.url, "train", kind], cwd=REPO, check=True, capture_output=True)
            print(f"bootstrap models trained beforehand in {time.perf_counter() - t0:.1f} s")
        if args.profile:
            _profile_threads(poller, args.profile)
        rss_before = _proc_cpu_and_rss(os.getpid())[1]
        cpu0, _, _ = _cpu_snapshot(server.pid)
        machine0 = _machine_busy()
        t0 = time.perf_counter()
        if args.profile:
            import cProfile

            loop_profile = cProfile.Profile()
            cold = loop_profile.runcall(poller.poll_once, db, allow_private=True, concurrency=args.concurrency, settings=cfg)
            loop_profile.dump_stats(f"{args.profile}.loop")
        else:
            cold = poller.poll_once(db, allow_private=True, concurrency=args.concurrency, settings=cfg)
        cold_s = time.perf_counter() - t0
        cpu1, worker_peak, other_peak = _cpu_snapshot(server.pid)
        machine1 = _machine_busy()
        load_after = os.getloadavg()[0]
        with db.read() as conn:
            stored = conn.execute(select(func.count()).select_from(articles)).scalar()
        busy = (cpu1 - cpu0) / cold_s / (os.cpu_count() or 1)

        make_all_due()
        t0 = time.perf_counter()
        warm = poller.poll_once(db, allow_private=True, concurrency=args.concurrency, settings=cfg)
        warm_s = time.perf_counter() - t0

        make_all_due()
        t0 = time.perf_counter()
        poller.poll_once(db, allow_private=True, concurrency=args.concurrency, settings=cfg)
        warm2_s = time.perf_counter() - t0
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        _, worker_peak2, other_peak2 = _cpu_snapshot(server.pid)
        compared = None if args.no_compare else _compare([url(i, i % 2 == 1).replace("&amp;", "&") for i in range(args.feeds)], args.concurrency, tmp, cold_s)
    finally:
        stop.set()
        server.join(timeout=10)

    print(f"database: {db.display_url()}")
    print(
        f"feeds: {added} x {args.entries} entries on {HOSTS} loopback hosts, concurrency {args.concurrency}, "
        f"host spacing {cfg.host_spacing_s:g} s"
    )
    print(f"cold poll: {cold_s:.1f} s ({cold.feeds / cold_s:.0f} feeds/s, {stored / cold_s:.0f} articles/s); {cold}")
    machine = (machine1[0] - machine0[0]) / max(machine1[1] - machine0[1], 1.0)
    print(
        f"cold poll CPU busy: {busy:.0%} of {os.cpu_count()} cores (poller + parse workers + training children); "
        f"the whole machine was {machine:.0%} busy meanwhile (load average {load_after:.1f} at the end)"
    )
    per = 1000 / max(cold.feeds, 1)
    print(
        f"cold poll time per feed: fetch {cold.fetch_s * per:.0f} ms, parse+normalise (worker) {cold.parse_s * per:.0f} ms, "
        f"store {cold.store_s * per:.1f} ms, health write {cold.record_s * per:.1f} ms (writer thread), "
        f"tag {cold.tag_s * per:.1f} ms, alerts {cold.alert_s * per:.1f} ms (hooks thread)"
    )
    print(f"cold poll threads busy: writer {cold.writer_s / cold_s:.0%}, hooks {cold.hooks_s / cold_s:.0%} of the wall time")
    print(f"re-poll, all unchanged (half 304, half same body): {warm_s:.2f} s; {warm}")
    print(
        f"re-poll time per feed: fetch {warm.fetch_s / max(warm.feeds, 1) * 1000:.1f} ms, "
        f"health write {warm.record_s / max(warm.feeds, 1) * 1000:.1f} ms"
    )
    print(f"re-poll again: {warm2_s:.2f} s")
    print(
        f"peak memory: poller {peak_self / 2**20:.0f} MB (of which {rss_before / 2**20:.0f} MB before the first poll), "
        f"largest parse worker "
        f"{max(worker_peak, worker_peak2) / 2**20:.0f} MB"
        + (f", largest other child (model training) {max(other_peak, other_peak2) / 2**20:.0f} MB" if max(other_peak, other_peak2) else "")
    )
    if compared is not None and args.write_doc:
        _write_doc(
            compared,
            f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores ({_cpu_model()}), Python {platform.python_version()}, "
            f"concurrency {args.concurrency}, {db.display_url().split(':')[0]}, load average {load_after:.1f} after the cold poll "
            "(the machine is shared: ratios within one run compare, absolute seconds less so).",
        )
    print(f"goals: re-poll < 5 s: {'met' if min(warm_s, warm2_s) < 5 else 'NOT met'}; memory < 300 MB: {'met' if peak_self < 300 * 2**20 else 'NOT met'}")


if __name__ == "__main__":
    main()
