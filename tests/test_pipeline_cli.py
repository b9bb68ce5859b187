"""The home commands as a person runs them: `python -m blankett.flows init|run|status ...` in a
subprocess; exit codes, the lines on stdout and stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from cli_support import blankett_here
from crash_support import alive, descendants
from pipeline_support import by_name, drop, make_home, smtp_server, used_before

from blankett.extractors import ocr
from blankett.fixtures.corpus import Case
from blankett.flows.home.settings import SETTINGS_FILE


def blankett(*args: str | Path, home_env: Path | None = None, prefect_home: Path | None = None,
             api: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`api`: a running Prefect server's address, for a test not about the command's own server."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PREFECT_", "BLANKETT_")) and k != "DO_NOT_TRACK"}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    if api is not None:
        env["PREFECT_API_URL"] = api
    if prefect_home is not None:
        env["PREFECT_HOME"] = str(prefect_home)
    if home_env is not None:
        env["BLANKETT_HOME"] = str(home_env)
    command = [sys.executable, "-m", "blankett.flows", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def test_init_creates_the_folders_and_a_commented_settings_file(tmp_path: Path) -> None:
    root = tmp_path / "hemma"
    result = blankett_here("init", root)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for folder in ("inbox", "archive", "failed", "outbox"):
        assert (root / folder).is_dir()
        assert f"created {root / folder}/" in result.stdout
    settings = (root / SETTINGS_FILE).read_text(encoding="utf-8")
    assert sum(line.startswith("#") for line in settings.splitlines()) >= 10
    parsed = tomllib.loads(settings)
    assert {"inbox", "smtp", "routing", "store"} <= set(parsed)

    # Twice is harmless: nothing changes, and it says so.
    (root / "inbox" / "keep.docx").write_bytes(b"PK")
    (root / SETTINGS_FILE).write_text(settings + "\n# my note\n", encoding="utf-8")
    again = blankett_here("init", root)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout and "created" not in again.stdout
    assert (root / SETTINGS_FILE).read_text(encoding="utf-8").endswith("# my note\n")
    assert (root / "inbox" / "keep.docx").read_bytes() == b"PK"


def test_init_takes_home_as_every_other_command_does(tmp_path: Path) -> None:
    def init(*args: str | Path) -> tuple[int, str]:
        done = blankett_here("init", *args)
        return done.returncode, done.stdout + done.stderr

    code, said = init("--home", tmp_path / "home")
    assert code == 0 and (tmp_path / "home" / "blankett.toml").is_file(), said
    code, said = init(tmp_path / "home", "--home", tmp_path / "home")
    assert code == 0 and "already a blankett home" in said
    code, said = init(tmp_path / "other", "--home", tmp_path / "home")
    assert code == 2 and said.count("\n") == 1 and said.startswith("error: two homes named"), said
    assert not (tmp_path / "other").exists()


def test_init_uses_blankett_home_and_fills_in_missing_folders(tmp_path: Path) -> None:
    root = tmp_path / "from-env"
    assert blankett_here("init", home_env=root).returncode == 0
    (root / "outbox").rmdir()
    result = blankett_here("init", home_env=root)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == f"created {root / 'outbox'}/"
    assert (root / "outbox").is_dir()


@pytest.mark.parametrize(("section", "text", "setting"), [
    ("[smtp]", "prot = 1", "smtp.prot"),
    ("[inbox]", 'stable_seconds = "x"', "inbox.stable_seconds"),
    ("[smtp]", "port = 0", "smtp.port"),
    ("[grant]", "year = 1999", "grant.year"),
    ("[schedule]", 'nightly_cron = "0 25 * * *"', "schedule.nightly_cron"),
])
def test_a_wrong_setting_is_one_error_line_naming_file_and_setting(
        tmp_path: Path, section: str, text: str, setting: str) -> None:
    root = tmp_path / "home"
    assert blankett_here("init", root).returncode == 0
    path = root / SETTINGS_FILE
    path.write_text(f"{section}\n{text}\n", encoding="utf-8")
    commands = [["run", "--home", root]]
    if setting == "schedule.nightly_cron":  # once only `serve` noticed, with a traceback
        commands += [["nightly", "--home", root], ["serve", "--home", root]]
    if setting == "smtp.prot":
        commands.append(["status", "--home", root])
    for command in commands:
        result = blankett_here(*command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        assert str(path) in lines[0] and setting in lines[0], lines[0]
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_settings_file_that_is_not_toml_is_one_error_line(tmp_path: Path) -> None:
    root = tmp_path / "home"
    assert blankett_here("init", root).returncode == 0
    (root / SETTINGS_FILE).write_text("[smtp\nhost = ", encoding="utf-8")
    result = blankett_here("run", "--home", root)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {root / SETTINGS_FILE}: not valid TOML")


def test_a_wrong_routing_file_is_one_error_line(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    (home.root / "routing.toml").write_text('[areas]\nopen = ["a@example.org"]\n', encoding="utf-8")
    result = blankett_here("run", "--home", home.root)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and "routing.toml" in line


@pytest.mark.parametrize("command", ["run", "status"])
def test_a_missing_home_tells_to_run_init(tmp_path: Path, command: str) -> None:
    root = tmp_path / "nowhere"
    result = blankett_here(command, "--home", root)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and f"blankett init {root}" in line
    assert not root.exists()


def test_a_missing_folder_tells_to_run_init(tmp_path: Path) -> None:
    root = tmp_path / "home"
    assert blankett_here("init", root).returncode == 0
    (root / "failed").rmdir()
    result = blankett_here("run", "--home", root)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {root / 'failed'}") and "blankett init" in line


def _inbox_on_a_share(root: Path, share: Path) -> None:
    settings = (root / SETTINGS_FILE).read_text(encoding="utf-8")
    (root / SETTINGS_FILE).write_text(settings.replace('path = "inbox"', f'path = "{share}"'),
                                      encoding="utf-8")


def test_a_missing_inbox_on_a_share_is_not_made_by_init_unless_asked(tmp_path: Path) -> None:
    root, share = tmp_path / "home", tmp_path / "mnt" / "share" / "inkorg"
    assert blankett_here("init", root).returncode == 0
    _inbox_on_a_share(root, share)
    result = blankett_here("run", "--home", root)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {share}: the inbox is missing"), line
    assert "mounted" in line and "inbox.path" in line and "init" not in line, line
    # Reading the store needs no inbox: status shows it, and says what is wrong in the same words.
    result = blankett_here("status", "--home", root)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [line.replace("error: ", "warning: ", 1)]

    # An unmounted share is not made into a folder of the local disk...
    (root / "outbox").rmdir()
    result = blankett_here("init", root)
    assert result.returncode == 2
    assert result.stdout.splitlines() == [f"created {root / 'outbox'}/"]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {share}: the inbox is missing") and "mounted" in line, line
    assert f"blankett init --create-inbox {root}" in line, line
    assert not share.parent.exists() and (root / "outbox").is_dir()

    # ...unless asked.
    result = blankett_here("init", "--create-inbox", root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"created {share}/"
    assert share.is_dir()
    assert blankett_here("status", "--home", root).returncode == 0


def test_nightly_runs_while_the_shared_inbox_is_not_mounted(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str) -> None:
    """Nightly checks the store and sends the summaries: an unmounted share is said as a warning,
    not a reason to skip the night."""
    from pipeline_support import taken_home

    home = taken_home(tmp_path / "home", by_name(corpus, "docx_mall_goteborg.docx"))
    share = tmp_path / "mnt" / "share" / "inkorg"
    home.inbox.rmdir()
    settings = home.root / SETTINGS_FILE
    settings.write_text(settings.read_text().replace("[inbox]\n", f'[inbox]\npath = "{share}"\n'))
    result = blankett("nightly", "--home", home.root, api=prefect_api_url, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Checked 1 application"), result.stdout
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {share}: the inbox is missing")
    assert "Traceback" not in result.stderr and not share.parent.exists()


def test_an_absolute_inbox_inside_the_home_is_made_by_init(tmp_path: Path) -> None:
    root = tmp_path / "home"
    assert blankett_here("init", root).returncode == 0
    _inbox_on_a_share(root, root / "inkorg")
    result = blankett_here("init", root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"created {root / 'inkorg'}/"


def test_run_takes_the_inbox_and_prints_one_line(corpus: list[Case], tmp_path: Path,
                                                 prefect_api_url: str) -> None:
    home = make_home(tmp_path / "home")
    cases = by_name(corpus, "docx_mall_goteborg.docx", "docx_ofullstandig_vara.docx",
                    "ansokan_trasig.docx")
    drop(home, cases)
    result = blankett("run", "--home", home.root, prefect_home=tmp_path / "prefect",
                      api=prefect_api_url, timeout=90)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "ERROR" not in output, output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith("Took 3 files: 1 complete, 1 incomplete, 1 unreadable, 0 duplicate.")
    assert "Messages sent: 3" in lines[0]
    assert list(home.inbox.iterdir()) == []
    assert len(list((home.archive / "2026").iterdir())) == 2
    assert len(list(home.failed.iterdir())) == 2
    eml = sorted(p.parent.name for p in home.outbox.rglob("*.eml"))
    assert eml == sorted(["digital@example.org", "learning@example.org",
                          "fallback1@example.org", "fallback2@example.org"])


def test_the_readmes_first_command_runs_without_the_test_extras(tmp_path: Path) -> None:
    # `blankett demo` reads the shipped samples; the generators beside them need reportlab,
    # which a plain install does not have.
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, blankett.fixtures; "
         "assert 'reportlab' not in sys.modules and 'PIL' not in sys.modules"],
        capture_output=True, text=True, timeout=60, check=False)
    assert probe.returncode == 0, probe.stderr


@pytest.mark.parametrize("on_path", [False, True])
def test_the_next_step_init_suggests_is_a_command_that_runs(tmp_path: Path, on_path: bool) -> None:
    """The README runs `.venv/bin/blankett`: where the script is not on PATH, a hint naming
    `blankett` alone names nothing to run."""
    script = Path(sys.executable).parent / "blankett"
    path = os.pathsep.join(([str(script.parent)] if on_path else []) + ["/usr/bin", "/bin"])
    env = {**os.environ, "PATH": path}
    result = subprocess.run([str(script), "init", "hemma"], capture_output=True, text=True,
                            timeout=60, env=env, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr
    suggested = result.stdout.splitlines()[-1].split("`")[1]
    assert suggested == f"{'blankett' if on_path else script} run --home hemma"
    tried = subprocess.run(["sh", "-c", suggested.replace(" run ", " status ")], capture_output=True,
                           text=True, timeout=60, env=env, cwd=tmp_path, check=False)
    assert tried.returncode == 0, tried.stderr


def test_demo_makes_a_home_takes_the_samples_and_shows_their_status(tmp_path: Path,
                                                                   prefect_api_url: str) -> None:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "PREFECT_API_URL": prefect_api_url}
    home = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "blankett.flows", "demo", "--home", str(home)],
                            capture_output=True, text=True, timeout=180, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "Took 8 files" in result.stdout
    # One sample is incomplete on purpose; the scan among them, read by OCR, is complete.
    if ocr.tesseract():
        assert "7 complete, 1 incomplete" in result.stdout
    for municipality in ("Göteborg", "Kungälv", "Vara", "Skara", "Strömstad"):
        assert municipality in result.stdout
    assert _originals(home) == 8
    # The scan among the samples has its searchable copy filed beside it, where OCR can run.
    copies = [c.name.removesuffix(".ocr.pdf") for c in (home / "archive" / "2026").glob("*.ocr.pdf")]
    scans = [p.name for p in (home / "archive" / "2026").glob("*-amal-skannad.pdf")]
    assert copies == (scans if ocr.tesseract() else [])
    assert list((home / "outbox").glob("*/*.eml"))
    # The commands it suggests run as printed, the `blankett` script on PATH or not.
    (hint,) = [line for line in result.stdout.splitlines() if line.startswith("Try: ")]
    suggested = hint.removeprefix("Try: ").split("; ")[0]
    tried = subprocess.run(["sh", "-c", suggested], capture_output=True, text=True, timeout=120,
                           env=env, check=False)
    assert tried.returncode == 0 and "Göteborg" in tried.stdout, (suggested, tried.stderr)
    # A second demo replaces the first.
    again = subprocess.run([sys.executable, "-m", "blankett.flows", "demo", "--home", str(home)],
                           capture_output=True, text=True, timeout=180, env=env, check=False)
    assert again.returncode == 0, again.stderr
    assert _originals(home) == 8


def _originals(home: Path) -> int:
    return sum(not p.name.endswith(".ocr.pdf") for p in (home / "archive" / "2026").iterdir())


def test_ssl_and_starttls_together_are_one_clear_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert blankett_here("init", home).returncode == 0
    settings = home / SETTINGS_FILE
    settings.write_text(settings.read_text().replace("ssl = false", "ssl = true"))
    result = blankett_here("status", "--home", home)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {settings}: smtp: ")
    assert "ssl" in lines[0] and "starttls" in lines[0]


def _started(command: str, home: Path, ready: str, stderr: Path,
             api: str | None = None, cwd: Path | None = None,
             said: list[str] | None = None,
             variables: dict[str, str] | None = None,
             group: bool = False) -> subprocess.Popen[str]:
    """`cwd`: started there as a person would, by the `blankett` script (`python -m` would put
    that folder on the command's own import path). `said` gets the lines printed until ready.
    `group`: in a process group of its own, as a terminal starts it, for a signal to the group."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BLANKETT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1", **(variables or {}))
    if api is not None:
        env["PREFECT_API_URL"] = api
    program = [sys.executable, "-m", "blankett.flows"] if cwd is None else \
        [str(Path(sys.executable).parent / "blankett")]
    with stderr.open("w") as errors:  # a file: a pipe left unread could fill and stall it
        process = subprocess.Popen([*program, command, "--home", str(home)],
                                   stdout=subprocess.PIPE, stderr=errors, text=True, env=env,
                                   cwd=cwd, start_new_session=group)
    assert process.stdout is not None
    for line in process.stdout:
        if said is not None:
            said.append(line)
        if line.startswith(ready):
            return process
    raise AssertionError(f"{command} stopped before it was ready: {stderr.read_text()}")


