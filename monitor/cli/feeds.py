"""`feeds` commands. (Being built: see the issue that owns this group.)"""

from __future__ import annotations

from monitor.errors import MonitorError


def register(sub) -> None:
    pass


def _not_built(args, db) -> int:
    raise MonitorError("this command is not built yet")
