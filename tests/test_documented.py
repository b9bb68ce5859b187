"""Every setting and every problem code a user can meet is documented: in the README, and each
setting in the commented settings file `blankett init` writes. Both are made from the settings'
one declaration (flows/home/settings.py, models/limits.py), as are `extract`'s limit options."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer

from blankett.flows.cli.app import app
from blankett.flows.home.settings import (
    SETTINGS_FILE,
    Settings,
    declared,
    init_home,
    read_settings,
    settings_file,
    settings_table,
)
from blankett.models.limits import Limits, LimitSettings, OcrSettings
from blankett.models.messages import PROBLEM_CODES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTINGS = [(table, name) for table, _, name, _ in declared()]


def test_every_setting_of_every_table_is_declared_for_the_file() -> None:
    tables = {table for table, _ in SETTINGS}
    assert tables == set(Settings.model_fields)
    assert len(SETTINGS) >= 25
    assert ("smtp", "password") not in SETTINGS  # from the environment, never the file


@pytest.mark.parametrize(("section", "name"), SETTINGS, ids=lambda s: str(s))
def test_each_setting_is_in_the_readme(section: str, name: str) -> None:
    assert f"`{section}.{name}`" in README


def test_the_readme_table_is_the_one_made_from_the_declarations() -> None:
    made = subprocess.run([sys.executable, "-m", "blankett.flows.home.settings", "--markdown"],
                          capture_output=True, text=True, check=True).stdout
    assert made == settings_table()
    in_readme = README.split("<!-- settings table:", 1)[1].split("-->\n", 1)[1] \
        .split("<!-- end of settings table -->", 1)[0]
    assert in_readme == made, "run `python -m blankett.flows.home.settings --markdown` and put " \
                              "its table into README.md's Settings section"


def test_each_setting_is_in_the_settings_file_init_writes(tmp_path: Path) -> None:
    init_home(tmp_path)
    written = (tmp_path / SETTINGS_FILE).read_text(encoding="utf-8")
    assert written == settings_file()
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", written, re.MULTILINE | re.DOTALL))
    missing = [f"{section}.{name}" for section, name in SETTINGS
               if not re.search(rf"^#? ?{name} =", sections.get(section, ""), re.MULTILINE)]
    assert missing == []


def test_the_file_init_writes_holds_the_defaults(tmp_path: Path) -> None:
    init_home(tmp_path)
    path = tmp_path / SETTINGS_FILE
    assert read_settings(path, {}) == Settings()
    # Every setting but those without a default (commented out) is written, each with its help.
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    for table, _, name, field in declared():
        assert (name in written[table]) is (field.default is not None), (table, name)
        assert " ".join(field.description.split()[:4]) in path.read_text(encoding="utf-8")


def test_the_limits_default_to_the_settings() -> None:
    assert Limits() == Limits.of(LimitSettings(), OcrSettings())


def test_extracts_limit_options_are_the_settings() -> None:
    command: Any = typer.main.get_command(app)
    options = {p.name: p for p in command.commands["extract"].params}
    for option, name in (("max_size_mb", "max_file_mb"), ("max_pages", "max_pages")):
        field = LimitSettings.model_fields[name]
        given = options[option]
        assert given.default == field.default and given.min == 1
        assert field.description and given.help.startswith(field.description)
        assert f"limits.{name}" in given.help


@pytest.mark.parametrize("code", sorted(PROBLEM_CODES))
def test_each_problem_code_is_in_the_readme(code: str) -> None:
    assert f"`{code}`" in README


def test_the_commands_the_readme_says_take_home_take_it() -> None:
    """"Every command but `extract` ... takes `--home DIR`": so it is, `init` included."""
    assert "Every command but `extract`, which needs no home, takes `--home DIR`" in README
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    taking = {name for name, command in commands.items()
              if any("--home" in getattr(p, "opts", ()) for p in command.params)}
    assert set(commands) - taking == {"extract"}