# Stopped by SIGTERM (as a service manager stops it) or killed outright (as the out-of-memory
# killer would), a command that started its own Prefect server leaves no process behind: watch
# stopped here, killed at random moments in tests/test_watch_crash.py; serve stopped before its
# first run and killed here, stopped after a run at the end of its own test below.

def test_watch_stopped_leaves_no_process_behind(tmp_path: Path, prefect_database: Path) -> None:
    home = tmp_path / "home"
    blankett_here("init", home)
    used_before(home, prefect_database)
    stderr = tmp_path / "stderr"
    process = _started("watch", home, "Watching ", stderr)
    # Its server has no deployments to look after: their services stay off (serve's schedule).
    server = next((pid for pid in descendants(process.pid)
                   if b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes()), None)
    assert server is not None, "no Prefect server was started"
    assert b"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED=false" in \
        Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
    _stopped_leaving_nothing(process, stderr)


def test_serve_stopped_or_killed_leaves_no_process_behind(tmp_path: Path,
                                                          prefect_database: Path) -> None:
    home = tmp_path / "home"
    blankett_here("init", home)
    used_before(home, prefect_database)
    stderr = tmp_path / "stderr"
    _stopped_leaving_nothing(_started("serve", home, "Serving ", stderr), stderr)
    process = _started("serve", home, "Serving ", stderr)
    family = descendants(process.pid)
    assert family, "no Prefect server was started"
    process.kill()
    process.wait()
    assert process.stdout is not None
    process.stdout.close()
    assert not _gone_within(family, 30), "processes outlived their command"


