"""A blankett home: its folders and its settings file, `blankett.toml`."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from blankett.models.errors import BlankettError

SETTINGS_FILE = "blankett.toml"
DEFAULT_HOME = "blankett-data"


class SettingsError(BlankettError):
    """A settings file or home that cannot be used; the message is one line."""


# What `serve` hands Prefect must be a schedule it accepts; checked here, where settings are
# read, so that a wrong one is one line for every command and not a traceback from `serve`.
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of the month", 1, 31, ()),
                ("month", 1, 12, _MONTHS), ("weekday", 0, 7, _DAYS))
_CRON_PART = re.compile(r"(\*|(\w+)(?:-(\w+))?)(?:/([0-9]+))?")
_CRON_SPECIAL = re.compile(r"\?|l|(\d|[a-z]{3})#[1-5]")


def _cron_field_ok(field: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    def number(text: str) -> int | None:
        if text.isascii() and text.isdecimal():
            return int(text)
        if text in names:  # jan = 1, sun = 0
            return names.index(text) + (1 if names is _MONTHS else 0)
        return None

    for part in field.split(","):
        if _CRON_SPECIAL.fullmatch(part):
            continue  # any (?), the last day of the month (L), the nth weekday (mon#1)
        match = _CRON_PART.fullmatch(part)
        if match is None or (match[4] is not None and int(match[4]) == 0):
            return False
        # A range may wrap round (sat-sun, 22-2), as Prefect's scheduler allows.
        bounds = [number(t) for t in (match[2], match[3]) if t is not None]
        if any(b is None or not low <= b <= high for b in bounds):
            return False
    return True


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GrantSettings(_Section):
    year: int | None = Field(default=None, ge=2000, le=2100)


class InboxSettings(_Section):
    path: str = "inbox"
    stable_seconds: float = Field(default=2.0, ge=0)
    scan_interval_seconds: float = Field(default=30.0, gt=0)
    unfinished_grace_seconds: float = Field(default=60.0, ge=0)


class StoreSettings(_Section):
    url: str = ""


class RoutingSettings(_Section):
    file: str = ""
    spec_file: str = ""


class SmtpSettings(_Section):
    host: str = ""
    port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    ssl: bool = False
    user: str = ""
    password_env: str = "BLANKETT_SMTP_PASSWORD"
    sender: str = "blankett@localhost"
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> SmtpSettings:
        if self.ssl and self.starttls:
            raise ValueError("choose ssl = true (TLS from the start, port 465) or starttls = true "
                             "(upgrade a plain connection, port 587), not both")
        return self


class ScheduleSettings(_Section):
    nightly_cron: str = "0 2 * * *"
    timezone: str = "Europe/Stockholm"
    intake_interval_seconds: int = Field(default=60, gt=0)

    @field_validator("nightly_cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"{value!r} is not a cron expression of five fields "
                             "(minute hour day month weekday), e.g. \"0 2 * * *\"")
        for field, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
            if not _cron_field_ok(field.lower(), low, high, names):
                raise ValueError(f"{value!r}: {field!r} is not a valid {name} ({low}–{high}, "
                                 "or *, a range, a list, a step), e.g. \"0 2 * * *\"")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, e.g. \"Europe/Stockholm\"") from None
        return value


class LimitSettings(_Section):
    max_file_mb: int = Field(default=50, gt=0)
    max_pages: int = Field(default=200, gt=0)
    read_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
    read_memory_mb: int = Field(default=1024, gt=64)


class OcrSettings(_Section):
    enabled: bool = True
    page_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    max_pages: int = Field(default=30, gt=0)


class Settings(_Section):
    grant: GrantSettings = GrantSettings()
    inbox: InboxSettings = InboxSettings()
    store: StoreSettings = StoreSettings()
    routing: RoutingSettings = RoutingSettings()
    smtp: SmtpSettings = SmtpSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    limits: LimitSettings = LimitSettings()
    ocr: OcrSettings = OcrSettings()


class Home:
    """The folders of one blankett installation and its settings."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings

    @property
    def inbox(self) -> Path:
        return self._path(self.settings.inbox.path)

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def prefect_home(self) -> Path:
        return self.root / ".prefect"

    @property
    def database_url(self) -> str:
        return self.settings.store.url or f"sqlite:///{self.root / 'blankett.db'}"

    def year(self, today: date) -> int:
        return self.settings.grant.year or today.year

    def optional_path(self, value: str) -> Path | None:
        return self._path(value) if value else None

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path


