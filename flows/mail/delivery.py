"""Delivering the rendered messages: by SMTP, or as .eml files into an outbox folder.

Every failure is a `DeliveryError` whose message is one line a person can act on, and never holds the
SMTP password.
"""

from __future__ import annotations

import base64
import copy
import email.policy
import hashlib
import logging
import os
import smtplib
import socket
import ssl as _ssl
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Protocol

from blankett.flows.home.durable import fsync_folder
from blankett.models.errors import BlankettError, SettingWrong

log = logging.getLogger(__name__)


class DeliveryError(BlankettError):
    """A message could not be delivered; the message is one line, without secrets."""


class ServerUnavailable(DeliveryError):
    """The server could not be reached at all: no use trying the next message now."""


class SmtpSettingWrong(ServerUnavailable, SettingWrong):
    """A setting of [smtp] is wrong: every message fails alike, so nothing is retried until it is
    mended."""


class Delivery(Protocol):
    def send(self, message: EmailMessage, to: Sequence[str] | None = None) -> None:
        """Deliver to `to` (default: every recipient the message's headers name)."""


def recipients(message: EmailMessage) -> list[str]:
    """All envelope recipients of a message (To, Cc, Bcc), in order, each once, lower-cased."""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    seen: dict[str, None] = {}
    for _, address in getaddresses(fields):
        if address:
            seen.setdefault(address.lower(), None)
    return list(seen)


# --- SMTP -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SmtpDelivery:
    host: str
    port: int = 25
    _: KW_ONLY
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # kept out of repr, logs and errors
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.starttls and self.ssl:
            raise ValueError("choose starttls (upgrade a plain connection) or ssl (TLS from the start)")

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def check(self) -> None:
        """Connect, start TLS and log in as a delivery would, and leave without sending;
        ServerUnavailable or DeliveryError (one line) when that fails."""
        self._session(lambda smtp: {})

    def send(self, message: EmailMessage, to: Sequence[str] | None = None) -> None:
        refused = self._session(
            lambda smtp: smtp.send_message(message, to_addrs=list(to) if to else None))
        if refused:
            # Some recipients were accepted: say so, so that a retry is known to duplicate for them.
            raise DeliveryError(self._scrub(
                f"SMTP server {self.where} {_refusals(refused)}; the message went to the other recipients"))
        # A message goes to one recipient at a time (messaging.deliver_pending), which logs the
        # one line a message that all its recipients have; this is each step of it.
        log.debug("delivered %s to %s via %s", message.get("Message-ID", "a message"),
                  ", ".join(to or recipients(message)), self.where)

    def _session(self, work: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]]
                 ) -> dict[str, tuple[int, bytes]]:
        try:
            smtp = self._connect()
            try:
                if self.starttls:
                    smtp.starttls(context=_ssl.create_default_context())
                if self.username:
                    if not self.password:
                        raise SmtpSettingWrong(
                            f"smtp.user is set ({self.username}) but no password was given: set "
                            "the environment variable that smtp.password_env names")
                    self._login(smtp, self.username, self.password)
                return work(smtp)
            finally:
                _close(smtp)
        except smtplib.SMTPNotSupportedError as exc:
            raise SmtpSettingWrong(self._unsupported(exc)) from None
        except smtplib.SMTPAuthenticationError as exc:
            problem = self._scrub(self._smtp_problem(exc))
            if 500 <= exc.smtp_code < 600:  # 535 and its like: not a passing fault (454 is)
                raise SmtpSettingWrong(f"{problem}; check smtp.user and the password in the "
                                       "variable smtp.password_env names") from None
            raise ServerUnavailable(problem) from None
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPSenderRefused) as exc:
            # Wrong for every message alike: trying the next one only repeats a failed login,
            # which may lock the account.
            raise ServerUnavailable(self._scrub(self._smtp_problem(exc))) from None
        except smtplib.SMTPException as exc:
            problem = self._scrub(self._smtp_problem(exc))
            codes = {code for code, _ in getattr(exc, "recipients", {}).values()} or \
                {getattr(exc, "smtp_code", None)}
            if codes == {421}:  # at RCPT the code is per recipient
                # 421 (RFC 5321, 3.8): the server is closing the channel, at its greeting or
                # at any command; the next message gets the same, so the rest waits too.
                raise ServerUnavailable(problem) from None
            raise DeliveryError(problem) from None
        except OSError as exc:  # includes TimeoutError, ssl.SSLError and name resolution errors
            raise ServerUnavailable(self._scrub(self._connection_problem(exc))) from None

    def _connect(self) -> smtplib.SMTP:
        if self.ssl:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                    context=_ssl.create_default_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _login(self, smtp: smtplib.SMTP, username: str, password: str) -> None:
        if (username + password).isascii():
            smtp.login(username, password)
            return
        # smtplib encodes credentials as ASCII and fails on "å"; AUTH PLAIN (RFC 4616) carries UTF-8,
        # so send that one ourselves.
        smtp.ehlo_or_helo_if_needed()
        if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
            raise DeliveryError(f"SMTP server {self.where} does not offer AUTH PLAIN, which a user name or "
                                "password with non-ASCII characters needs")
        token = base64.b64encode(b"\0" + username.encode() + b"\0" + password.encode()).decode("ascii")
        code, reply = smtp.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _smtp_problem(self, exc: smtplib.SMTPException) -> str:
        server = f"SMTP server {self.where}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return f"{server} {_refusals(exc.recipients)}"
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return f"{server} rejected sender {exc.sender}: {_reply(exc.smtp_code, exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            reply = _reply(exc.smtp_code, exc.smtp_error)
            return f"{server} rejected the login of user {self.username}: {reply}"
        if isinstance(exc, smtplib.SMTPDataError):
            return f"{server} rejected the message: {_reply(exc.smtp_code, exc.smtp_error)}"
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            # smtplib reports a reply that never came as a disconnection "...: timed out".
            if "timed out" in str(exc):
                return f"{server} did not answer within {self.timeout:g} s"
            return f"{server} closed the connection unexpectedly"
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"{server} answered {_reply(exc.smtp_code, exc.smtp_error)}"
        return f"{server}: {_line(exc)}"

    def _unsupported(self, exc: smtplib.SMTPNotSupportedError) -> str:
        server = f"SMTP server {self.where}"
        if "STARTTLS" in str(exc).upper():
            return (f"{server} does not offer STARTTLS: set smtp.starttls = false, or smtp.ssl = "
                    "true where the port speaks TLS from the start")
        if "AUTH" in str(exc).upper():
            return f"{server} offers no login (AUTH) for smtp.user {self.username}: leave smtp.user empty"
        return f"{server}: {_line(exc)}"

    def _connection_problem(self, exc: OSError) -> str:
        server = f"SMTP server {self.where}"
        if isinstance(exc, ConnectionRefusedError):
            return f"{server} refused the connection"
        if isinstance(exc, TimeoutError):
            return f"{server} did not answer within {self.timeout:g} s"
        if isinstance(exc, socket.gaierror):
            return f"SMTP server name {self.host!r} could not be resolved"
        if isinstance(exc, _ssl.SSLError):
            return f"TLS with {server} failed: {exc.reason or _line(exc)}"
        return f"could not talk to {server}: {exc.strerror or _line(exc)}"

    def _scrub(self, text: str) -> str:
        # Server replies are echoed in errors; a misbehaving server could echo credentials back.
        if self.password:
            text = text.replace(self.password, "***")
        return text


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = [f"{address}: {_reply(code, reply)}" for address, (code, reply) in refused.items()]
    noun = "recipient" if len(parts) == 1 else "recipients"
    return f"rejected {noun} " + "; ".join(parts)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {_flat(text)}"


