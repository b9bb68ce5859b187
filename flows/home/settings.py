"""A blankett home: its folders and its settings file, `blankett.toml`.

Each setting is declared once, below (type, default, bounds, help); the file `blankett init`
writes and the README's table are made from the declarations:

    python -m blankett.flows.home.settings --markdown   # the README's table
    python -m blankett.flows.home.settings --file       # the file init writes
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import tomllib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from blankett.models.errors import BlankettError
from blankett.models.limits import LimitSettings, OcrSettings
from blankett.models.setting import Section, example, setting, shown

SETTINGS_FILE = "blankett.toml"
DEFAULT_HOME = "blankett-data"


class SettingsError(BlankettError):
    """A settings file or home that cannot be used; the message is one line."""


class InboxMissing(SettingsError):
    """An inbox outside the home (a shared drive) that is not there: more likely a share not
    mounted than a folder to create, so `init` makes it only when asked."""


class GrantSettings(Section):
    year: int | None = setting(None, "The grant year whose applications are checked and summarised.",
                               shown="this year", example=2026, ge=2000, le=2100)


class InboxSettings(Section):
    path: str = setting("inbox", "Where staff drop received forms: relative to the home, or "
                                 "absolute (a shared drive).")
    stable_seconds: float = setting(2.0, "A file is taken once its size and time have not changed "
                                         "for this many seconds.", ge=0)
    scan_interval_seconds: float = setting(30.0, "While watching, the whole inbox is also scanned "
                                                 "this often (seconds), since shared network drives "
                                                 "send no change events.", gt=0)
    unfinished_grace_seconds: float = setting(
        60.0, "A file that reads as damaged or empty and changed less than this many seconds ago is "
              "left in the inbox, in case its copy only paused; after that it goes to `failed/`.",
        ge=0)


class StoreSettings(Section):
    url: SecretStr = setting(SecretStr(""), "A SQLAlchemy database URL, e.g. "
                             "`postgresql://user@host/blankett` for PostgreSQL (install its driver "
                             "first: `pip install 'blankett[postgres]'`); empty, "
                             "the SQLite file `blankett.db` in the home. Its schema is brought up "
                             "to date when a command opens it (a store made by an older blankett "
                             "is upgraded in place).",
                             shown="SQLite `blankett.db` in the home")


class RoutingSettings(Section):
    file: str = setting("", "Your own routing table (areas and their consultants), a TOML file; "
                            "empty, the shipped `models/routing.toml`.", shown="the shipped one")
    spec_file: str = setting("", "Your own form specification, a TOML file; empty, the shipped "
                                 "`models/form.toml`.", shown="the shipped one")


class SmtpSettings(Section):
    """How reports leave. The password is never in blankett.toml: it is read from the environment
    variable `password_env` names."""

    host: str = setting("", "The SMTP server; empty, every message is written as an `.eml` file "
                            "into `outbox/<recipient>/`.", shown="none: messages go to `outbox/`")
    port: int = setting(587, "The server's port.", gt=0, lt=65536)
    starttls: bool = setting(True, "Upgrade a plain connection to TLS (port 587).")
    ssl: bool = setting(False, "TLS from the start (port 465); not together with `starttls`.")
    user: str = setting("", "The user name to log in as; empty, no login.", shown="none")
    password_env: str = setting("BLANKETT_SMTP_PASSWORD", "The environment variable holding that "
                                                          "login's password.")
    sender: str = setting("blankett@localhost", "The From address.")
    timeout_seconds: float = setting(30.0, "How long to wait for the server, in seconds.", gt=0)
    # Not a setting of the file: taken from the variable `password_env` names (see _Environment).
    password: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> SmtpSettings:
        if self.ssl and self.starttls:
            raise ValueError("choose ssl = true (TLS from the start, port 465) or starttls = true "
                             "(upgrade a plain connection, port 587), not both")
        return self


class ScheduleSettings(Section):
    """`blankett serve`'s schedules."""

    nightly_cron: str = setting("0 2 * * *", "When the nightly run starts: a cron schedule (minute "
                                             "hour day month weekday) in `timezone`.")
    timezone: str = setting("Europe/Stockholm", "The time zone of `nightly_cron`.")
    intake_interval_seconds: int = setting(60, "How often intake runs, in seconds.", gt=0)

    @field_validator("nightly_cron")
    @classmethod
    def _prefect_accepts(cls, value: str) -> str:
        # What `serve` hands Prefect must be a schedule it accepts; checked here, where settings
        # are read, so that a wrong one is one line for every command and not a traceback from
        # `serve`. Prefect's own check (CronSchedule) is croniter's, less random and hashed
        # fields (R, H); its croniter also lacks the nearest weekday (15W). Importing Prefect
        # for it would cost `status` and `init` 1.5 s, croniter alone 20 ms.
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(f"{value!r} is not a cron expression of five fields "
                             "(minute hour day month weekday), e.g. \"0 2 * * *\"")
        if not croniter.is_valid(value) or "w" in fields[2].casefold() or \
                any(field.casefold() in ("r", "h") for field in fields):
            raise ValueError(f"{value!r} is not a schedule Prefect accepts (each field a number in "
                             "its range, *, a range, a list or a step), e.g. \"0 2 * * *\"")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone, e.g. \"Europe/Stockholm\"") from None
        return value


