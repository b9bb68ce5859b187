"""Delivery of the rendered messages: to a real local SMTP server (aiosmtpd), and into an outbox folder."""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from blankett.flows.mail.delivery import (
    DeliveryError,
    OutboxDelivery,
    ServerUnavailable,
    SmtpDelivery,
    SmtpSettingWrong,
    eml_name,
)
from blankett.flows.mail.reports import render_report
from blankett.flows.mail.views import ApplicationView, CompletenessReport

SENDER = "blankett@example.org"
PDF = b"%PDF-1.7\n% fake original\n" + bytes(range(256))
FILE_NAME = "Ansökan Åmål.pdf"
RECIPIENTS = ("eva.fred@example.org", "katarina.larson@example.org")
PASSWORD = "s3cret-Pässword"  # non-ASCII on purpose: smtplib's own login cannot send it
PASSWORDS = {PASSWORD, "ascii-only"}


def report_message(tmp_path: Path, recipients: tuple[str, ...] = RECIPIENTS) -> EmailMessage:
    (tmp_path / "original.pdf").write_bytes(PDF)
    app = ApplicationView(
        id=7, municipality="Åmål", library="Åmåls bibliotek", title="Läsfrämjande för äldre",
        area="reading", area_name="Det läs- och skrivfrämjande biblioteket", amount=30000, version=1,
        status="complete", problems=(), answers=(("Kommun", "Åmål"),), missing=(), file_name=FILE_NAME,
        archived_path="original.pdf", received_at=datetime(2026, 3, 15, 13, 2, 9, tzinfo=UTC),
    )
    report = CompletenessReport(key="report:v7:1", application=app, recipients=recipients)
    return render_report(report, sender=SENDER, archive_root=tmp_path)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- a real SMTP server -----------------------------------------------------------------------------

@dataclass
class Collector:
    """An aiosmtpd handler that keeps every envelope and refuses recipients named nobody@..."""

    envelopes: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "421 4.3.2 Too busy, closing transmission channel"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"blankett" and data.password in {
        p.encode("utf-8") for p in PASSWORDS}
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 on failure


