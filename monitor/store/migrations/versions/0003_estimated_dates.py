"""estimated article dates; alerts remember their private-network choice

`articles.date_estimated`: the item carried no date we could read (none, a 1970 placeholder, a
pre-1990 or future date), so `published_at` is the feed's own date or the fetch time. Articles
stored before this revision whose date equals their fetch time got it that way, and are marked.

`alerts.allow_private_networks`: `alerts add --allow-private-networks` is stored with the alert,
so later deliveries honour it without the flag.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (SQLite has it): a batch "move and copy" would drop the full-text
    # triggers that 0002 put on `articles`, and rewrite a million-row table besides.
    op.add_column("articles", sa.Column("date_estimated", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text("UPDATE articles SET date_estimated = :yes WHERE published_at = fetched_at").bindparams(yes=True))
    op.add_column("alerts", sa.Column("allow_private_networks", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+ and PostgreSQL), keeping 0002's triggers
    op.execute("ALTER TABLE alerts DROP COLUMN allow_private_networks")
    op.execute("ALTER TABLE articles DROP COLUMN date_estimated")
