"""Alembic's environment for the store. Opening a store runs it on the store's own connection,
inside the transaction that holds the store's write lock (flows/store/migrate.py); from the
command line, for a developer writing a revision, on the database named by `-x url=...` (see
pyproject.toml's [tool.alembic]), or as SQL with `--sql`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import URL

from blankett.flows.store.database import Base, engine_url

config = context.config
# Stores made before there were migrations have unnamed constraints: new revisions that alter a
# SQLite table do it by copying it (Alembic's batch mode).
options = {"target_metadata": Base.metadata, "compare_type": True}


def _url() -> URL:
    url = context.get_x_argument(as_dictionary=True).get("url") or \
        config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("name the database: alembic -x url=sqlite:///path/to/blankett.db ...")
    return engine_url(url)


if context.is_offline_mode():
    context.configure(url=_url(), literal_binds=True, **options)
    with context.begin_transaction():
        context.run_migrations()
elif (connection := config.attributes.get("connection")) is not None:
    context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite",
                      **options)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(_url())
    with engine.connect() as connection:
        context.configure(connection=connection,
                          render_as_batch=connection.dialect.name == "sqlite", **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
