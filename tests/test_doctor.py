"""`blankett doctor`: one line for each part of the set-up, nothing changed, nothing sent."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pipeline_support import free_port, make_home, smtp_server

from blankett.extractors import ocr
from blankett.fixtures.corpus import Case
from blankett.flows.cli.doctor import cmd_doctor
from blankett.flows.cli.environment import Environment


def _doctor(root: Path, **variables: str) -> tuple[int, dict[str, str]]:
    out = io.StringIO()
    code = cmd_doctor(Environment(stdout=out, stderr=io.StringIO(), variables=dict(variables)), root)
    lines = out.getvalue().splitlines()
    assert all(line.split()[0] in ("ok", "missing", "FAILED") for line in lines)
    return code, {line.split(None, 1)[1].split(":", 1)[0]: line for line in lines}


def _smtp(root: Path, port: int, user: str = "") -> None:
    settings = root / "blankett.toml"
    text = settings.read_text(encoding="utf-8").replace(
        '[smtp]\n', f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\n'
                    + (f'user = "{user}"\n' if user else ""))
    settings.write_text(text, encoding="utf-8")


def test_a_working_home_is_all_ok_and_the_smtp_server_gets_no_message(tmp_path: Path) -> None:
    make_home(tmp_path)
    with smtp_server() as (collector, port):
        _smtp(tmp_path, port)
        code, lines = _doctor(tmp_path)
        assert collector.envelopes == []
    assert code == 0
    for part in ("folders", "store", "Prefect", "mail"):
        assert lines[part].startswith("ok "), lines[part]
    assert "accepts the connection" in lines["mail"]


def test_what_fails_is_said_in_one_line_each_and_exits_1(tmp_path: Path) -> None:
    make_home(tmp_path)
    _smtp(tmp_path, free_port(), user="blankett")
    code, lines = _doctor(tmp_path, PREFECT_API_URL=f"http://127.0.0.1:{free_port()}/api")
    assert code == 1
    assert lines["mail"].startswith("FAILED") and "BLANKETT_SMTP_PASSWORD" in lines["mail"]
    assert lines["Prefect"].startswith("FAILED") and "cannot be reached" in lines["Prefect"]
    code, lines = _doctor(tmp_path, BLANKETT_SMTP_PASSWORD="secret")
    assert lines["mail"].startswith("FAILED") and "refused the connection" in lines["mail"]
    assert "secret" not in "\n".join(lines.values())


def test_a_folder_that_cannot_be_written_fails(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    home.failed.rmdir()
    home.failed.write_text("a file where the folder should be")
    code, lines = _doctor(tmp_path)
    assert code == 1 and lines["home"].startswith("FAILED") and str(home.failed) in lines["home"]


def test_missing_ocr_and_no_home_are_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "tesseract", lambda: None)
    code, lines = _doctor(tmp_path / "nowhere")
    assert code == 1
    assert lines["OCR of scans"].startswith("missing") and ocr.INSTALL_HINT in lines["OCR of scans"]
    assert lines["home"].startswith("FAILED") and "blankett init" in lines["home"]


def test_a_shared_inbox_not_mounted_leaves_status_and_doctor_working(
        tmp_path: Path, corpus: list[Case]) -> None:
    """status shows the store, doctor says the inbox is missing as one of its checks and runs
    the others."""
    from pipeline_support import by_name, taken_home

    from blankett.flows.cli.home import cmd_status

    home = taken_home(tmp_path / "home", by_name(corpus, "docx_mall_goteborg.docx"))
    share = tmp_path / "mnt" / "share" / "inkorg"
    settings = home.root / "blankett.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        '[inbox]\n', f'[inbox]\npath = "{share}"\n'), encoding="utf-8")

    out, err = io.StringIO(), io.StringIO()
    code = cmd_status(Environment(stdout=out, stderr=err, variables={}), home.root, False)
    assert code == 0 and "Göteborg" in out.getvalue(), err.getvalue()
    (line,) = err.getvalue().splitlines()
    assert line.startswith(f"warning: {share}: the inbox is missing") and "mounted" in line

    code, lines = _doctor(home.root)
    assert code == 1
    assert lines["inbox"].startswith("FAILED") and "the inbox is missing" in lines["inbox"]
    assert "mounted" in lines["inbox"]
    for part in ("folders", "store", "Prefect", "mail"):
        assert lines[part].startswith("ok "), lines[part]
    assert "1 files recorded" in lines["store"]
