"""The store's schema by Alembic migrations: a new store gets every revision, the schema they
make is the one the models declare, a store made before there were migrations (by create_all)
is stamped and upgraded with its rows intact, opening a store at the last revision costs one
read, and what cannot be upgraded is said in one line.

With BLANKETT_TEST_POSTGRES set to a PostgreSQL URL whose user may create databases (e.g.
postgresql://postgres@127.0.0.1:5432/postgres; .ci/postgres starts such a server), the same on
PostgreSQL, each test in a database of its own (the `store_url` fixture, tests/conftest.py)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pipeline_support import CONSULTANTS, Recording, by_name, drop, intake_pass, make_home
from sqlalchemy import create_engine, event, inspect, text, update
from sqlalchemy.engine import Engine

from blankett.fixtures.corpus import Case
from blankett.flows.home.settings import load_home
from blankett.flows.mail.messaging import queue_summaries
from blankett.flows.pipeline.examine import Examiner
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store import migrate
from blankett.flows.store.database import Application, Base, Meta, Result, Store, StoreError, engine_url

OLD_STORE = Path(__file__).parent / "data" / "store_made_by_create_all.sql"


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(migrate.migrations()))
    return ScriptDirectory.from_config(config)


def _old_store(path: Path) -> str:
    """A store made the old way: by create_all, before migrations, by the code of then (its
    rows: two forms, one corrected, an empty file, their reports and a day's summaries)."""
    connection = sqlite3.connect(path)
    connection.executescript(OLD_STORE.read_text(encoding="utf-8"))
    connection.close()
    return f"sqlite:///{path}"


def _revision(url: str) -> str | None:
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return None
            return connection.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        engine.dispose()


@pytest.fixture
def empty_url(store_url: str, tmp_path: Path) -> str:
    """A database without tables: a SQLite file, or a new PostgreSQL database."""
    return store_url or f"sqlite:///{tmp_path / 'blankett.db'}"


# --- the revisions --------------------------------------------------------------------------

def test_the_code_names_the_last_revision_and_every_one() -> None:
    script = _script()
    assert script.get_current_head() == migrate.SCHEMA_REVISION
    oldest_first = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert tuple(oldest_first) == migrate.REVISIONS
    assert oldest_first[0] == migrate.FIRST_REVISION


def test_the_migrations_ship_in_the_package() -> None:
    folder = migrate.migrations()
    assert (folder / "env.py").is_file() and (folder / "script.py.mako").is_file()
    assert {p.name[:4] for p in (folder / "versions").glob("0*.py")} == set(migrate.REVISIONS)


def test_the_first_revision_is_the_schema_create_all_made(tmp_path: Path) -> None:
    old = sqlite3.connect(Path(_old_store(tmp_path / "old.db").removeprefix("sqlite:///")))
    engine = create_engine(f"sqlite:///{tmp_path / 'first.db'}")
    with engine.begin() as connection:
        migrate._alembic(connection, "upgrade", migrate.FIRST_REVISION)
    engine.dispose()
    first = sqlite3.connect(tmp_path / "first.db")
    query = "SELECT type, name, sql FROM sqlite_master WHERE tbl_name != 'alembic_version'"
    assert sorted(first.execute(query)) == sorted(old.execute(query))


def test_a_new_store_gets_the_schema_the_models_declare(empty_url: str) -> None:
    Store(empty_url).close()
    assert _revision(empty_url) == migrate.SCHEMA_REVISION
    engine = create_engine(engine_url(empty_url))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


# --- a store made before there were migrations ----------------------------------------------

def test_a_store_made_by_create_all_is_stamped_upgraded_and_used(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    url = _old_store(home.root / "blankett.db")
    assert _revision(url) is None
    store = Store(url)
    try:
        assert _revision(url) == migrate.SCHEMA_REVISION
        with store.session() as session:
            assert session.get(Meta, "instance").value == "8b9a082b98ff43e0"  # kept
            [goteborg, alingsas] = session.query(Application).order_by(Application.id).all()
            assert (goteborg.municipality, len(goteborg.versions)) == ("Göteborg", 1)
            assert (alingsas.municipality, len(alingsas.versions)) == ("Alingsås", 2)
            assert {r.rules_fingerprint for r in session.query(Result)} == {None}
    finally:
        store.close()

    pipeline = open_pipeline(home)
    try:
        # Its results checked again once, under the rules in force: nothing changed.
        assert revalidate_all(pipeline).__dict__ == {"checked": 2, "changed": 0, "reread": 0}
        with pipeline.store.session() as session:
            latest = [a.latest.result for a in session.query(Application)]
            assert {r.rules_fingerprint for r in latest} == {pipeline.examiner.fingerprint}
        # Its summaries go on from yesterday's: nothing new.
        assert queue_summaries(pipeline, "2026-11-25", datetime.now(UTC)).queued > 0
        with pipeline.store.session() as session:
            summaries = session.execute(text(
                "SELECT raw FROM messages WHERE key LIKE 'summary:2026-11-25:%'")).scalars().all()
        assert summaries and all(b"Inget nytt." in raw for raw in summaries)
    finally:
        pipeline.close()


def test_a_store_made_before_it_had_the_meta_table_gets_it(tmp_path: Path) -> None:
    url = _old_store(tmp_path / "blankett.db")
    with sqlite3.connect(tmp_path / "blankett.db") as connection:
        connection.execute("DROP TABLE meta")
    store = Store(url)
    try:
        assert _revision(url) == migrate.SCHEMA_REVISION
        assert len(store.instance()) == 16
    finally:
        store.close()


def test_commands_opening_an_old_store_together_all_open_it(tmp_path: Path) -> None:
    url = _old_store(tmp_path / "blankett.db")
    opening = [subprocess.Popen([sys.executable, "-c", "import sys\n"
                                 "from blankett.flows.store.database import Store\n"
                                 "Store(sys.argv[1]).close()", url],
                                stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for process in opening:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    assert _revision(url) == migrate.SCHEMA_REVISION


def test_a_store_made_as_create_all_made_it_is_stamped_on_each_database(empty_url: str) -> None:
    engine = create_engine(engine_url(empty_url))
    with engine.begin() as connection:  # the first revision's schema is create_all's (above)
        migrate._alembic(connection, "upgrade", migrate.FIRST_REVISION)
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    Store(empty_url).close()
    assert _revision(empty_url) == migrate.SCHEMA_REVISION
    engine = create_engine(engine_url(empty_url))
    try:
        with engine.connect() as connection:
            assert "rules_fingerprint" in {c["name"] for c in inspect(connection).get_columns("results")}
    finally:
        engine.dispose()


def test_commands_opening_a_new_store_together_all_open_it(empty_url: str) -> None:
    # Each as a command opens it (flows/pipeline/resources.py): its schema, then its name. As
    # when `watch`, `nightly`, `serve`'s runs and a person's `status` start at once on a new home.
    opening = [subprocess.Popen([sys.executable, "-c", "import sys\n"
                                 "from blankett.flows.store.database import Store\n"
                                 "store = Store(sys.argv[1])\n"
                                 "print(store.instance())\n"
                                 "store.close()", empty_url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(6)]
    names = set()
    for process in opening:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
        names.add(stdout.strip())
    assert _revision(empty_url) == migrate.SCHEMA_REVISION
    assert len(names) == 1


def test_commands_finding_a_new_store_unnamed_at_once_take_one_name(empty_url: str) -> None:
    """As `watch` and `nightly` started together on a new store: each finds it without a name,
    the other names it first; the one that comes second takes that name."""
    first, second = Store(empty_url), Store(empty_url)
    named: list[str] = []

    def meanwhile(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM meta" in statement and not named:
            named.append(second.instance())

    event.listen(first.engine, "after_cursor_execute", meanwhile)
    try:
        assert first.instance() == named[0]
        assert second.instance() == named[0] and len(named[0]) == 16
    finally:
        first.close()
        second.close()


def test_the_nightly_steps_on_each_database(empty_url: str, corpus: list[Case], tmp_path: Path
                                            ) -> None:
    home = make_home(tmp_path / "home", empty_summaries=True)
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8") + f'\n[store]\nurl = "{empty_url}"\n',
                        encoding="utf-8")
    home = load_home(home.root)
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "docx_alingsas_v1.docx",
                       "docx_alingsas_v2_rattad.docx", "ansokan_tom.docx"))
    pipeline = open_pipeline(home, delivery=Recording())
    try:
        examiner = pipeline.examiner
        pipeline.examiner = Examiner(examiner.spec, examiner.routing, examiner.year,
                                     examiner.limits.model_copy(update={"read_seconds": None}))
        intake_pass(pipeline)
        assert revalidate_all(pipeline).__dict__ == {"checked": 2, "changed": 0, "reread": 0}
        with pipeline.store.session() as session:
            session.execute(update(Result).values(rules_fingerprint=None))
        assert revalidate_all(pipeline).__dict__ == {"checked": 2, "changed": 0, "reread": 0}
        queued = queue_summaries(pipeline, "2026-11-25", datetime.now(UTC)).queued
        assert queued == len(set(CONSULTANTS))
    finally:
        pipeline.close()


# --- opening ----------------------------------------------------------------------------------

def _statements(url: str) -> list[str]:
    """What opening the store sends it, after the connection's own set-up."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        Store(url).close()
    finally:
        event.remove(Engine, "before_cursor_execute", note)
    return seen


def test_opening_a_store_at_the_last_revision_is_one_read(empty_url: str) -> None:
    Store(empty_url).close()
    said = _statements(empty_url)
    assert len(said) <= 2, said  # is there a version table; what it holds
    assert not any(s.lstrip().upper().startswith(("CREATE", "ALTER", "INSERT", "UPDATE"))
                   for s in said)


def test_a_store_of_a_newer_blankett_is_refused_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'blankett.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "blankett.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StoreError) as raised:
        Store(url)
    assert "\n" not in str(raised.value)
    assert "9999" in str(raised.value) and "newer blankett" in str(raised.value)


def test_a_database_with_only_some_of_the_tables_is_refused_in_one_line(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "blankett.db") as connection:
        connection.execute("CREATE TABLE applications (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError) as raised:
        Store(f"sqlite:///{tmp_path / 'blankett.db'}")
    said = str(raised.value)
    assert "\n" not in said and "some of blankett's tables but not messages" in said, said
