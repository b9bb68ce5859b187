"""Reading a home's settings: what Prefect's schedules accept, the secrets kept secret, and one
run at a time per home."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_support import make_home
from pydantic import ValidationError

from blankett.flows.home.locking import Busy, home_lock
from blankett.flows.home.settings import (
    SETTINGS_FILE,
    SettingsError,
    init_home,
    load_home,
    read_settings,
)

# Taken and refused alike; Prefect 3's own CronSchedule is the judge of each.
CRONS = ["0 2 * * *", "0 2 * * sat-sun", "30 22-2 * * *", "0 2 L * *", "0 2 * * mon#1", "0 2 ? * *",
         "0 2 * dec-jan *", "*/15 * * * *", "0 2 1,15 * *", "0 2 * * 1-5/2", "0 2 * * 7",
         "0 2 * * 0-7", "0 2 L * 5", "0 2 * * fri#5", "0 2 * * MON", "0 2 * JAN *", "0 2 * * 7-1",
         "0 25 * * *", "60 2 * * *", "0 2 32 * *", "0 2 0 * *", "0 2 * 13 *", "0 2 * * 8",
         "*/0 * * * *", "H 2 * * *", "R 2 * * *", "0 2 * * 5L", "0 2 * * fri#6", "0 2 LW * *",
         "0 2 15W * *", "a b c d e", "0 2 ** * *", "0 2 * * ,", "-1 2 * * *"]


@pytest.mark.parametrize("cron", CRONS)
def test_a_schedule_is_taken_exactly_when_prefect_takes_it(tmp_path: Path, cron: str) -> None:
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
        prefect_takes = True
    except ValidationError:
        prefect_takes = False
    path = tmp_path / SETTINGS_FILE
    path.write_text(f'[schedule]\nnightly_cron = "{cron}"\n', encoding="utf-8")
    try:
        read_settings(path, {})
        taken = True
    except SettingsError as exc:
        assert str(exc).startswith(f"{path}: schedule.nightly_cron: ") and "\n" not in str(exc)
        taken = False
    assert taken is prefect_takes


def test_the_smtp_password_comes_from_the_environment_and_is_never_shown(tmp_path: Path) -> None:
    secret = "Hemligt-Lösen-7731"
    db_secret = "db-Lösen-55"
    path = tmp_path / SETTINGS_FILE
    path.write_text(f'[store]\nurl = "postgresql://blankett:{db_secret}@db/blankett"\n'
                    '[smtp]\nuser = "blankett"\npassword_env = "MY_SMTP_SECRET"\n', encoding="utf-8")
    settings = read_settings(path, {"MY_SMTP_SECRET": secret, "BLANKETT_SMTP_PASSWORD": "other"})
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == secret
    assert settings.store.url.get_secret_value().endswith("@db/blankett")
    for shown in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert secret not in shown and db_secret not in shown
    # No variable, no password; and only the variable named is read.
    assert read_settings(path, {"BLANKETT_SMTP_PASSWORD": secret}).smtp.password is None


def test_a_password_in_the_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE
    path.write_text('[smtp]\nuser = "blankett"\npassword = "Hemligt-7731"\n', encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        read_settings(path, {})
    message = str(caught.value)
    assert message.startswith(f"{path}: smtp.password: ") and "Hemligt" not in message
    assert "smtp.password_env" in message


def test_no_setting_is_taken_from_the_environment_by_its_name(tmp_path: Path) -> None:
    path = tmp_path / SETTINGS_FILE
    path.write_text("", encoding="utf-8")
    variables = {"SMTP": '{"host": "evil.example.org"}', "STORE": '{"url": "sqlite:///x"}',
                 "BLANKETT_SMTP__HOST": "evil.example.org", "SMTP__HOST": "evil.example.org"}
    settings = read_settings(path, variables)
    assert settings.smtp.host == "" and settings.store.url.get_secret_value() == ""


@pytest.mark.parametrize(("text", "where"), [('[SMTP]\nhost = "a"', "SMTP"),
                                             ('[smtp]\nHost = "a"', "smtp.Host")])
def test_names_are_taken_as_written(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / SETTINGS_FILE
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match=f"^{path}: {where}: unknown setting$"):
        read_settings(path, {})


def test_a_busy_home_is_waited_for_then_one_line(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    init_home(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from pathlib import Path\n"
         "from blankett.flows.home.locking import home_lock\n"
         "with home_lock(Path(sys.argv[1])):\n"
         "    print('held', flush=True)\n"
         "    time.sleep(60)\n", str(tmp_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        caplog.set_level("INFO", logger="blankett.lock")
        started = time.monotonic()
        with pytest.raises(Busy) as caught, home_lock(tmp_path, wait_seconds=1.0):
            pytest.fail("the lock of another process was had")
        assert 0.9 <= time.monotonic() - started < 10
        assert str(caught.value) == (f"{tmp_path}: another blankett run has been busy for 1 s; "
                                     "try again later")
        # Said once while waiting, however long the wait.
        assert [r.getMessage() for r in caplog.records] == [
            f"waiting for another blankett run in {tmp_path} to finish"]
    finally:
        holder.kill()
        holder.wait()
    # Its process gone, the lock is let go with it.
    with home_lock(tmp_path, wait_seconds=5.0):
        pass


@pytest.mark.parametrize("path", ["", ".", "..", "archive", "failed/in", "outbox"])
def test_an_inbox_that_is_the_home_or_one_of_its_folders_is_refused_and_nothing_is_taken(
        tmp_path: Path, path: str) -> None:
    """An empty inbox.path made the home its own inbox: its settings and store were filed away
    as unreadable forms. Refused in one line before anything is read."""
    home = make_home(tmp_path / "home")
    settings = home.root / SETTINGS_FILE
    settings.write_text(settings.read_text().replace("[inbox]\n", f'[inbox]\npath = "{path}"\n'))
    with pytest.raises(SettingsError, match=r"inbox\.path = .* name a folder of its own") as raised:
        load_home(home.root)
    assert "\n" not in str(raised.value)
    assert settings.is_file()
