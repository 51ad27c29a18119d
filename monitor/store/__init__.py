"""The article store: engine, schema and migrations. Queries live with the feature that owns them."""

from monitor.store.engine import Database, open_database, utcnow

__all__ = ["Database", "open_database", "utcnow"]
