"""The database: what was received, the applications and their versions, what was read from each
version, and every message with its delivery state.

SQLite in the home by default (WAL, a busy timeout, so that a nightly run and an intake can share
it); PostgreSQL, or any SQLAlchemy URL, by setting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.util import find_spec
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from blankett.models.errors import BlankettError, SettingWrong


class StoreError(BlankettError):
    """The database cannot be opened or used; one line."""


class DriverMissing(StoreError, SettingWrong):
    """store.url names a database whose Python driver is not installed: nothing works until a
    person installs it."""


# The drivers a plain postgresql:// URL may use, the one `blankett[postgres]` installs first.
# SQLAlchemy alone would pick one by its own version (psycopg2 under 2.0, psycopg under 2.1).
POSTGRES_DRIVERS = ("psycopg", "psycopg2")


def now() -> datetime:
    return datetime.now(UTC)


def without_nul(text: str) -> str:
    return text.replace("\x00", "")


class StoredText(TypeDecorator[str]):
    """The store's text, kept without NUL characters: PostgreSQL's text cannot hold one (a
    fillable PDF may carry one in a field, a damaged file in what its reader said), and a row
    refused for it would leave its file in the inbox for ever. Dropped on every database, so
    that each keeps the same; a NUL shows as nothing wherever text is read."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return without_nul(value) if value is not None else None


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Submission(Base):
    """One file taken from the inbox, readable or not. The same bytes are one submission."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    original_name: Mapped[str] = mapped_column(StoredText)
    received_at: Mapped[datetime]
    size: Mapped[int]
    # archived | failed
    state: Mapped[str] = mapped_column(String(16))
    stored_path: Mapped[str] = mapped_column(StoredText)  # relative to the home
    failure_reason: Mapped[str | None] = mapped_column(StoredText)  # in English, for logs
    # The kind of reason and its values (Unreadable.kind, .values), which models.messages words
    # in Swedish for people; None for a failure recorded before failures had kinds.
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    failure_values: Mapped[dict[str, Any] | None]
    year: Mapped[int]
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[Version | None] = relationship(back_populates="submission")


class Application(Base):
    """One municipality's activity in one grant year; corrected forms are its versions."""

    __tablename__ = "applications"
    __table_args__ = (UniqueConstraint("year", "municipality", "activity_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(index=True)
    municipality: Mapped[str] = mapped_column(String(64))  # "" when it could not be read
    activity_key: Mapped[str] = mapped_column(StoredText)
    title: Mapped[str | None] = mapped_column(StoredText)
    created_at: Mapped[datetime]
    versions: Mapped[list[Version]] = relationship(back_populates="application",
                                                   order_by="Version.number")

    @property
    def latest(self) -> Version:
        return self.versions[-1]


class Version(Base):
    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("application_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    number: Mapped[int]
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    created_at: Mapped[datetime]
    application: Mapped[Application] = relationship(back_populates="versions")
    submission: Mapped[Submission] = relationship(back_populates="version")
    results: Mapped[list[Result]] = relationship(back_populates="version", order_by="Result.id")

    @property
    def result(self) -> Result:
        return self.results[-1]


class Result(Base):
    """What one extractor version read from one version, and the problems found in it."""

    __tablename__ = "results"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    extractor_version: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    fields: Mapped[dict[str, Any]]
    sources: Mapped[dict[str, Any]]
    consultants: Mapped[dict[str, Any]]  # {"to": [...]}
    complete: Mapped[bool] = mapped_column(Boolean)
    # What the reader returned, so that new rules can be applied without reading the file again.
    raw: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    # The rules that checked it (Examiner.fingerprint); None for a result stored before results
    # recorded them. Checked again only under other rules, or when read again.
    rules_fingerprint: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[Version] = relationship(back_populates="results")
    problems: Mapped[list[ProblemRecord]] = relationship(order_by="ProblemRecord.id",
                                                         cascade="all, delete-orphan")


class ProblemRecord(Base):
    __tablename__ = "problems"
    id: Mapped[int] = mapped_column(primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), index=True)
    field: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(StoredText)


# The kinds of message that tell of one application (Message.kind); a summary tells of a year's.
UPDATE = "update"
REPORT_KINDS = ("report", UPDATE)
# To those who had an application's report and are no longer its recipients: it went elsewhere.
MOVED = "moved"


class Message(Base):
    """A report or summary, recorded before it is sent; `key` makes sending it idempotent."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    # report (a version received) | update (its report changed, no new version) | moved (to
    # those who had its report: it goes to others now) | summary | letter
    kind: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[dict[str, Any]]  # {"to": [...]}
    subject: Mapped[str] = mapped_column(StoredText)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    # pending | sent
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(StoredText)
    sent_at: Mapped[datetime | None]
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    # For a summary: what it showed, to tell what changed by the next one.
    snapshot: Mapped[dict[str, Any] | None]


class Meta(Base):
    """Facts about this store itself."""

    __tablename__ = "meta"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(StoredText)


# --- What consultants do: each action with who did it and when (flows/store/actions.py) --------

class _Done:
    """Who did it (a login name, or --by) and when."""

    done_by: Mapped[str] = mapped_column(String(128))
    done_at: Mapped[datetime]


class Correction(_Done, Base):
    """A consultant's value for a field of one version, in place of what was read. The latest
    of a field counts; a new version from the applicant is read without it."""

    __tablename__ = "corrections"
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(StoredText)
    # The field's value before, as the application stood (None: empty).
    before: Mapped[str | None] = mapped_column(StoredText)


class Handling(_Done, Base):
    """An application, or an unreadable file (no application), marked handled or not: the
    latest row counts."""

    __tablename__ = "handlings"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    handled: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(StoredText)


class Decision(_Done, Base):
    """Granted or declined; the latest row counts."""

    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))  # granted | declined
    amount: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(StoredText)
    # Decided against a rule a person may set aside (a second grant to the municipality).
    forced: Mapped[bool] = mapped_column(Boolean)


class Letter(_Done, Base):
    """A letter to the applicant: its draft in outbox/drafts/, and its message once sent."""

    __tablename__ = "letters"
    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    recipient: Mapped[str | None] = mapped_column(StoredText)  # None: the form gave no address
    draft_path: Mapped[str] = mapped_column(StoredText)  # relative to the home
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))


class Store:
    def __init__(self, url: str) -> None:
        """Open the store, its schema upgraded to this code's revision if it is not there
        (flows/store/migrate.py). Raises StoreError, one line."""
        from blankett.flows.store.migrate import MigrationError, upgrade

        engine: Engine | None = None
        try:
            engine = self.engine = _engine(url)
            upgrade(engine)
        except (SQLAlchemyError, MigrationError) as exc:
            if engine is not None:
                engine.dispose()
            first = " ".join(str(exc).splitlines()[0].split()) if str(exc) else type(exc).__name__
            raise StoreError(f"the database {_safe(url)} cannot be opened ({first})") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def instance(self) -> str:
        """A name of this store, made once: messages from two homes (a test home and the real
        one, say) must never share a Message-ID, or a mail system may drop the second."""
        with self.session() as session:
            found = session.get(Meta, "instance")
            if found is not None:
                return found.value
        made = uuid.uuid4().hex[:16]
        try:
            with self.session() as session:
                session.add(Meta(name="instance", value=made))
            return made
        except IntegrityError:
            # Commands opening a new store at once (watch, nightly, status) all found it
            # unnamed; the first to name it wins, and the others take its name.
            pass
        with self.session() as session:
            return session.get_one(Meta, "instance").value

    def submission_by_sha(self, session: Session, sha256: str) -> Submission | None:
        return session.scalar(select(Submission).where(Submission.sha256 == sha256))


def engine_url(url: str) -> URL:
    """The URL as SQLAlchemy is to open it: a plain postgresql:// (or postgres://, as hosting
    services write it) names the PostgreSQL driver that is installed. Raises ArgumentError for
    what is no URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        driver = next((d for d in POSTGRES_DRIVERS if find_spec(d) is not None), POSTGRES_DRIVERS[0])
        parsed = parsed.set(drivername=f"postgresql+{driver}")
    return parsed


def _engine(url: str) -> Engine:
    """Raises DriverMissing, or SQLAlchemyError for a URL it cannot use."""
    parsed = engine_url(url)
    try:
        return _create_engine(parsed)
    except ImportError as exc:
        if parsed.get_backend_name() == "postgresql":
            raise DriverMissing(f"store.url names a PostgreSQL database, and its Python driver is not "
                                f"installed ({exc}): pip install 'blankett[postgres]'") from None
        raise DriverMissing(f"store.url names a database whose Python driver is not installed "
                            f"({exc}): install it into blankett's Python environment") from None


def _create_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            # WAL lets a reader (status, nightly) run while intake writes; the busy timeout
            # makes a second writer wait instead of failing with "database is locked".
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def store_problem(exc: SQLAlchemyError) -> str:
    """What the database said, in one line: "database or disk is full", not the statement and
    its parameters (a message's whole text, say) that SQLAlchemy adds."""
    said = str(getattr(exc, "orig", None) or exc).strip()
    return " ".join(said.splitlines()[0].split()) if said else type(exc).__name__


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown without anything before '@'
        return url.split("@")[-1]