@pytest.fixture
def smtp_server() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = free_port()
    # AUTH over plain text is allowed here only because the test server is on the loopback interface.
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_report_round_trips_through_smtp(smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    handler, port = smtp_server
    SmtpDelivery("127.0.0.1", port, timeout=5).send(report_message(tmp_path))

    (envelope,) = handler.envelopes
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == list(RECIPIENTS)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Subject"] == "Ansökan: Åmål – Läsfrämjande för äldre (komplett)"
    assert received["X-Blankett-Key"] == "report:v7:1"
    (attachment,) = received.iter_attachments()
    assert attachment.get_filename() == FILE_NAME
    assert attachment.get_content() == PDF
    assert "Läsfrämjande för äldre" in received.get_body(("html",)).get_content()
    assert "Sökt belopp:  30 000 kr" in received.get_body(("plain",)).get_content()


@pytest.mark.parametrize("password", sorted(PASSWORDS))
def test_login_when_a_username_is_set(smtp_server: tuple[Collector, int], tmp_path: Path,
                                      password: str) -> None:
    handler, port = smtp_server
    SmtpDelivery("127.0.0.1", port, username="blankett", password=password, timeout=5).send(
        report_message(tmp_path))
    assert len(handler.envelopes) == 1


@pytest.mark.parametrize("wrong", [PASSWORD + "x", "ascii-wrong"])
def test_rejected_login_names_the_user_not_the_password(smtp_server: tuple[Collector, int],
                                                        tmp_path: Path, wrong: str) -> None:
    _, port = smtp_server
    delivery = SmtpDelivery("127.0.0.1", port, username="blankett", password=wrong, timeout=5)
    with pytest.raises(DeliveryError) as caught:
        delivery.send(report_message(tmp_path))
    text = str(caught.value)
    assert text.startswith(f"SMTP server 127.0.0.1:{port} rejected the login of user blankett: 535")
    assert "\n" not in text and wrong not in text and PASSWORD not in text
    assert wrong not in repr(delivery)


def test_server_down(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(DeliveryError) as caught:
        SmtpDelivery("127.0.0.1", port, timeout=5).send(report_message(tmp_path))
    assert str(caught.value) == f"SMTP server 127.0.0.1:{port} refused the connection"


def test_server_that_never_greets_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections into its backlog, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(DeliveryError) as caught:
            SmtpDelivery("127.0.0.1", port, timeout=0.3).send(report_message(tmp_path))
    assert str(caught.value) == f"SMTP server 127.0.0.1:{port} did not answer within 0.3 s"


def test_rejected_recipient(smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    handler, port = smtp_server
    with pytest.raises(DeliveryError) as caught:
        SmtpDelivery("127.0.0.1", port, timeout=5).send(report_message(tmp_path, ("nobody@example.org",)))
    assert str(caught.value) == (f"SMTP server 127.0.0.1:{port} rejected recipient nobody@example.org: "
                                 "550 5.1.1 No such user here")
    assert handler.envelopes == []


def test_partly_rejected_recipients_still_fail(smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    handler, port = smtp_server
    message = report_message(tmp_path, ("eva.fred@example.org", "nobody@example.org"))
    refusal = r"rejected recipient nobody@example\.org: 550 .*went to the other recipients"
    with pytest.raises(DeliveryError, match=refusal):
        SmtpDelivery("127.0.0.1", port, timeout=5).send(message)
    (envelope,) = handler.envelopes
    assert envelope.rcpt_tos == ["eva.fred@example.org"]


def test_starttls_and_ssl_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="starttls"):
        SmtpDelivery("mail.example.org", 465, starttls=True, ssl=True)


def test_starttls_unsupported_by_server(smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    _, port = smtp_server  # the test server offers no STARTTLS: the connection must not go on in clear
    # A setting to mend, not a fault to wait out: it names the setting and is not retried.
    with pytest.raises(SmtpSettingWrong, match=f"^SMTP server 127.0.0.1:{port} does not offer "
                       "STARTTLS: set smtp.starttls = false"):
        SmtpDelivery("127.0.0.1", port, starttls=True, timeout=5).send(report_message(tmp_path))


def test_a_refused_login_or_a_missing_password_is_a_setting_to_mend(
        smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    _, port = smtp_server
    with pytest.raises(SmtpSettingWrong, match=r"check smtp\.user and the password"):
        SmtpDelivery("127.0.0.1", port, username="blankett", password="wrong",
                     timeout=5).send(report_message(tmp_path))
    # Logging in with an empty password because its variable is unset would only be refused.
    with pytest.raises(SmtpSettingWrong, match=r"smtp\.user is set .* no password"):
        SmtpDelivery("127.0.0.1", port, username="blankett", password=None,
                     timeout=5).send(report_message(tmp_path))


# --- the outbox -------------------------------------------------------------------------------------

def test_outbox_writes_one_file_per_recipient(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    message = report_message(tmp_path)
    OutboxDelivery(outbox).send(message)

    assert sorted(p.name for p in outbox.iterdir()) == sorted(RECIPIENTS)
    for recipient in RECIPIENTS:
        (path,) = (outbox / recipient).iterdir()
        assert re.fullmatch(r"20260315-140209-[0-9a-f]{12}\.eml", path.name)  # the Date as written
        received = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert received["Subject"] == "Ansökan: Åmål – Läsfrämjande för äldre (komplett)"
        (attachment,) = received.iter_attachments()
        assert attachment.get_filename() == FILE_NAME
        assert attachment.get_content() == PDF
        # Readable as any file made by this process is (its umask), by a colleague on the share.
        mask = os.umask(0o022)
        os.umask(mask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_outbox_is_idempotent(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    OutboxDelivery(outbox).send(report_message(tmp_path))
    OutboxDelivery(outbox).send(report_message(tmp_path))  # rendered again: same Date, same key
    files = sorted(outbox.rglob("*"))
    assert [p.name for p in files if p.is_file()] == [eml_name(report_message(tmp_path))] * 2
    assert not any(p.name.startswith(".") for p in files)  # no temporary file left behind


def test_outbox_folder_is_lower_case(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    OutboxDelivery(outbox).send(report_message(tmp_path, ("Eva.Fred@Example.ORG",)))
    assert [p.name for p in outbox.iterdir()] == ["eva.fred@example.org"]


@pytest.mark.parametrize("address", ["../evil@example.org", "a/b@example.org", "a..b@example.org",
                                     ".hidden@example.org", "no-at-sign"])
def test_outbox_refuses_unsafe_addresses(tmp_path: Path, address: str) -> None:
    outbox = tmp_path / "outbox"
    # The default policy's parser cannot even hold some of these; a compat32 message, as read from
    # an old mailbox or built by other code, can.
    message = email.message_from_bytes(report_message(tmp_path).as_bytes(), policy=email.policy.compat32)
    message.replace_header("To", f"eva.fred@example.org, {address}")
    with pytest.raises(DeliveryError, match="refusing recipient address"):
        OutboxDelivery(outbox).send(message)  # type: ignore[arg-type]
    assert not outbox.exists()  # refused before anything was written, even for the safe address


def test_outbox_refuses_nul_in_address(tmp_path: Path) -> None:
    message = report_message(tmp_path)
    message.replace_header("To", "eva\x00@example.org")
    with pytest.raises(DeliveryError, match="refusing recipient address"):
        OutboxDelivery(tmp_path / "outbox").send(message)


def test_outbox_keeps_bcc_out_of_the_file(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    message = report_message(tmp_path, ("eva.fred@example.org",))
    message["Bcc"] = "archive@example.org"
    OutboxDelivery(outbox).send(message)
    (copy,) = (outbox / "archive@example.org").iterdir()
    assert b"archive@example.org" not in copy.read_bytes()
    assert message["Bcc"] == "archive@example.org"  # the caller's message is left as it was


def test_outbox_needs_a_date(tmp_path: Path) -> None:
    message = report_message(tmp_path)
    del message["Date"]
    with pytest.raises(DeliveryError, match="no valid Date header"):
        OutboxDelivery(tmp_path / "outbox").send(message)


def test_outbox_names_differ_by_key(tmp_path: Path) -> None:
    first = report_message(tmp_path)
    second = report_message(tmp_path)
    second.replace_header("X-Blankett-Key", "report:v8:1")
    assert eml_name(first) != eml_name(second)


def test_outbox_file_is_the_same_for_a_stored_and_reparsed_message(tmp_path: Path) -> None:
    # The pipeline stores the rendered bytes and parses them back before delivery.
    original = report_message(tmp_path, ("eva.fred@example.org",))
    stored = email.message_from_bytes(original.as_bytes(), policy=email.policy.default)
    OutboxDelivery(tmp_path / "a").send(original)
    OutboxDelivery(tmp_path / "b").send(stored)  # type: ignore[arg-type]
    (a,) = (tmp_path / "a" / "eva.fred@example.org").iterdir()
    (b,) = (tmp_path / "b" / "eva.fred@example.org").iterdir()
    assert a.name == b.name
    assert a.read_bytes() == b.read_bytes()


def test_a_rejected_login_stops_the_pass_instead_of_trying_every_message(
        smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    # A wrong password fails for every message alike; trying each one would only repeat the
    # failed login until the mail account is locked.
    _, port = smtp_server
    delivery = SmtpDelivery("127.0.0.1", port, username="blankett", password="wrong", timeout=5)
    with pytest.raises(ServerUnavailable):
        delivery.send(report_message(tmp_path))


def test_a_421_at_rcpt_makes_the_rest_wait(smtp_server: tuple[Collector, int], tmp_path: Path) -> None:
    # The server is closing the channel: the next message would get the same.
    handler, port = smtp_server
    with pytest.raises(ServerUnavailable, match="421"):
        SmtpDelivery("127.0.0.1", port, timeout=5).send(report_message(tmp_path, ("busy@example.org",)))
    assert handler.envelopes == []
