"""The form specification and routing, loaded from TOML files shipped beside this module."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from blankett.models.errors import BlankettError

FieldKind = Literal["text", "description", "email", "phone", "municipality", "area", "amount", "date"]
AREA_KEYS = ("open", "reading", "digital", "learning")

# The keys that the rules and the JSON output rely on; a spec file must define every one.
CORE_KEYS = (
    "municipality", "library", "contact_name", "contact_email", "contact_phone", "partners",
    "project_title", "strategic_area", "requested_amount_sek", "purpose", "goal", "knowledge",
    "timeline", "target_group", "expected_results", "continuation", "requested_support",
    "own_contribution", "date", "signatory",
)


class ConfigError(BlankettError):
    """A configuration file that cannot be used; the message is one line for the user."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    key: str
    label: str
    section: str
    required: bool
    kind: FieldKind
    synonyms: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    hint: str | None = None
    # What the part asks for, in words of its own: where a heading nobody listed is recognised
    # by what it speaks of (models.meaning).
    description: str = ""
    # The words a question about this part turns on ("varför" asks for the purpose).
    questions: tuple[str, ...] = ()
    warn_when_missing: bool = False
    one_line: bool = False

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)

    @field_validator("keywords")
    @classmethod
    def _keywords_compile(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        for keyword in keywords:
            try:
                re.compile(keyword)
            except re.error as exc:
                raise ValueError(f"keyword {keyword!r} is not a regular expression ({exc})") from None
        return keywords


class AreaSpec(_Strict):
    key: Literal["open", "reading", "digital", "learning"]
    name: str
    names: tuple[str, ...]


class GrantSpec(_Strict):
    name: str
    max_amount_sek: int = Field(gt=0)
    min_description_words: int = Field(ge=0)
    placeholders: tuple[str, ...] = ()


class FormLayout(_Strict):
    section_headings: tuple[str, ...] = ()


class ChecksSpec(_Strict):
    support_competence: tuple[str, ...]
    support_financing: tuple[str, ...]


class MunicipalitySpec(_Strict):
    names: tuple[str, ...]
    suffixes: tuple[str, ...] = ()
    aliases: dict[str, str] = {}

    @model_validator(mode="after")
    def _aliases_point_to_names(self) -> MunicipalitySpec:
        for alias, target in self.aliases.items():
            if target not in self.names:
                raise ValueError(f"alias {alias!r} points to {target!r}, which is not in names")
        return self


class FormSpec(_Strict):
    grant: GrantSpec
    fields: tuple[FieldSpec, ...]
    form: FormLayout = FormLayout()
    areas: tuple[AreaSpec, ...]
    checks: ChecksSpec
    municipality: MunicipalitySpec

    @model_validator(mode="after")
    def _complete(self) -> FormSpec:
        keys = [f.key for f in self.fields]
        duplicated = {k for k in keys if keys.count(k) > 1}
        if duplicated:
            raise ValueError(f"fields defined twice: {', '.join(sorted(duplicated))}")
        missing = [k for k in CORE_KEYS if k not in keys]
        if missing:
            raise ValueError(f"fields missing: {', '.join(missing)}")
        if sorted(a.key for a in self.areas) != sorted(AREA_KEYS):
            raise ValueError(f"areas must be exactly {', '.join(AREA_KEYS)}")
        return self

    def field(self, key: str) -> FieldSpec:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(f.key for f in self.fields)


class Routing(_Strict):
    areas: dict[Literal["open", "reading", "digital", "learning"], tuple[str, ...]]
    fallback: tuple[str, ...]
    names: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _flatten_fallback(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("fallback"), dict):
            data = {**data, "fallback": data["fallback"].get("consultants", ())}
        return data

    @model_validator(mode="after")
    def _every_area_routed(self) -> Routing:
        unrouted = [a for a in AREA_KEYS if not self.areas.get(a)]  # type: ignore[call-overload]
        if unrouted:
            raise ValueError(f"no consultant for area {', '.join(unrouted)}")
        if not self.fallback:
            raise ValueError("no fallback consultant")
        return self

    def consultants(self, area: str | None) -> list[str]:
        if area is None:
            return list(self.fallback)
        return list(self.areas[area])  # type: ignore[index]


def _read_toml(path: Path | None, default: str) -> tuple[dict[str, object], str]:
    if path is None:
        text = resources.files(__package__).joinpath(default).read_text(encoding="utf-8")
        return tomllib.loads(text), default
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")), str(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def load_spec(path: Path | None = None) -> FormSpec:
    """The form specification: the shipped form.toml unless a path is given."""
    data, name = _read_toml(path, "form.toml")
    try:
        return FormSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{name}: {_first_error(exc)}") from None


def load_routing(path: Path | None = None) -> Routing:
    """Area -> consultants: the shipped routing.toml unless a path is given."""
    data, name = _read_toml(path, "routing.toml")
    try:
        return Routing.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{name}: {_first_error(exc)}") from None
