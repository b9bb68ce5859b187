"""Everything a pass over the inbox or a nightly run needs, opened once: the home, the store,
the examiner, the way messages leave. Tests build one over a temp home and a local SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from blankett.flows.home.settings import Home
from blankett.flows.mail.delivery import Delivery, OutboxDelivery, SmtpDelivery
from blankett.flows.pipeline.examine import Examiner
from blankett.flows.store.database import Store
from blankett.models.limits import Limits
from blankett.models.spec import FormSpec, Routing, load_routing, load_spec


@dataclass
class Pipeline:
    home: Home
    store: Store
    spec: FormSpec
    routing: Routing
    examiner: Examiner
    delivery: Delivery
    year: int
    sender: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    instance: str = ""  # the store's own name, in every Message-ID

    def close(self) -> None:
        self.store.close()


def open_pipeline(home: Home, *, today: date | None = None,
                  delivery: Delivery | None = None) -> Pipeline:
    """Raises ConfigError, SettingsError or StoreError with one line for the user."""
    settings = home.settings
    spec = load_spec(home.optional_path(settings.routing.spec_file))
    routing = load_routing(home.optional_path(settings.routing.file))
    year = home.year(today or date.today())
    limits = Limits.of(settings.limits, settings.ocr)
    store = Store(home.database_url)
    return Pipeline(
        home=home,
        store=store,
        instance=store.instance(),
        spec=spec,
        routing=routing,
        examiner=Examiner(spec, routing, year, limits),
        delivery=delivery or delivery_for(home),
        year=year,
        sender=settings.smtp.sender,
    )


def delivery_for(home: Home) -> Delivery:
    smtp = home.settings.smtp
    if not smtp.host:
        return OutboxDelivery(home.outbox)
    password = smtp.password.get_secret_value() if smtp.user and smtp.password else None
    return SmtpDelivery(smtp.host, smtp.port, starttls=smtp.starttls, ssl=smtp.ssl,
                        username=smtp.user or None, password=password,
                        timeout=smtp.timeout_seconds)


def relative(home: Home, path: Path) -> str:
    try:
        return str(path.relative_to(home.root))
    except ValueError:
        return str(path)