def _stopped_leaving_nothing(process: subprocess.Popen[str], stderr: Path) -> None:
    family = descendants(process.pid)
    assert family, "no Prefect server was started"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert process.stdout is not None
    assert "Stopped." in process.stdout.read()
    process.stdout.close()
    assert "Traceback" not in stderr.read_text()
    assert not _gone_within(family, 10)


def test_serve_prints_what_its_runs_take_and_records_their_logs(
        corpus: list[Case], tmp_path: Path, prefect_database: Path) -> None:
    """Each scheduled intake run is a process of Prefect's own: what it took is printed like
    watch's line, and its steps' logs are recorded on serve's Prefect server like run's. Started
    from a folder holding modules named like standard ones, which neither the runs nor their
    readers import. Stopped by SIGTERM, it leaves no process behind."""
    here = tmp_path / "here"
    here.mkdir()
    for module in ("html", "json", "email"):
        (here / f"{module}.py").write_text(f"raise SystemExit('the {module}.py of the current folder')\n")
    home = make_home(tmp_path / "home")
    settings = home.root / SETTINGS_FILE
    settings.write_text(settings.read_text() + "\n[schedule]\nintake_interval_seconds = 5\n")
    used_before(home.root, prefect_database)
    (dropped,) = drop(home, by_name(corpus, "docx_mall_goteborg.docx"),
                      name=lambda _: "served-goteborg.docx")
    stderr = tmp_path / "stderr"
    said: list[str] = []
    # Its own server, as without PREFECT_API_URL: one that schedules (the tests' harness does not).
    # Prefect's runner looks for runs due every 10 s; every second here, not to wait for it.
    serve = _started("serve", home.root, "Serving ", stderr, cwd=here, said=said,
                     variables={"PREFECT_RUNNER_POLL_FREQUENCY": "1"})
    try:
        api = said[-1].split(" against ", 1)[1].split(". Stop", 1)[0]
        lines = _pass_lines(serve, 1, 180)
        assert len(lines) == 1, stderr.read_text()
        assert lines[0].split(" ", 1)[1].startswith("Took 1 file: 1 complete"), lines
        assert not dropped.exists()
        recorded = _recorded_logs(api, "blankett.intake", seconds=60)
        _stopped_leaving_nothing(serve, stderr)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    said_on_stderr = stderr.read_text()
    assert "Traceback" not in said_on_stderr, said_on_stderr
    assert "served-goteborg.docx: complete" in said_on_stderr, said_on_stderr
    assert any(log["flow_run_id"] and log["message"].startswith("served-goteborg.docx: complete")
               for log in recorded), recorded


