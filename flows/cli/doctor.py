"""`blankett doctor`: what of the set-up works and what is missing, one line each.

Nothing is sent and no form is touched: the SMTP check logs in and leaves, the folder check
writes and removes an empty file, the store check opens the store (which creates its tables in a
home that has none yet) and reads one count.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from blankett.flows.cli.environment import Environment
from blankett.flows.home.settings import Home, SettingsError, inbox_missing, load_home

Verdict = Literal["ok", "missing", "failed"]
# The width of the verdict column.
_MARK = {"ok": "ok     ", "missing": "missing", "failed": "FAILED "}


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    what: str
    detail: str

    @property
    def line(self) -> str:
        return f"{_MARK[self.verdict]}  {self.what}: {self.detail}"


def cmd_doctor(env: Environment, root: Path) -> int:
    """0 when everything needed works (optional parts may be missing), 1 otherwise."""
    checks = [_ocr(), _libreoffice()]
    try:
        home = load_home(root, env.variables, inbox_needed=False)
    except SettingsError as exc:
        checks.append(Check("failed", "home", str(exc)))
    else:
        # A shared drive not mounted is one check failing: the rest are still worth knowing.
        missing = inbox_missing(home)
        checks += [*([Check("failed", "inbox", str(missing))] if missing else []),
                   _folders(home, inbox=missing is None), _store(home), _prefect(env), _smtp(home)]
    for check in checks:
        print(check.line, file=env.stdout)
    return 1 if any(c.verdict == "failed" for c in checks) else 0


def _ocr() -> Check:
    from blankett.extractors import ocr

    program = ocr.tesseract()
    if program is None:
        return Check("missing", "OCR of scans", ocr.missing_reason().replace(
            "OCR är inte installerat", "not installed").replace(
            "Tesseract saknar svensk språkmodell", "Tesseract has no Swedish model") +
            "; scans go to a person unread")
    version = _first_line([program, "--version"])
    return Check("ok", "OCR of scans", f"{version} with its Swedish model ({program})")


def _libreoffice() -> Check:
    from blankett.extractors import convert

    program = convert.soffice()
    if program is None:
        return Check("missing", "old formats (.doc, .odt, .rtf)",
                     f"LibreOffice is not installed ({convert.INSTALL_HINT}); such files are refused")
    return Check("ok", "old formats (.doc, .odt, .rtf)", f"{_first_line([program, '--version'])}")


def _folders(home: Home, inbox: bool = True) -> Check:
    problems = []
    for folder in (*((home.inbox,) if inbox else ()), home.archive, home.failed, home.outbox):
        try:
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".blankett-doctor-"):
                pass
        except OSError as exc:
            problems.append(f"{folder}: {exc.strerror or exc}")
    if problems:
        return Check("failed", "folders", "; ".join(problems))
    return Check("ok", "folders", f"{'inbox, ' if inbox else ''}archive, failed and outbox "
                                  f"writable under {home.root}")


def _store(home: Home) -> Check:
    from sqlalchemy import func, select

    from blankett.flows.store.database import Store, StoreError, Submission, store_problem

    try:
        store = Store(home.database_url)
        try:
            with store.session() as session:
                files = session.scalar(select(func.count()).select_from(Submission)) or 0
        finally:
            store.close()
    except StoreError as exc:
        return Check("failed", "store", str(exc))
    except Exception as exc:
        return Check("failed", "store", store_problem(exc) if hasattr(exc, "orig") else
                     " ".join(str(exc).split())[:160])
    from sqlalchemy.engine import make_url

    shown = make_url(home.database_url).render_as_string(hide_password=True)
    return Check("ok", "store", f"{shown} reachable, {files} files recorded")


def _prefect(env: Environment) -> Check:
    url = env.variables.get("PREFECT_API_URL") or os.environ.get("PREFECT_API_URL")
    if not url:
        return Check("ok", "Prefect", "no PREFECT_API_URL: each command starts a local server "
                                      "on 127.0.0.1 for as long as it runs")
    health = url.rstrip("/") + "/health"
    try:
        with urllib.request.urlopen(health, timeout=5) as answer:
            fine = answer.status == 200
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Check("failed", "Prefect", f"{url} cannot be reached ({reason})")
    return Check("ok" if fine else "failed", "Prefect", f"{url} answers" if fine else f"{url} is unwell")


def _smtp(home: Home) -> Check:
    from blankett.flows.mail.delivery import DeliveryError, SmtpDelivery
    from blankett.flows.pipeline.resources import delivery_for

    try:
        delivery = delivery_for(home)
    except (SettingsError, ValueError) as exc:
        return Check("failed", "mail", str(exc))
    if not isinstance(delivery, SmtpDelivery):
        return Check("ok", "mail", f"no SMTP host set: messages are written to {home.outbox}")
    smtp = home.settings.smtp
    if smtp.user and not delivery.password:
        return Check("failed", "mail", f"smtp.user is set but the password variable "
                                       f"{smtp.password_env} is empty or unset")
    try:
        delivery.check()
    except DeliveryError as exc:
        return Check("failed", "mail", str(exc))
    login = f" as {delivery.username}" if delivery.username else ""
    return Check("ok", "mail", f"SMTP server {delivery.where} accepts the connection{login} "
                               "(nothing sent)")


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return command[0]
    return next((line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()),
                command[0])

