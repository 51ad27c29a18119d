"""stemmed full-text index over title, summary and content, filled from Python

0002 let each database tokenise titles and summaries itself (FTS5 `unicode61`, PostgreSQL's
`simple` configuration): no content, no stemming, and each backend splitting and folding text its
own way. Now `monitor.search_tokens` makes the words and their Snowball stems once, and both
indexes store exactly those (see `monitor.search_index`). Every stored article is indexed again.

Revision ID: 0004
Revises: 0002
"""

from alembic import op

from monitor.search_index import POSTGRES_INDEX, SQLITE_CREATE, rebuild

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TRIGGERS_0002 = ("articles_fts_ai", "articles_fts_ad", "articles_fts_au")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for trigger in _TRIGGERS_0002:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
        op.execute(SQLITE_CREATE)
        rebuild(bind, sqlite=True)
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute("ALTER TABLE articles ALTER COLUMN search_vector DROP EXPRESSION")  # written by ingest now
        rebuild(bind, sqlite=False)
        op.execute(POSTGRES_INDEX)  # after the bulk fill: one sorted build instead of many updates


def downgrade() -> None:
    # back to 0002's database-tokenised index of titles and summaries
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS articles_fts")
        op.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5(title, summary, content='articles', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 0')"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_ai AFTER INSERT ON articles BEGIN "
            "INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_ad AFTER DELETE ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, title, summary) "
            "VALUES ('delete', old.id, old.title, old.summary); END"
        )
        op.execute(
            "CREATE TRIGGER articles_fts_au AFTER UPDATE OF title, summary ON articles BEGIN "
            "INSERT INTO articles_fts(articles_fts, rowid, title, summary) "
            "VALUES ('delete', old.id, old.title, old.summary); "
            "INSERT INTO articles_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary); END"
        )
        op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_fts")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
        vector = "to_tsvector('simple'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, ''))"
        op.execute(f"ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED")
        op.execute("CREATE INDEX ix_articles_fts ON articles USING GIN (search_vector)")
