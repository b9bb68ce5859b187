"""Bringing a store's schema to the revision this code reads and writes, when it is opened.

The schema's revisions are Alembic migrations, shipped in the package (migrations/versions/).
Every command opens the store, so the usual case costs one read and no Alembic: the revision the
store records is the one this code knows as its last (SCHEMA_REVISION). Otherwise, under the
store's write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), in one transaction:
a new store gets every revision; a store made before there were migrations (its tables made by
create_all, no alembic_version table) is stamped with the first revision, which is its schema,
and upgraded from there. Commands opening a new or old store at once take turns: the first
upgrades it, the others find it upgraded.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import Engine

from blankett.models.errors import BlankettError

log = logging.getLogger("blankett.store")

# The last revision in migrations/versions/, the one this code reads and writes (a test checks
# that they agree). A revision added there is named here too.
SCHEMA_REVISION = "0004"
# Every revision, oldest first: a store at one this code does not know was upgraded by a newer
# blankett.
REVISIONS = ("0001", "0002", "0003", "0004")
# The revision whose schema create_all made, before there were migrations.
FIRST_REVISION = "0001"
# The tables create_all made then: a store holding them and no alembic_version table is one of
# those. `meta` came a little later; a store made before it gets it as create_all gave it.
_OLD_TABLES = frozenset({"submissions", "applications", "versions", "results", "problems",
                         "messages"})
_LATER_TABLES = frozenset({"meta"})
_VERSION_TABLE = "alembic_version"
# PostgreSQL's advisory lock for upgrades: one number for "blankett's schema".
_PG_LOCK = 0x626C616E6B657474 & 0x7FFFFFFFFFFFFFFF


class MigrationError(BlankettError):
    """The store's schema cannot be brought to this code's revision; one line."""


def upgrade(engine: Engine) -> None:
    """Bring the store to SCHEMA_REVISION, doing nothing (but one read) when it is there."""
    with engine.connect() as connection:
        if _revision(connection) == SCHEMA_REVISION:
            return
    with engine.connect() as connection:
        _lock(connection)
        revision = _revision(connection)  # again, now that nobody else can be upgrading it
        if revision == SCHEMA_REVISION:
            connection.commit()
            return
        if revision is not None and revision not in REVISIONS:
            raise MigrationError(f"its schema is at revision {revision}, which this blankett does "
                                 f"not know (it knows up to {SCHEMA_REVISION}): it was upgraded by "
                                 "a newer blankett; use that one")
        if revision is None:
            revision = _adopt(connection)
        if revision != SCHEMA_REVISION:
            _alembic(connection, "upgrade")
            log.info("the store's schema was upgraded from %s to %s", revision or "nothing",
                     SCHEMA_REVISION)
        connection.commit()


def _revision(connection: Connection) -> str | None:
    """The revision the store records; None when it records none."""
    if not inspect(connection).has_table(_VERSION_TABLE):
        return None
    return connection.scalar(text(f"SELECT version_num FROM {_VERSION_TABLE}"))


def _lock(connection: Connection) -> None:
    """Begin the upgrade's transaction, holding what keeps another process from upgrading too."""
    if connection.dialect.name == "sqlite":
        # The check and the upgrade share one write transaction: a second command opening the
        # store waits for it (busy timeout), then finds the store upgraded.
        connection.rollback()
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})


def _adopt(connection: Connection) -> str | None:
    """A store whose tables create_all made is stamped with the revision of their schema, which
    is returned; one without any of blankett's tables is left to the first revision (None)."""
    tables = set(inspect(connection).get_table_names())
    if not tables & (_OLD_TABLES | _LATER_TABLES):
        return None
    if missing := sorted(_OLD_TABLES - tables):
        raise MigrationError(f"it holds some of blankett's tables but not {', '.join(missing)}: "
                             "it was not made by blankett, or was damaged")
    if "meta" not in tables:
        from blankett.flows.store.database import Meta

        Meta.__table__.create(connection)  # as create_all made it for the first stores
    _alembic(connection, "stamp", FIRST_REVISION)
    log.info("the store was made before its schema had revisions: stamped %s", FIRST_REVISION)
    return FIRST_REVISION


def _alembic(connection: Connection, what: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.util import CommandError

    config = Config()
    config.set_main_option("script_location", str(migrations()))
    config.attributes["connection"] = connection
    try:
        getattr(command, what)(config, revision)
    except CommandError as exc:  # its migrations missing or broken: an installation's fault
        raise MigrationError(f"its schema cannot be upgraded ({exc})") from None


def migrations() -> Path:
    """The folder of env.py and versions/, inside the installed package."""
    return Path(str(resources.files("blankett.flows.store") / "migrations"))
