"""PostgreSQL advisory lock keys: every one the product takes, in one place so they stay apart.

Each key is the first argument of `pg_advisory_*lock(key, …)`; keys that take a second argument
(a hash of a source or a host) lock one of many things of that kind.
"""

from __future__ import annotations

from enum import IntEnum


class LockKey(IntEnum):
    MIGRATIONS = 7303311  # one process migrates the schema at a time (transaction lock)
    SOURCE = 7303312  # with hashtext(source): one writer of a source's articles at a time (ingest)
    HOST = 7303313  # with hashtext(host): one request to a host at a time across pollers (session lock)
    MODEL_REFRESH = 7303314  # one refresh of the classifiers at a time (classify)
