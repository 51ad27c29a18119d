"""The few kinds of error the product speaks of, each with a human message.

The CLI prints `str(error)` on one line and exits non-zero; the dashboard shows it in a box.
Anything that is not a MonitorError is a bug and keeps its traceback.
"""


class MonitorError(Exception):
    """Base: an error whose message is meant for the analyst."""

    exit_code = 1


class InputError(MonitorError):
    """The user typed something we cannot accept (URL, query, file, option)."""

    exit_code = 2


class ConfigError(MonitorError):
    """A setting or configuration file is invalid."""

    exit_code = 2


class StoreError(MonitorError):
    """The database cannot be opened, written or migrated (read-only, disk full, locked)."""


class ParseError(MonitorError):
    """A document is not a feed we can read."""

    def __init__(self, message: str, reason: str = "not_a_feed"):
        super().__init__(message)
        self.reason = reason


class ModelError(MonitorError):
    """A classifier is missing, corrupt, or cannot be trained on what it was given."""


class QueryError(InputError):
    """A search or alert query is malformed."""