class SummarySettings(Section):
    """The triage summary `nightly` sends each consultant once a day."""

    send_empty: bool = setting(False, "Send a consultant the day's summary also when none of the "
                                      "grant year's applications is theirs (\"inga ansökningar\"); "
                                      "false, such a day sends them none.")


class LetterSettings(Section):
    """Letters to applicants about what their application lacks (`blankett letter`)."""

    send: bool = setting(False, "Send each letter to the applicant at once (by `[smtp]`, or into "
                                "`outbox/<address>/`), with a copy to the consultant; false, it "
                                "is only written as a draft into `outbox/drafts/` for the "
                                "consultant to check and send.")


_reading: ContextVar[tuple[Path, Mapping[str, str]] | None] = ContextVar("_reading", default=None)


class Settings(BaseSettings):
    """Everything in `blankett.toml`, over the defaults, and the secret it names in the
    environment. `Settings()` is the defaults; `read_settings` reads a home's."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, case_sensitive=True)

    grant: GrantSettings = GrantSettings()
    inbox: InboxSettings = InboxSettings()
    store: StoreSettings = StoreSettings()
    routing: RoutingSettings = RoutingSettings()
    smtp: SmtpSettings = SmtpSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    summary: SummarySettings = SummarySettings()
    limits: LimitSettings = LimitSettings()
    ocr: OcrSettings = OcrSettings()
    letters: LetterSettings = LetterSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   **_default_sources: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No setting comes from the environment by its name; only the one secret below. The
        # file is a home's, so it is handed over per read (pydantic-settings takes sources per
        # class: its issue #259).
        reading = _reading.get()
        if reading is None:
            return (init_settings,)
        path, variables = reading
        file = _File(settings_cls, path)
        return (init_settings, file, _Environment(settings_cls, file.toml_data, variables))


class _File(TomlConfigSettingsSource):
    def __call__(self) -> dict[str, Any]:
        smtp = self.toml_data.get("smtp")
        if isinstance(smtp, dict) and "password" in smtp:
            raise SettingsError(f"{self.toml_file_path}: smtp.password: never put in this file; "
                                "set the environment variable named by smtp.password_env")
        return super().__call__()


class _Environment(PydanticBaseSettingsSource):
    """smtp.password, from the variable smtp.password_env names (BLANKETT_SMTP_PASSWORD)."""

    def __init__(self, settings_cls: type[BaseSettings], file: dict[str, Any],
                 variables: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        smtp = file.get("smtp")
        name = smtp.get("password_env") if isinstance(smtp, dict) else None
        self.password = variables.get(name if isinstance(name, str) else
                                      SmtpSettings.model_fields["password_env"].default)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ gives the one value

    def __call__(self) -> dict[str, Any]:
        return {"smtp": {"password": self.password}} if self.password else {}


def read_settings(path: Path, variables: Mapping[str, str] | None = None) -> Settings:
    """A home's settings file over the defaults; the secret from `variables` (default: the
    environment). Every problem is one line naming the file and the setting."""
    token = _reading.set((path, os.environ if variables is None else variables))
    try:
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        what = "unknown setting" if err["type"] == "extra_forbidden" else \
            err["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{path}: {where}: {what}") from None
    finally:
        _reading.reset(token)


class Home:
    """The folders of one blankett installation and its settings."""

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings

    @property
    def inbox(self) -> Path:
        return self._path(self.settings.inbox.path)

    @property
    def inbox_outside(self) -> bool:
        """The inbox is elsewhere than in the home: on a shared drive, say."""
        return not self.inbox.is_relative_to(self.root)

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
        return self.settings.store.url.get_secret_value() or f"sqlite:///{self.root / 'blankett.db'}"

    def year(self, today: date) -> int:
        return self.settings.grant.year or today.year

    def optional_path(self, value: str) -> Path | None:
        return self._path(value) if value else None

    def _path(self, value: str) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path


def load_home(root: Path, variables: Mapping[str, str] | None = None, *,
              inbox_needed: bool = True) -> Home:
    """Open an existing home; every problem is one line naming what to do. The SMTP password is
    taken from `variables` (default: the environment). Without `inbox_needed` (the commands that
    only read the store, or say what is wrong) a shared-drive inbox not mounted is no obstacle:
    `inbox_missing` says it where it matters."""
    root = root.expanduser()
    settings_path = root / SETTINGS_FILE
    if not root.is_dir():
        raise SettingsError(f"{root}: no blankett home here; create one with `blankett init {root}`")
    if not settings_path.is_file():
        raise SettingsError(f"{settings_path}: missing; create it with `blankett init {root}`")
    home = Home(root.resolve(), read_settings(settings_path, variables))
    inbox = home.inbox.resolve()
    # Every file in the inbox is taken as a form and moved away: an inbox that is the home, holds
    # it or shares a folder with what blankett files would take its settings and store with it.
    for folder in (home.root, home.archive, home.failed, home.outbox):
        if folder.is_relative_to(inbox) or (folder != home.root and inbox.is_relative_to(folder)):
            where = "the home" if folder == home.root else f"{folder.name}/"
            raise SettingsError(f"{settings_path}: inbox.path = {home.settings.inbox.path!r} is "
                                f"{where} or shares it; name a folder of its own, e.g. \"inbox\"")
    if inbox_needed and (missing := inbox_missing(home)) is not None:
        raise missing
    for folder in (home.inbox, home.archive, home.failed, home.outbox):
        if not folder.is_dir() and (inbox_needed or folder != home.inbox or not home.inbox_outside):
            raise SettingsError(f"{folder}: missing folder; run `blankett init {root}` to create it")
    return home


def inbox_missing(home: Home) -> InboxMissing | None:
    """An inbox outside the home that is not there, said as what to check."""
    if home.inbox_outside and not home.inbox.is_dir():
        return InboxMissing(f"{home.inbox}: the inbox is missing (inbox.path in "
                            f"{home.root / SETTINGS_FILE}); check that the shared drive is "
                            "mounted, or correct the setting")
    return None


def init_home(root: Path, create_inbox: bool = False) -> list[str]:
    """Create the folders and a commented settings file; keep whatever is there already; what was
    created, each folder ending in "/". An inbox
    outside the home is made only when `create_inbox`: missing, it is more likely a share not
    mounted, and a folder made in its place would take the forms meant for the share. Whether
    the home can then be used is for `load_home` to say."""
    root = root.expanduser()
    created: list[str] = []
    try:
        root.mkdir(parents=True, exist_ok=True)
        settings_path = root / SETTINGS_FILE
        if not settings_path.exists():
            settings_path.write_text(settings_file(), encoding="utf-8")
            created.append(str(settings_path))
        try:  # the folders the file names; a broken file is told by load_home
            settings = read_settings(settings_path, {})
        except SettingsError:
            settings = Settings()
        home = Home(root.resolve(), settings)
        for folder in (home.inbox, home.archive, home.failed, home.outbox):
            if folder == home.inbox and home.inbox_outside and not create_inbox:
                continue
            if not folder.is_dir():
                folder.mkdir(parents=True)
                created.append(str(folder) + "/")
    except OSError as exc:
        raise SettingsError(f"{root}: cannot create the home ({exc.strerror or exc})") from None
    return created


# --- Made from the declarations --------------------------------------------------------------

def declared() -> Iterator[tuple[str, type[Section], str, FieldInfo]]:
    """Every setting of the file: its table, the table's model, its name and its field."""
    for table, section in Settings.model_fields.items():
        model = section.annotation
        assert isinstance(model, type) and issubclass(model, Section)
        for name, field in model.model_fields.items():
            if not field.exclude:
                yield table, model, name, field


