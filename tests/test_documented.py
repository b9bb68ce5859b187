"""Every setting and every problem code a user can meet is documented: in the README, and each
setting in the commented settings file `blankett init` writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from blankett.flows.home.settings import SETTINGS_FILE, Settings, init_home
from blankett.models.messages import PROBLEM_CODES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTINGS = [(section, name) for section, model in Settings.model_fields.items()
            for name in model.annotation.model_fields]  # type: ignore[union-attr]


@pytest.mark.parametrize(("section", "name"), SETTINGS, ids=lambda s: str(s))
def test_each_setting_is_in_the_readme(section: str, name: str) -> None:
    assert f"`{section}.{name}`" in README


def test_each_setting_is_in_the_settings_file_init_writes(tmp_path: Path) -> None:
    init_home(tmp_path)
    written = (tmp_path / SETTINGS_FILE).read_text(encoding="utf-8")
    sections = dict(re.findall(r"^\[(\w+)\]\n(.*?)(?=^\[|\Z)", written, re.MULTILINE | re.DOTALL))
    missing = [f"{section}.{name}" for section, name in SETTINGS
               if not re.search(rf"^#? ?{name} =", sections.get(section, ""), re.MULTILINE)]
    assert missing == []


@pytest.mark.parametrize("code", sorted(PROBLEM_CODES))
def test_each_problem_code_is_in_the_readme(code: str) -> None:
    assert f"`{code}`" in README
