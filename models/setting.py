"""One declaration per setting: its type (the annotation), default, bounds and help, written once
on a section of `blankett.toml`. The file `blankett init` writes, the README's settings table and
the command-line options that mirror a setting are all made from it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo


class Section(BaseModel):
    """A table of `blankett.toml`; its docstring heads the table in the file init writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def setting(default: Any, help: str, *, shown: str | None = None, example: Any = None,
            **bounds: Any) -> Any:
    """A setting's field. `help` is one or more sentences; `shown` is the default as the README
    tells it where the value itself says little ("" for "the SQLite file in the home"); `example`
    is written, commented out, into the file when the default is None."""
    return Field(default=default, description=help,
                 json_schema_extra={"shown": shown, "example": example}, **bounds)


def shown(field: FieldInfo) -> str | None:
    return _extra(field, "shown")


def example(field: FieldInfo) -> Any:
    return _extra(field, "example")


def lowest(field: FieldInfo) -> int | None:
    """The least whole number the field accepts, where it has a lower bound (for an option's `min`)."""
    for bound in field.metadata:
        if getattr(bound, "ge", None) is not None:
            return int(bound.ge)
        if getattr(bound, "gt", None) is not None:
            return int(bound.gt) + 1
    return None


def _extra(field: FieldInfo, key: str) -> Any:
    extra = field.json_schema_extra
    return extra.get(key) if isinstance(extra, dict) else None