def load_home(root: Path) -> Home:
    """Open an existing home; every problem is one line naming what to do."""
    root = root.expanduser()
    settings_path = root / SETTINGS_FILE
    if not root.is_dir():
        raise SettingsError(f"{root}: no blankett home here; create one with `blankett init {root}`")
    if not settings_path.is_file():
        raise SettingsError(f"{settings_path}: missing; create it with `blankett init {root}`")
    try:
        data = tomllib.loads(settings_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{settings_path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{settings_path}: not valid TOML ({exc})") from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        what = "unknown setting" if err["type"] == "extra_forbidden" else \
            err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{settings_path}: {where}: {what}") from None
    home = Home(root.resolve(), settings)
    for folder in (home.inbox, home.archive, home.failed, home.outbox):
        if not folder.is_dir():
            raise SettingsError(f"{folder}: missing folder; run `blankett init {root}` to create it")
    return home


SETTINGS_TEMPLATE = """\
# blankett's settings for this home. Paths are relative to this folder.
# Every setting is optional: delete a line to get its default back.

[grant]
# The grant year whose applications are checked and summarised (default: this year).
# year = 2026

[inbox]
# Where staff drop received forms.
path = "inbox"
# A file is taken once its size and time have not changed for this long (seconds).
stable_seconds = 2.0
# While watching, the whole inbox is also scanned this often, since shared network
# drives send no change events.
scan_interval_seconds = 30
# A damaged or empty file is left alone this long after its last change, in case its copy
# only paused; after that it is filed in failed/ as unreadable.
unfinished_grace_seconds = 60

[store]
# A SQLAlchemy database URL, e.g. "postgresql+psycopg://user@host/blankett".
# Empty: the SQLite file blankett.db in this home.
url = ""

[routing]
# Your own routing table (area -> consultants) and form specification, as TOML files.
# Empty: the ones shipped with blankett (see models/routing.toml and models/form.toml).
file = ""
spec_file = ""

[smtp]
# Empty host: each message is written as an .eml file into outbox/<recipient>/.
host = ""
port = 587
starttls = true
ssl = false
user = ""
# The password is read from this environment variable, never from this file.
password_env = "BLANKETT_SMTP_PASSWORD"
sender = "blankett@localhost"
timeout_seconds = 30

[schedule]
# `blankett serve`: the nightly run (cron, in this time zone) and the intake interval.
nightly_cron = "0 2 * * *"
timezone = "Europe/Stockholm"
intake_interval_seconds = 60

[limits]
# Files larger than this, or PDFs with more pages, are refused into failed/.
max_file_mb = 50
max_pages = 200
# Each file is read in a worker process that may take this long and this much memory;
# a file that needs more is refused into failed/, and the run goes on.
read_seconds = 60
read_memory_mb = 1024

[ocr]
# Scans and photos of forms are read by OCR where Tesseract and its Swedish model are
# installed (sudo apt-get install tesseract-ocr tesseract-ocr-swe), each page in at most
# page_seconds; longer scans, and all scans with enabled = false, go to a person unread.
enabled = true
page_seconds = 30
max_pages = 30
"""


def init_home(root: Path) -> tuple[Home, list[str]]:
    """Create the folders and a commented settings file; keep whatever is there already."""
    root = root.expanduser()
    created: list[str] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        settings_path = root / SETTINGS_FILE
        if not settings_path.exists():
            settings_path.write_text(SETTINGS_TEMPLATE, encoding="utf-8")
            created.append(str(settings_path))
        home = load_home_folders_only(root)
        for folder in (home.inbox, home.archive, home.failed, home.outbox):
            if not folder.is_dir():
                folder.mkdir(parents=True)
                created.append(str(folder) + "/")
    except OSError as exc:
        raise SettingsError(f"{root}: cannot create the home ({exc.strerror or exc})") from None
    return load_home(root), created


def load_home_folders_only(root: Path) -> Home:
    """The home's layout from its settings, before its folders exist."""
    try:
        data = tomllib.loads((root / SETTINGS_FILE).read_text(encoding="utf-8"))
        return Home(root.resolve(), Settings.model_validate(data))
    except (tomllib.TOMLDecodeError, ValidationError, OSError):
        return Home(root.resolve(), Settings())
