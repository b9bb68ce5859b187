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
