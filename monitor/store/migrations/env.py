"""Alembic environment: runs on the connection handed over by monitor.store.migrate."""

from alembic import context

from monitor.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # `alembic` CLI use by a developer: open the configured URL
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("alembic: set sqlalchemy.url to the database to migrate")
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
