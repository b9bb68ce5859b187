"""What the pipeline tests share: a test home with its own routing table, corpus files dropped into
its inbox, one intake pass over plain functions, a recording delivery, a real local SMTP server."""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from io import StringIO
from pathlib import Path
from typing import Any, TypeVar

from aiosmtpd.controller import Controller

from blankett.fixtures.corpus import Case
from blankett.flows.cli.environment import Environment
from blankett.flows.home.settings import Home, init_home, load_home
from blankett.flows.mail.delivery import DeliveryError, recipients
from blankett.flows.mail.messaging import DeliveryOutcome, deliver_pending
from blankett.flows.pipeline.inbox import InboxFilter, StabilityTracker, wait_until_ready
from blankett.flows.pipeline.intake import ReadAhead, Taken, recover, take_file
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.models.records import SCAN_KINDS

YEAR = 2026
SENDER = "blankett@example.org"

AREAS: dict[str, tuple[str, ...]] = {
    "open": ("open@example.org",),
    "reading": ("reading1@example.org", "reading2@example.org"),
    "digital": ("digital@example.org",),
    "learning": ("learning@example.org",),
}
FALLBACK = ("fallback1@example.org", "fallback2@example.org")
CONSULTANTS = (*dict.fromkeys(a for addresses in AREAS.values() for a in addresses), *FALLBACK)
NAMES = {"open@example.org": "Olle Öppen", "reading1@example.org": "Läsa Ett"}

# Files that editors, sync clients and browsers leave in a shared folder: never taken.
IGNORED = ("~$ansokan.docx", ".~lock.ansokan.docx#", ".hidden", "Thumbs.db", "desktop.ini",
           "ansokan.pdf.part", "ansokan.tmp", "ansokan.pdf.crdownload")


def routing_toml(areas: dict[str, tuple[str, ...]] = AREAS,
                 fallback: tuple[str, ...] = FALLBACK) -> str:
    lines = ["[areas]"]
    lines += [f"{area} = {list(addresses)!r}".replace("'", '"') for area, addresses in areas.items()]
    lines += ["", "[fallback]", f"consultants = {list(fallback)!r}".replace("'", '"'), "", "[names]"]
    lines += [f'"{address}" = "{name}"' for address, name in NAMES.items()]
    return "\n".join(lines) + "\n"


def make_home(root: Path, *, smtp_port: int | None = None,
              areas: dict[str, tuple[str, ...]] = AREAS, ocr: bool = False,
              store_url: str = "", empty_summaries: bool = False) -> Home:
    """A fresh home for grant year 2026, quick to settle, routing to @example.org consultants;
    by SMTP to 127.0.0.1 when a port is given, else into its outbox/. Scans go to a person
    unless `ocr`: the corpus's scans stand for those OCR cannot read (tests/test_ocr.py reads
    them). Its store is `store_url` (the `store_url` fixture), or its own SQLite file.
    `empty_summaries`: every consultant gets the day's summary, one with no application too."""
    init_home(root)
    smtp = (f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nstarttls = false\n'
            f'sender = "{SENDER}"\ntimeout_seconds = 10\n' if smtp_port
            else f'[smtp]\nsender = "{SENDER}"\n')
    (root / "blankett.toml").write_text(
        f'[grant]\nyear = {YEAR}\n\n[inbox]\nstable_seconds = 0.2\nunfinished_grace_seconds = 0\n\n'
        f'[routing]\nfile = "routing.toml"\n\n{smtp}\n[ocr]\nenabled = {str(ocr).lower()}\n\n'
        f'[summary]\nsend_empty = {str(empty_summaries).lower()}\n'
        + (f'\n[store]\nurl = "{store_url}"\n' if store_url else ""), encoding="utf-8")
    write_routing(root, areas)
    return load_home(root)


def used_before(root: Path, prefect_database: Path) -> None:
    """The home's local Prefect server database as an earlier command left it (the
    `prefect_database` fixture, tests/conftest.py): its next start does not create it."""
    folder = load_home(root).prefect_home
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(prefect_database, folder / "prefect.db")


def write_routing(root: Path, areas: dict[str, tuple[str, ...]] = AREAS) -> None:
    (root / "routing.toml").write_text(routing_toml(areas), encoding="utf-8")


def drop(home: Home, cases: Iterable[Case], *, name: Callable[[Case], str] = lambda c: c.name,
         age: float = 600.0) -> list[Path]:
    """Copy the cases into the inbox as a person would, their times `age` seconds in the past and
    one second apart in the given order (oldest first), so that a pass takes them in that order."""
    paths = []
    base = time.time() - age
    for i, case in enumerate(cases):
        path = home.inbox / name(case)
        path.write_bytes(case.data)
        os.utime(path, (base + i, base + i))
        paths.append(path)
    return paths


