"""Every error a user can cause shares one base, whose message is the one line they are shown."""

from __future__ import annotations

import pytest

from blankett.extractors.errors import Unreadable
from blankett.flows.home.locking import Busy
from blankett.flows.home.settings import SettingsError
from blankett.flows.mail.delivery import DeliveryError, ServerUnavailable, SmtpSettingWrong
from blankett.flows.orchestration.server import ServerError
from blankett.flows.pipeline.isolation import Refused
from blankett.flows.store.database import StoreError
from blankett.models.errors import BlankettError
from blankett.models.spec import ConfigError


@pytest.mark.parametrize("error", [ConfigError, Unreadable, SettingsError, Busy, DeliveryError,
                                   ServerUnavailable, StoreError, ServerError, Refused])
def test_each_user_error_is_one_line(error: type[BlankettError]) -> None:
    raised = error("blankett.toml: smtp.port: not a number\n  (got 'tjugofem')")
    assert isinstance(raised, BlankettError)
    assert str(raised) == "blankett.toml: smtp.port: not a number (got 'tjugofem')"


@pytest.mark.parametrize(("raised", "code"), [
    (SmtpSettingWrong("SMTP server h:25 does not offer STARTTLS: set smtp.starttls = false"), 2),
    (Busy("another run holds the home"), 1),
    (RuntimeError("a bug\nwith two lines"), 1),
])
def test_a_failed_run_is_one_line_and_its_exit_status(raised: Exception, code: int) -> None:
    """A setting to mend exits 2, like every other user error; a run that failed otherwise 1."""
    from io import StringIO

    from blankett.flows.cli.environment import Environment
    from blankett.flows.cli.running import Failed, flow

    def run() -> None:
        raise raised

    env = Environment(stdout=StringIO(), stderr=StringIO())
    assert flow(env, "intake", run) == Failed(code)
    said = env.stderr.getvalue()
    assert said.startswith("error: ") and said.count("\n") == 1, said


def test_every_reason_a_file_is_refused_for_has_its_swedish_wording() -> None:
    """People read why a file could not be read in Swedish, worded in one place from its kind:
    each Unreadable raised anywhere names a kind models.messages words, with the values its
    wording needs."""
    import ast
    import string
    from pathlib import Path

    from blankett.models.messages import FAILURES, FORMATS, failure

    root = Path(__file__).resolve().parents[1]
    made = 0
    for folder in ("extractors", "flows", "models"):
        for source in (root / folder).rglob("*.py"):
            for call in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if not isinstance(call, ast.Call):
                    continue
                if getattr(call.func, "id", "") == "Failure" and len(call.args) > 2:
                    # A failure found before any reader ran (a folder, a file gone).
                    assert call.args[2].value in FAILURES, f"{source.relative_to(root)}:{call.lineno}"
                    continue
                if getattr(call.func, "id", "") != "Unreadable":
                    continue
                if any(k.arg is None for k in call.keywords):
                    continue  # made again from one that was sent (models/errors.py)
                where = f"{source.relative_to(root)}:{call.lineno}"
                assert len(call.args) == 2 and isinstance(call.args[1], ast.Constant), where
                kind = call.args[1].value
                assert kind in FAILURES, where
                needs = {f for _, f, _, _ in string.Formatter().parse(FAILURES[kind]) if f}
                assert needs == {k.arg for k in call.keywords}, where
                for k in call.keywords:
                    if k.arg == "format" and isinstance(k.value, ast.Constant):
                        assert k.value.value in FORMATS, where
                made += 1
    assert made > 30
    assert failure("empty") == "Filen är tom (0 byte)."
    assert failure("too_slow", {"seconds": 2.5}) == "Filen tog längre tid än 2,5 s att läsa och avbröts."
    # A failure recorded before failures had kinds says what there is.
    assert failure(None, None, "is empty (0 bytes)") == \
        "Filen kunde inte läsas (orsak på engelska: is empty (0 bytes))."


def test_a_refusal_keeps_its_kind_across_the_reader_workers() -> None:
    import pickle

    sent = Unreadable("has too many pages (600; the limit is 200)", "too_many_pages", count=600,
                      limit=200)
    got = pickle.loads(pickle.dumps(sent))
    assert (str(got), got.kind, got.values) == (str(sent), "too_many_pages", {"count": 600, "limit": 200})