def settings_file() -> str:
    """The commented `blankett.toml` that `blankett init` writes: every setting at its default."""
    lines = ["# blankett's settings for this home. Paths are relative to this folder.",
             "# Every setting is optional: delete a line to get its default back."]
    current = None
    for table, model, name, field in declared():
        if table != current:
            current = table
            lines += ["", f"[{table}]"]
            if model.__doc__:
                lines += [*_comment(model.__doc__), ""]
        lines += _comment(field.description or "")
        if field.default is None:
            lines.append(f"# {name} = {_toml(example(field))}")
        else:
            lines.append(f"{name} = {_toml(field.default)}")
    return "\n".join(lines) + "\n"


def settings_table() -> str:
    """The README's table of settings, in Markdown."""
    rows = ["| setting | default | |", "|---|---|---|"]
    current = None
    for table, model, name, field in declared():
        if table != current and model.__doc__:
            rows.append(f"| `[{table}]` | | {' '.join(model.__doc__.split())} |")
        current = table
        default = shown(field) or f"`{_toml(field.default).strip(chr(34))}`"
        rows.append(f"| `{table}.{name}` | {default} | {field.description} |")
    return "\n".join(rows) + "\n"


def _comment(text: str) -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width=96, initial_indent="# ",
                         subsequent_indent="# ", break_on_hyphens=False)


def _toml(value: Any) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string, for what is here
    return str(value)


if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(settings_table(), end="")
    elif sys.argv[1:] == ["--file"]:
        print(settings_file(), end="")
    else:
        sys.exit("usage: python -m blankett.flows.home.settings --markdown | --file")
