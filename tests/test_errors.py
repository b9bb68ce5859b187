"""Every error a user can cause shares one base, whose message is the one line they are shown."""

from __future__ import annotations

import pytest

from blankett.extractors.errors import Unreadable
from blankett.flows.home.locking import Busy
from blankett.flows.home.settings import SettingsError
from blankett.flows.mail.delivery import DeliveryError, ServerUnavailable
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