def _recorded_logs(api: str, logger: str, seconds: float) -> list[dict[str, Any]]:
    """What a Prefect server holds of `logger`'s lines, once it holds any: a run sends its logs
    in batches, the last as its process ends."""
    request = urllib.request.Request(
        f"{api}/logs/filter", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"limit": 200, "sort": "TIMESTAMP_DESC"}).encode())
    deadline = time.monotonic() + seconds
    while True:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request) as answer:
            recorded = [log for log in json.load(answer) if log["name"] == logger]
        if recorded or time.monotonic() > deadline:
            return recorded
        time.sleep(0.5)


def _pass_lines(process: subprocess.Popen[str], count: int, seconds: float) -> list[str]:
    """The first `count` lines a watch prints after its passes ("HH:MM:SS Took …"), read in a
    thread of their own: a line may already wait in the pipe's buffer, where no poll sees it."""
    assert process.stdout is not None
    stdout = process.stdout
    found: list[str] = []

    def read() -> None:
        for line in stdout:
            if line[:2].isdigit() and " Took " in line:
                found.append(line)
                if len(found) == count:
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(seconds)
    return found


def _gone_within(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive(pids)


def test_watch_stops_when_its_prefect_server_dies_and_keeps_the_files(
        tmp_path: Path, prefect_database: Path) -> None:
    home = tmp_path / "home"
    blankett_here("init", home)
    used_before(home, prefect_database)
    settings = home / SETTINGS_FILE
    settings.write_text("[inbox]\nscan_interval_seconds = 1\n")
    stderr = tmp_path / "stderr"
    watch = _started("watch", home, "Watching ", stderr)
    server = next(pid for pid in descendants(watch.pid)
                  if b"prefect" in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(server, signal.SIGKILL)
    (home / "inbox" / "ansokan.docx").write_bytes(b"arrived after the server died")
    # Every pass would fail from now on: it stops, so that a service manager starts it again.
    assert watch.wait(timeout=120) == 1
    assert watch.stdout is not None
    watch.stdout.close()
    said = stderr.read_text()
    assert "error: the local Prefect server stopped" in said and "Traceback" not in said
    assert (home / "inbox" / "ansokan.docx").read_bytes() == b"arrived after the server died"


def test_watch_takes_a_file_dropped_during_its_first_pass_without_waiting_for_the_scan(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str) -> None:
    """Watching starts before the first pass: a file dropped while it runs is taken right after
    it, not at the next full scan (ten minutes here)."""
    home = make_home(tmp_path / "home")
    settings = home.root / SETTINGS_FILE
    settings.write_text(settings.read_text().replace("[inbox]\n", "[inbox]\nscan_interval_seconds = 600\n"))
    waiting = drop(home, [c for c in corpus if c.kind == "docx"][:20])
    late = next(c for c in corpus if c.kind == "pdf-form")
    stderr = tmp_path / "stderr"
    watch = _started("watch", home.root, "Watching ", stderr, api=prefect_api_url)
    try:
        deadline = time.monotonic() + 120
        while all(p.exists() for p in waiting) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not all(p.exists() for p in waiting), "the first pass took nothing"
        # The first pass has listed the inbox and is taking what it found.
        (home.inbox / late.name).write_bytes(late.data)
        deadline = time.monotonic() + 90
        while (home.inbox / late.name).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not (home.inbox / late.name).exists(), "left for the next full scan"
        assert list(home.archive.rglob(f"*{late.name}"))
        # Stopped once that pass has said what it took (a stop during a pass is another test's).
        assert len(_pass_lines(watch, 2, 60)) == 2
    finally:
        watch.send_signal(signal.SIGTERM)
        watch.wait(timeout=60)
        assert watch.stdout is not None
        watch.stdout.close()
    assert "Traceback" not in stderr.read_text()


@pytest.mark.parametrize("cron", ["0 2 * * sat-sun", "30 22-2 * * *", "0 2 L * *",
                                  "0 2 * * mon#1", "0 2 ? * *", "0 2 * dec-jan *"])
def test_schedules_prefect_accepts_are_accepted(tmp_path: Path, cron: str) -> None:
    home = tmp_path / "home"
    blankett_here("init", home)
    (home / SETTINGS_FILE).write_text(f'[schedule]\nnightly_cron = "{cron}"\n')
    result = blankett_here("status", "--home", home)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("moment", ["taking", "pass_ended", "idle"])
def test_the_first_ctrl_c_stops_watch_within_five_seconds(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str, moment: str) -> None:
    """Whenever Ctrl-C comes, while a file is being taken, as a pass ends or between passes,
    watch stops within 5 s and says so in one line; nothing is lost."""
    home = make_home(tmp_path / "home")
    forms = [c for c in corpus if c.kind == "docx"][:12 if moment != "idle" else 1]
    dropped = drop(home, forms)
    stderr = tmp_path / "stderr"
    watch = _started("watch", home.root, "Watching ", stderr, api=prefect_api_url, group=True)
    try:
        if moment == "taking":
            deadline = time.monotonic() + 60
            while all(p.exists() for p in dropped) and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            assert len(_pass_lines(watch, 1, 90)) == 1
            if moment == "idle":
                time.sleep(1)
        # To the whole group, as Ctrl-C in a terminal: the reader workers get it too.
        os.killpg(watch.pid, signal.SIGINT)
        started = time.monotonic()
        watch.wait(timeout=30)
        took = time.monotonic() - started
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert watch.stdout is not None
    said = watch.stdout.read()
    watch.stdout.close()
    errors = stderr.read_text()
    assert took <= 5, f"stopped {took:.1f} s after Ctrl-C"
    assert watch.returncode == 0 and "Stopped." in said, said + errors
    assert "Traceback" not in errors and "Crash detected" not in errors, errors
    assert errors.count("stopped while taking it") <= 1, errors
    filed = [p for p in home.archive.rglob("*") if p.is_file()] + \
        [p for p in home.failed.rglob("*") if p.is_file()]
    left = [p for p in home.inbox.iterdir()]
    assert len(left) + len({p.name for p in filed if not p.name.endswith((".txt", ".ocr.pdf"))}) \
        >= len(forms), (left, filed)


def test_a_file_in_the_current_folder_named_like_a_module_breaks_nothing(
        corpus: list[Case], tmp_path: Path) -> None:
    """Started from a folder holding an html.py (or any name of a module Prefect imports), the
    command's own Prefect server still starts: the current folder is not on its path."""
    here = tmp_path / "here"
    here.mkdir()
    (here / "html.py").write_text("raise ImportError('the html.py of the current folder')\n")
    home = make_home(tmp_path / "home")
    drop(home, by_name(corpus, "docx_mall_goteborg.docx"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BLANKETT_"))}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    result = subprocess.run([str(Path(sys.executable).parent / "blankett"), "run", "--home",
                             str(home.root)], capture_output=True, text=True, timeout=120,
                            cwd=here, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Took 1 file: 1 complete")


def test_files_that_cannot_be_filed_are_said_and_fail_the_run(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str) -> None:
    """An archive that cannot be written: not "nothing new", and not exit status 0."""
    home = make_home(tmp_path / "home")
    dropped = drop(home, by_name(corpus, "docx_mall_goteborg.docx"))
    (home.archive / "2026").write_text("a file where the year's folder should be")
    result = blankett("run", "--home", home.root, api=prefect_api_url, timeout=120)
    last = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Nothing new" not in last and "Could not file 1 file" in last, last
    assert [p.read_bytes() for p in dropped] == [by_name(corpus, "docx_mall_goteborg.docx")[0].data]


def test_a_wrong_smtp_setting_is_one_line_after_what_the_run_took(
        corpus: list[Case], tmp_path: Path, prefect_api_url: str) -> None:
    """STARTTLS asked of a server that offers none: the forms are filed and said, then the
    setting in one line (as `doctor` says it), exit status 2; no Prefect traceback."""
    with smtp_server() as (_, port):
        home = make_home(tmp_path / "home", smtp_port=port)
        settings = home.root / SETTINGS_FILE
        settings.write_text(settings.read_text().replace("starttls = false", "starttls = true"))
        drop(home, by_name(corpus, "docx_mall_goteborg.docx"))
        result = blankett("run", "--home", home.root, api=prefect_api_url, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.startswith("Took 1 file: 1 complete") and "1 waiting" in result.stdout
    errors = [line for line in result.stderr.splitlines() if " | INFO " not in line]
    assert errors == [errors[0]] and errors[0].startswith("error: SMTP server 127.0.0.1:"), errors
    assert "smtp.starttls = false" in errors[0] and "Traceback" not in result.stderr


def test_a_file_still_arriving_leaves_the_run_successful(tmp_path: Path, prefect_api_url: str) -> None:
    """An empty file copied just now waits for its copy to finish: no failure of the run."""
    home = make_home(tmp_path / "home")
    settings = home.root / SETTINGS_FILE
    settings.write_text(settings.read_text().replace("unfinished_grace_seconds = 0",
                                                     "unfinished_grace_seconds = 60"))
    (home.inbox / "tom.docx").write_bytes(b"")
    time.sleep(0.5)  # settled by size and time, yet changed too recently to be given up on
    result = blankett("run", "--home", home.root, api=prefect_api_url, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 file left in the inbox for the next pass (still arriving" in result.stdout
    assert (home.inbox / "tom.docx").exists()


def test_the_consultants_commands_as_a_person_runs_them(corpus: list[Case], tmp_path: Path) -> None:
    """`show`, `correct` and the others need no Prefect: they run on the store alone."""
    from pipeline_support import taken_home

    home = taken_home(tmp_path / "home", by_name(corpus, "docx_ofullstandig_vara.docx"))
    result = blankett("correct", "1", "E-post", "nils@vara.example.org", "--by", "anna",
                      "--home", home.root)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout.startswith("Ansökan 1 (Vara – ")
    assert ": rättat E-post till ”nils@vara.example.org”;" in result.stdout
    result = blankett("correct", "1", "Budget", "1", "--home", home.root)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: Budget: inget fält i blanketten har denna nyckel eller rubrik")
    assert len(result.stderr.splitlines()) == 1
    result = blankett("show", "1", "--home", home.root)
    assert result.returncode == 0 and "rättat av anna" in result.stdout