def _line(exc: BaseException) -> str:
    return _flat(str(exc)) or type(exc).__name__


def _close(smtp: smtplib.SMTP) -> None:
    """After DATA was accepted the message is delivered, whatever the server says to QUIT."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _flat(text: str) -> str:
    # Multi-line SMTP replies arrive joined by newlines; an error message is one line.
    return " ".join(text.split())


# --- outbox -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboxDelivery:
    """Writes `outbox/<recipient>/<YYYYMMDD-HHMMSS>-<key hash>.eml`, one file in each recipient's folder.

    The name depends only on the message's Date and key (`X-Blankett-Key`, else `Message-ID`), so sending
    the same message again replaces its file instead of adding one. Each file appears whole or not at
    all: it is written beside its final name as a dotfile (ignored by folder watchers) and renamed.
    """

    outbox: Path

    def send(self, message: EmailMessage, to: Sequence[str] | None = None) -> None:
        addresses = [a.lower() for a in to] if to else recipients(message)
        if not addresses:
            raise DeliveryError("the message has no recipients (To, Cc or Bcc)")
        folders = [_recipient_folder(a) for a in addresses]  # refuse before writing anything
        name = eml_name(message)
        data = _eml_bytes(message)
        try:
            for folder in folders:
                _write_atomically(self.outbox / folder, name, data)
        except OSError as exc:
            reason = exc.strerror or _line(exc)
            raise DeliveryError(f"could not write to outbox {self.outbox}: {reason}") from None
        log.debug("wrote %s to %s", name, ", ".join(str(self.outbox / f) for f in folders))


def eml_name(message: EmailMessage) -> str:
    try:
        date = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        raise DeliveryError("the message has no valid Date header; the outbox names files by it") from None
    key = message.get("X-Blankett-Key") or message.get("Message-ID")
    if not key:
        raise DeliveryError("the message has neither X-Blankett-Key nor Message-ID; the outbox names files "
                            "by it")
    digest = hashlib.sha256(str(key).encode("utf-8")).hexdigest()[:12]
    return f"{date:%Y%m%d-%H%M%S}-{digest}.eml"


def _recipient_folder(address: str) -> str:
    folder = address.strip().lower()
    unsafe = (
        not folder or len(folder) > 254 or "@" not in folder or folder.startswith(".") or ".." in folder
        or any(c in folder for c in "/\\:") or any(ord(c) < 32 or ord(c) == 127 for c in folder)
    )
    if unsafe:
        raise DeliveryError(f"refusing recipient address {address!r}: it cannot be an outbox folder name")
    return folder


def _eml_bytes(message: EmailMessage) -> bytes:
    if "Bcc" in message:  # a delivered message never shows its Bcc recipients
        message = copy.deepcopy(message)
        del message["Bcc"]
    # CRLF line ends, as RFC 5322 defines a message and mail programs expect of an .eml file.
    return message.as_bytes(policy=email.policy.SMTP)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once, while the process starts (setting it is how it is read).
_UMASK = _umask()


def _write_atomically(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            # A file others open (a colleague's mail program on the shared drive): as any file
            # made here, by the umask, not mkstemp's owner-only 0600.
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(folder)
