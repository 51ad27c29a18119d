"""The parse workers: a small pool of long-lived Python children that run feedparser.

- Each worker runs `monitor.parse._worker_main` with `RLIMIT_AS` set and is fed documents over a
  pipe, one length-prefixed (`FRAME`) `marshal` message each way. Starting a Python that imports
  feedparser costs ~0.2 s, far more than parsing a typical feed, so workers are reused and only
  replaced when they die, overrun the wall-clock limit, or have parsed `RECYCLE_AFTER`
  documents (bounding heap fragmentation).
- The parent waits at most `parse_timeout_s`; past that the worker is killed and the document
  fails with `reason="parse_timeout"`. A worker killed by its memory limit fails the document
  with `reason="parse_memory"`; the next document gets a fresh worker.
"""

from __future__ import annotations

import atexit
import marshal
import os
import selectors
import struct
import subprocess
import sys
import threading
import time
from typing import IO, TYPE_CHECKING

from monitor.errors import ParseError
from monitor.wire import pack

if TYPE_CHECKING:  # the parse module imports this one to reach its workers
    from monitor.parse import ParseRequest

RECYCLE_AFTER = 2000  # documents per worker before a fresh one replaces it
FRAME = struct.Struct("!I")  # the length before each message on the pipe
_MAX_REPLY = 512 * 1024 * 1024  # a sanity bound on what a worker may send back


def shutdown_workers() -> None:
    """Stop every idle worker (tests and short-lived tools; workers are also stopped at exit)."""
    pool = _POOL
    if pool is not None:
        pool.close()


# The worker imports this very copy of the package, installed or a source checkout, whatever the
# working directory: the child's path drops the working directory (a `monitor/` there must not
# shadow ours) and gains the directory holding this package only when it lacks it, and the
# environment, which the worker's own children would inherit, is left alone.
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_WORKER_BOOTSTRAP = (
    "import sys\n"
    "del sys.path[0]\n"
    "if sys.argv[1] not in sys.path:\n"
    "    sys.path.insert(0, sys.argv[1])\n"
    "from monitor.parse import _worker_main\n"
    "_worker_main()\n"
)


class _Worker:
    def __init__(self, memory_mb: int):
        env = dict(os.environ)
        env["MONITOR_PARSE_WORKER_MEMORY_MB"] = str(memory_mb)
        self.memory_mb = memory_mb
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_BOOTSTRAP, _PACKAGE_PARENT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            close_fds=True,
        )
        self.used = 0

    @property
    def _stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None  # opened with PIPE
        return self.proc.stdin

    @property
    def _stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None  # opened with PIPE
        return self.proc.stdout

    def run(self, request: ParseRequest, timeout_s: float) -> dict:
        payload = marshal.dumps(pack(request))
        deadline = time.monotonic() + timeout_s
        try:
            self._stdin.write(FRAME.pack(len(payload)) + payload)
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            raise _WorkerDied() from None
        header = self._read_exact(FRAME.size, deadline)
        (size,) = FRAME.unpack(header)
        if size > _MAX_REPLY:
            raise _WorkerDied()
        reply = marshal.loads(self._read_exact(size, deadline))
        self.used += 1
        return reply

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self._stdout.fileno()
        chunks, got = [], 0
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while got < n:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise _WorkerTimeout()
                chunk = os.read(fd, min(n - got, 1 << 20))
                if not chunk:
                    raise _WorkerDied()
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class _WorkerDied(Exception):
    pass


class _WorkerTimeout(Exception):
    pass


class Pool:
    """At most `size` workers; callers on several threads (the poller) each borrow one."""

    def __init__(self, size: int):
        self.size = size
        self.pid = os.getpid()
        self.idle: list[_Worker] = []
        self.count = 0
        self.cond = threading.Condition()
        self.closed = False

    def _acquire(self, memory_mb: int) -> _Worker:
        with self.cond:
            while not self.idle and self.count >= self.size:
                self.cond.wait()
            if self.idle:
                worker = self.idle.pop()
                if worker.memory_mb == memory_mb:
                    return worker
                worker.kill()  # started under another limit: replace it
            else:
                self.count += 1
        try:
            return _Worker(memory_mb)
        except BaseException:
            with self.cond:
                self.count -= 1
                self.cond.notify()
            raise

    def _release(self, worker: _Worker, keep: bool) -> None:
        if not keep or worker.used >= RECYCLE_AFTER or not worker.alive():
            worker.kill()
            keep = False
        with self.cond:
            if keep and not self.closed:
                self.idle.append(worker)
            else:
                if keep:
                    worker.kill()
                self.count -= 1
            self.cond.notify()

    def run(self, request: ParseRequest, timeout_s: float, memory_mb: int) -> dict:
        worker = self._acquire(memory_mb)
        keep = False
        try:
            reply = worker.run(request, timeout_s)
            keep = reply.get("keep", True)
            return reply
        except _WorkerTimeout:
            raise ParseError(
                f"the parser took longer than {timeout_s:g} s (MONITOR_PARSE_TIMEOUT_S) and was stopped",
                reason="parse_timeout",
            ) from None
        except _WorkerDied:
            worker.kill()
            code = worker.proc.returncode
            raise ParseError(
                f"the parser ran out of its memory limit or crashed (exit {code}); the document was skipped",
                reason="parse_memory",
            ) from None
        finally:
            self._release(worker, keep)

    def close(self) -> None:
        with self.cond:
            self.closed = True
            idle, self.idle = self.idle, []
            self.count -= len(idle)
            self.cond.notify_all()
        for worker in idle:
            worker.kill()


_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def pool() -> Pool:
    """This process's pool of parse workers (a forked child gets its own)."""
    global _POOL
    with _POOL_LOCK:
        # A forked child must not share its parent's workers (their pipes are the parent's).
        if _POOL is None or _POOL.pid != os.getpid() or _POOL.closed:
            _POOL = Pool(pool_size())
        return _POOL


def pool_size() -> int:
    """Parse workers at most: one per core (up to 4), since parsing is CPU-bound."""
    return max(1, min(4, os.cpu_count() or 1))


@atexit.register
def _stop_at_exit() -> None:
    pool = _POOL
    if pool is not None and pool.pid == os.getpid():
        pool.close()
