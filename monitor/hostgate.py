"""Politeness: at most one request at a time per host, a little apart, in one process and across many.

Media Cloud and Miniflux send one request at a time to a host. A round's fetches run concurrently,
so the gate sits in front of each fetch:

- **In this process** an `asyncio.Lock` per host: a second feed of the same host waits its turn.
- **Across processes** (pollers on other machines sharing a PostgreSQL store) a session advisory
  lock on a hash of the host, `pg_try_advisory_lock(HOST_LOCK_SPACE, hashtext(host))`, held while
  the request runs. All of a round's host locks live on one dedicated autocommit connection, so
  no transaction stays open during a fetch, and a poller that dies or loses its connection drops
  its locks at once. `try` never blocks: a host busy elsewhere makes `acquire` return False and
  the caller fetches another feed meanwhile. Two hosts whose hashes collide merely share a turn.
- **Spacing.** The lock is given back a gap after the response, not at once, so consecutive
  requests to one host are that far apart here and from every other poller. The gap is
  `spacing_s`; after a slow answer (SLOW_ANSWER_S or more) it is as long as that answer took, up
  to MAX_GAP_S: a host that needs 3 s to answer is busy and gets 3 s of rest (crawlers' "delay
  factor"), while quick hosts are not held back by our own scheduling noise.

- **SQLite** stores live on one machine, so pollers sharing one share a lock file beside it
  (`<db>-hosts`): a POSIX byte-range lock at an offset hashed from the host, taken without
  waiting, released by the kernel when a poller dies. Where there is no such file (in-memory
  databases, systems without `fcntl`) the rule holds per process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import logging
import os
import threading
from collections import defaultdict

from sqlalchemy import func, select

from monitor.locks import LockKey

log = logging.getLogger(__name__)

HOST_LOCK_SPACE = int(LockKey.HOST)
MAX_GAP_S = 5.0  # the longest rest a slow host gets between two of our requests ("a few seconds")
SLOW_ANSWER_S = 1.0  # an answer this slow earns the host a rest as long as the answer took


class SharedHostLocks:
    """Session advisory locks on hosts, on one dedicated PostgreSQL connection (one thread uses it)."""

    def __init__(self, db):
        self.db = db
        self.conn = None
        self.held: set[str] = set()
        self.thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="host-locks")

    def _connection(self):
        if self.conn is None:
            self.conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self.conn

    def _reset(self) -> None:
        conn, self.conn = self.conn, None
        self.held.clear()  # the server dropped them with the session
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass

    def try_lock(self, host: str) -> bool:
        try:
            got = bool(self._connection().execute(select(func.pg_try_advisory_lock(HOST_LOCK_SPACE, func.hashtext(host)))).scalar())
        except Exception as e:  # noqa: BLE001 - politeness must not stop polling when the store hiccups
            log.warning("host lock for %s unavailable (%s); fetching with this process's lock only", host, e)
            self._reset()
            return True
        if got:
            self.held.add(host)
        return got

    def unlock(self, host: str) -> None:
        if host not in self.held:
            return
        self.held.discard(host)
        try:
            self._connection().execute(select(func.pg_advisory_unlock(HOST_LOCK_SPACE, func.hashtext(host))))
        except Exception as e:  # noqa: BLE001 - a lost session has released every lock anyway
            log.warning("could not release the host lock for %s: %s", host, e)
            self._reset()

    def close(self) -> None:
        def close_now() -> None:
            if self.conn is not None:
                try:
                    # ending the session releases whatever is still held; a plain close() would
                    # hand the session back to the pool with its locks, and a later round on
                    # another pooled connection would find its own host locked for ever
                    self.conn.invalidate()
                    self.conn.close()
                except Exception:  # noqa: BLE001
                    pass
                self.conn = None

        self.thread.submit(close_now).result()
        self.thread.shutdown(wait=True)


class FileHostLocks:
    """Byte-range locks on hosts in one lock file, for pollers sharing a SQLite file.

    POSIX locks belong to the process, not to a file descriptor or thread: this process's rounds
    (the dashboard's background poller and its "poll now") share one instance per lock file, which
    keeps them from fetching one host at once too, and closing one round's descriptor cannot drop
    another round's locks."""

    _open: dict[tuple[str, int], FileHostLocks] = {}
    _open_guard = threading.Lock()

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path
        self.users = 0
        self.held: set[str] = set()
        self.thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="host-locks")

    @classmethod
    def beside(cls, db_file: str) -> FileHostLocks | None:
        try:
            import fcntl  # noqa: F401 - POSIX only
        except ImportError:
            return None
        path = db_file + "-hosts"
        key = (path, os.getpid())  # a forked child holds none of its parent's locks
        with cls._open_guard:
            locks = cls._open.get(key)
            if locks is None:
                try:
                    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
                except OSError as e:  # a read-only folder: the store will say so itself
                    log.warning("no host lock file %s (%s); one request per host holds per process only", path, e.strerror)
                    return None
                locks = cls._open[key] = cls(fd, path)
            locks.users += 1
            return locks

    @staticmethod
    def _offset(host: str) -> int:
        # 2**40 slots: two hosts sharing one is as good as never; the file itself stays empty
        return int.from_bytes(hashlib.blake2b(host.encode(), digest_size=5).digest(), "big")

    def try_lock(self, host: str) -> bool:
        import fcntl

        if host in self.held:
            return False  # another round of this process is fetching from it
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self._offset(host))
        except (BlockingIOError, PermissionError):
            return False  # another process holds it
        except OSError as e:  # e.g. a file system without locks
            log.warning("host lock for %s unavailable (%s); fetching with this process's lock only", host, e)
            return True
        self.held.add(host)
        return True

    def unlock(self, host: str) -> None:
        import fcntl

        if host not in self.held:
            return
        self.held.discard(host)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, self._offset(host))
        except OSError as e:
            log.warning("could not release the host lock for %s: %s", host, e)

    def close(self) -> None:
        with self._open_guard:
            self.users -= 1
            if self.users > 0:
                return
            self._open.pop((self.path, os.getpid()), None)
        self.thread.shutdown(wait=True)
        try:
            os.close(self.fd)  # releases whatever is still held
        except OSError:
            pass


