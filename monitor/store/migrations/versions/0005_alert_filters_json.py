"""alerts keep their filters as one JSON value

An alert had one column per filter dimension (topic, stance, target, source), so every new
dimension meant a migration here too. Now `alerts.filters` holds them as the URL parameters
`monitor.filters` reads back ({"topic": ["interpol"], "source": ["TASS"], "stance": "AGAINST",
"target": "Interpol"}); the query keeps its own column. Every stored alert's values move over.

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# (column, URL key, repeated): frozen here, as the filters were when this revision was written
_MOVED = (("topic", "topic", True), ("source", "source", True), ("stance", "stance", False), ("target", "target", False))


def _alerts(*columns: str) -> sa.TableClause:
    return sa.table("alerts", sa.column("id", sa.Integer), *(sa.column(c) for c in columns))


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite 3.35+ has both): a batch "move and copy" of `alerts` would
    # have to recreate its foreign keys' targets for no gain.
    op.add_column("alerts", sa.Column("filters", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    bind = op.get_bind()
    old = _alerts(*(c for c, _, _ in _MOVED))
    new = sa.table("alerts", sa.column("id", sa.Integer), sa.column("filters", sa.JSON()))
    for row in bind.execute(sa.select(old)).mappings().all():
        filters = {key: ([row[c]] if many else row[c]) for c, key, many in _MOVED if row[c]}
        bind.execute(sa.update(new).where(new.c.id == row["id"]).values(filters=filters))
    for column, _, _ in _MOVED:
        op.drop_column("alerts", column)


def downgrade() -> None:
    # The old columns hold one value each: an alert with two topics keeps the first.
    for column, size in (("topic", 128), ("source", None), ("stance", 16), ("target", 128)):
        op.add_column("alerts", sa.Column(column, sa.String(size) if size else sa.Text()))
    bind = op.get_bind()
    table = _alerts("filters", *(c for c, _, _ in _MOVED))
    for row in bind.execute(sa.select(table.c.id, table.c.filters)).mappings().all():
        stored = row["filters"] if isinstance(row["filters"], dict) else json.loads(row["filters"] or "{}")
        values = {}
        for column, key, many in _MOVED:
            value = stored.get(key)
            values[column] = (value[0] if value else None) if many else value
        bind.execute(sa.update(table).where(table.c.id == row["id"]).values(**values))
    op.drop_column("alerts", "filters")