def drop_ignored(home: Home) -> dict[str, bytes]:
    """The files a pass must leave alone, with their bytes."""
    kept = {}
    for name in IGNORED:
        data = f"not a form: {name}".encode()
        (home.inbox / name).write_bytes(data)
        kept[name] = data
    return kept


def intake_pass(pipeline: Pipeline, patience: float = 3.0) -> tuple[list[Taken], DeliveryOutcome]:
    """What the `intake` flow does, without Prefect."""
    taken = recover(pipeline)
    tracker = StabilityTracker(pipeline.home.settings.inbox.stable_seconds)
    ready = wait_until_ready(pipeline.home.inbox, InboxFilter(), tracker, patience)
    with ReadAhead(pipeline, ready) as ahead:
        taken += [take_file(pipeline, path, ahead) for path in ready]
    return taken, deliver_pending(pipeline)


def taken_home(root: Path, cases: Iterable[Case]) -> Home:
    """A test home that has taken `cases` in one intake pass, closed again: for the commands
    that open it themselves."""
    home = make_home(root)
    drop(home, cases)
    pipeline = open_pipeline(home)
    try:
        intake_pass(pipeline)
    finally:
        pipeline.close()
    return home


def command(pipeline: Pipeline, *args: str, stdout: StringIO | None = None) -> tuple[int, str, str]:
    """A command as a person types it, on the pipeline's home: its exit status, stdout, stderr."""
    from cli_support import run_here

    env = Environment(stdout=stdout or StringIO(), stderr=StringIO(), variables={},
                      today=date(2026, 11, 25))
    done = run_here([*args, "--home", str(pipeline.home.root)], env)
    return done.returncode, done.stdout, done.stderr


def expected_recipients(case: Case) -> tuple[str, ...]:
    """The area's consultants; the fallback ones for an unclear area, a scan, an unreadable file."""
    area = case.fields.get("strategic_area") if case.kind not in (None, *SCAN_KINDS) else None
    return AREAS[area] if isinstance(area, str) else FALLBACK


def expected_outcome(case: Case) -> str:
    if case.kind in (None, *SCAN_KINDS):
        return "unreadable"
    return "complete" if case.complete else "incomplete"


def by_name(corpus: list[Case], *names: str) -> list[Case]:
    found = {c.name: c for c in corpus}
    return [found[n] for n in names]


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def plain_body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # by SMTP the lines end in CRLF


# --- deliveries -----------------------------------------------------------------------------------

@dataclass
class Recording:
    """A delivery that keeps what it is given; `failing` makes every send fail as SMTP would;
    `before_send` looks at each message before it is taken."""

    messages: list[EmailMessage] = field(default_factory=list)
    failing: bool = False
    before_send: Callable[[EmailMessage], None] | None = None
    envelopes: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    def send(self, message: EmailMessage, to: Sequence[str] | None = None) -> None:
        if self.before_send is not None:
            self.before_send(message)
        if self.failing:
            raise DeliveryError("SMTP server 127.0.0.1:25 refused the connection")
        envelope = list(to) if to else recipients(message)
        if not any(m is message for m in self.messages):
            self.messages.append(message)
        self.envelopes.append((envelope, message))

    def by_recipient(self) -> dict[str, list[str]]:
        """recipient -> subjects of what was delivered to them (the envelope, not the headers)."""
        return received((to, str(m["Subject"])) for to, m in self.envelopes)


def received(pairs: Iterable[tuple[Iterable[str], str]]) -> dict[str, list[str]]:
    """recipient -> subjects, sorted."""
    out: dict[str, list[str]] = {}
    for to, subject in pairs:
        for address in to:
            out.setdefault(address, []).append(subject)
    return {k: sorted(v) for k, v in sorted(out.items())}


@dataclass
class Collector:
    """An aiosmtpd handler keeping each envelope: its recipients and the raw message."""

    envelopes: list[tuple[list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 Message accepted for delivery"

    def messages(self) -> list[tuple[list[str], EmailMessage]]:
        return [(to, parse(raw)) for to, raw in self.envelopes]

    def by_recipient(self) -> dict[str, list[str]]:
        return received((to, str(m["Subject"])) for to, m in self.messages())

    def distinct(self) -> set[str]:
        """The messages received, by Message-ID: one message goes out in one envelope per
        recipient."""
        return {str(m["Message-ID"]) for _, m in self.messages()}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


H = TypeVar("H")


@contextmanager
def smtp_server(handler: H | None = None,
                controller_class: type[Controller] = Controller) -> Iterator[tuple[H, int]]:
    """An aiosmtpd server on 127.0.0.1 with `handler` (a Collector unless given)."""
    used: Any = Collector() if handler is None else handler
    port = free_port()
    controller = controller_class(used, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield used, port
    finally:
        controller.stop()