class HostGate:
    """`await acquire(host)` before a request and `release(host)` after it (see the module doc)."""

    def __init__(self, spacing_s: float = 0.0, shared: SharedHostLocks | FileHostLocks | None = None):
        self.spacing_s = max(0.0, float(spacing_s))
        self.shared = shared
        self.locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.pending: set[asyncio.Task] = set()

    @classmethod
    def for_database(cls, db, spacing_s: float) -> HostGate:
        if not db.is_sqlite:
            return cls(spacing_s, SharedHostLocks(db))
        from sqlalchemy.engine import make_url

        name = make_url(db.url).database
        if not name or name == ":memory:" or name.startswith("file:"):
            return cls(spacing_s, None)
        return cls(spacing_s, FileHostLocks.beside(os.path.abspath(name)))

    def busy_here(self, host: str) -> bool:
        """Is a request of this process to `host` in flight or in its gap? A caller with other
        hosts' feeds to fetch takes one of those instead of waiting in line here."""
        lock = self.locks.get(host)
        return lock is not None and lock.locked()

    async def acquire(self, host: str) -> bool:
        """Wait for this process's turn on `host`; False when another poller holds the host."""
        lock = self.locks[host]
        await lock.acquire()
        if self.shared is None:
            return True
        loop = asyncio.get_running_loop()
        try:
            got = await loop.run_in_executor(self.shared.thread, self.shared.try_lock, host)
        except BaseException:
            lock.release()
            raise
        if not got:
            lock.release()
        return got

    def gap(self, busy_s: float) -> float:
        if busy_s >= SLOW_ANSWER_S:
            return max(self.spacing_s, min(busy_s, MAX_GAP_S))
        return self.spacing_s

    def release(self, host: str, busy_s: float = 0.0) -> None:
        """Give the host back after the gap that a request of `busy_s` seconds earns."""
        task = asyncio.get_running_loop().create_task(self._release_later(host, self.gap(busy_s)))
        self.pending.add(task)
        task.add_done_callback(self.pending.discard)

    async def _release_later(self, host: str, gap_s: float) -> None:
        try:
            if gap_s:
                await asyncio.sleep(gap_s)
        finally:
            try:
                if self.shared is not None:
                    await asyncio.get_running_loop().run_in_executor(self.shared.thread, self.shared.unlock, host)
            finally:
                self.locks[host].release()

    async def aclose(self) -> None:
        """Hand back every host now (a stopping poller sends nothing more) and close the lock
        connection."""
        pending = list(self.pending)
        for task in pending:
            task.cancel()  # its `finally` releases the host
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.shared is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.shared.close)
