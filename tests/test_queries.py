"""The questions the commands ask of the store: which application a `rerun` target names, and
what `status` lists."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pipeline_support import by_name, drop, intake_pass, make_home

from blankett.fixtures.corpus import Case
from blankett.flows.mail.delivery import OutboxDelivery
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.store.queries import UnknownTarget, application_ids, status_rows

NAMES = ("docx_mall_goteborg.docx", "docx_ofullstandig_vara.docx", "ansokan_trasig.docx")


@pytest.fixture
def taken(corpus: list[Case], tmp_path: Path):  # type: ignore[no-untyped-def]
    home = make_home(tmp_path / "home")
    drop(home, by_name(corpus, *NAMES))
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    intake_pass(pipeline)
    yield pipeline
    pipeline.close()


def test_a_target_is_an_id_an_archived_file_or_the_name_received(taken) -> None:  # type: ignore[no-untyped-def]
    rows = status_rows(taken.store, 2026, ZoneInfo("Europe/Stockholm"), ["fallback@example.org"])
    by_received = {row["received_as"]: row for row in rows}
    goteborg = by_received["docx_mall_goteborg.docx"]
    root = taken.home.root
    assert application_ids(taken.store, root, [str(goteborg["id"])]) == [goteborg["id"]]
    assert application_ids(taken.store, root, ["docx_mall_goteborg.docx"]) == [goteborg["id"]]
    assert application_ids(taken.store, root, [str(root / goteborg["file"])]) == [goteborg["id"]]
    assert by_received["ansokan_trasig.docx"]["status"] == "unreadable"
    assert by_received["ansokan_trasig.docx"]["consultants"] == ["fallback@example.org"]


@pytest.mark.parametrize(("target", "said"), [
    ("999", "999: no application of this home has this id"),
    ("okand.docx", "okand.docx: no application has this file"),
    ("/elsewhere/ansokan.docx", "/elsewhere/ansokan.docx: not inside"),
])
def test_a_target_naming_nothing_is_one_line_naming_it(taken, target: str, said: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownTarget, match=said):
        application_ids(taken.store, taken.home.root, [target])


def test_log_times_are_in_the_homes_zone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging
    import time
    from datetime import datetime

    from blankett.flows.orchestration.setup import prepare_prefect

    home = make_home(tmp_path / "home")
    for name in ("TZ", "PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK",
                 "PREFECT_LOGGING_EXTRA_LOGGERS", "PREFECT_LOGGING_LEVEL"):
        monkeypatch.setenv(name, "UTC" if name == "TZ" else "x")
    try:
        prepare_prefect(home)
        stamp = logging.Formatter("%(asctime)s", "%H:%M").format(
            logging.LogRecord("x", logging.INFO, "", 0, "", None, None))
        assert stamp == datetime.now(ZoneInfo(home.settings.schedule.timezone)).strftime("%H:%M")
    finally:
        monkeypatch.undo()
        time.tzset()


def test_status_shows_reports_waiting_and_warnings(store_url: str, corpus: list[Case],
                                                   tmp_path: Path) -> None:
    """A report that could not go out is not hidden behind an earlier one's time; warnings are
    shown beside what is missing."""
    from pipeline_support import Recording

    home = make_home(tmp_path / "home", store_url=store_url)
    drop(home, by_name(corpus, "docx_mall_goteborg.docx", "docx_korta_svar_bengtsfors.docx"))
    down = Recording(failing=True)
    pipeline = open_pipeline(home, delivery=down)
    zone = ZoneInfo("Europe/Stockholm")
    try:
        intake_pass(pipeline)
        rows = {r["received_as"]: r for r in status_rows(pipeline.store, 2026, zone, [])}
        assert [r["pending_messages"] for r in rows.values()] == [1, 1]
        assert [r["last_report_sent"] for r in rows.values()] == [None, None]
        assert set(rows["docx_korta_svar_bengtsfors.docx"]["warnings"]) == {"too_short"}
        assert rows["docx_mall_goteborg.docx"]["warnings"] == []
        pipeline.delivery = OutboxDelivery(home.outbox)
        intake_pass(pipeline)
        rows = {r["received_as"]: r for r in status_rows(pipeline.store, 2026, zone, [])}
        assert [r["pending_messages"] for r in rows.values()] == [0, 0]
        assert all(r["last_report_sent"] for r in rows.values())
    finally:
        pipeline.close()


def test_status_says_in_swedish_what_each_lacks_and_its_warnings(corpus: list[Case], tmp_path: Path) -> None:
    """Two activities of one municipality each show the warning; a double-ticked area, an amount
    too high and an empty file show what they are, in Swedish; --json keeps the codes."""
    import io
    import re

    from blankett.fixtures.corpus import _Builder
    from blankett.fixtures.docx_builders import template_document
    from blankett.fixtures.themes import THEMES
    from blankett.flows.cli.environment import Environment
    from blankett.flows.cli.status_table import print_status

    builder = _Builder(2026)
    bokstart = builder.app("Göteborg", None, THEMES[3])  # Göteborg's second activity
    builder.docx("goteborg_bokstart.docx", bokstart, template_document(bokstart), "template")
    home = make_home(tmp_path / "home")
    drop(home, [*by_name(corpus, "docx_mall_goteborg.docx", "docx_tva_omraden_tidaholm.docx",
                         "docx_alingsas_v1.docx", "ansokan_tom.docx"), builder.cases[-1]])
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        intake_pass(pipeline)
        rows = {r["received_as"]: r for r in status_rows(pipeline.store, 2026,
                                                         ZoneInfo("Europe/Stockholm"), [])}
    finally:
        pipeline.close()
    for name in ("docx_mall_goteborg.docx", "goteborg_bokstart.docx"):
        assert (rows[name]["status"], rows[name]["warnings"]) == ("complete", ["second_application"])
    assert (rows["docx_tva_omraden_tidaholm.docx"]["errors"],
            rows["docx_tva_omraden_tidaholm.docx"]["missing"]) == (["area_ambiguous"], [])
    assert rows["ansokan_tom.docx"]["reason"] == "Filen är tom (0 byte)."

    out = io.StringIO()
    print_status(Environment(stdout=out, variables={}), list(rows.values()), home)
    table = out.getvalue()
    # Each row's first line, found by its activity (an unreadable file's: its name).
    lines = {name: next(line for line in table.splitlines() if (row["activity"] or name)[:20] in line)
             for name, row in rows.items()}
    for name in ("docx_mall_goteborg.docx", "goteborg_bokstart.docx"):
        assert re.search(r"komplett +varning: kommunens andra", lines[name]), lines[name]
    assert re.search(r"ofullständig +flera inriktningar valda", lines["docx_tva_omraden_tidaholm.docx"])
    assert re.search(r"ofullständig +för högt belopp", lines["docx_alingsas_v1.docx"])
    assert re.search(r"oläslig +Filen är tom \(0 byte\)\.", lines["ansokan_tom.docx"])
    assert "Strategisk inriktning" not in table
    for english in ("complete", "unreadable", "amount_too_high", "area_ambiguous", "is empty",
                    "waiting", "municipality"):
        assert english not in table


def test_every_warning_in_status_names_what_it_is_about(corpus: list[Case], tmp_path: Path) -> None:
    """A missing own contribution reads "varning: Egen insats saknas", never "varning: saknas";
    a warning one field among several can have names the field, by the short label status uses."""
    import io

    from blankett.flows.cli.environment import Environment
    from blankett.flows.cli.status_table import print_status
    from blankett.models.messages import SHORT, short
    from blankett.models.spec import load_spec

    # Every warning the rules and readers can give has its words, and those a field shares with
    # other fields name it.
    spec = load_spec()
    for code in ("missing", "guessed_label", "too_short", "timeline_no_date", "support_unspecified",
                 "invalid_phone", "second_application", "ocr"):
        said = short(code, "Mål", "warning")
        assert code in SHORT and said not in (code, "saknas"), code
        if code in ("missing", "guessed_label", "too_short"):
            assert "Mål" in said, said

    home = make_home(tmp_path / "home")
    drop(home, by_name(corpus, "docx_utan_egen_insats_hjo.docx", "docx_korta_svar_bengtsfors.docx"))
    pipeline = open_pipeline(home, delivery=OutboxDelivery(home.outbox))
    try:
        intake_pass(pipeline)
        rows = status_rows(pipeline.store, 2026, ZoneInfo("Europe/Stockholm"), [])
    finally:
        pipeline.close()
    out = io.StringIO()
    print_status(Environment(stdout=out, variables={}), rows, home)
    table = _column(out.getvalue(), "brister / varningar", "konsulenter")
    labels = {f.key: f.label.split(" (")[0] for f in spec.fields}
    (hjo,) = by_name(corpus, "docx_utan_egen_insats_hjo.docx")
    assert ("own_contribution", "missing") in hjo.problems
    assert f"varning: {labels['own_contribution']} saknas" in table, table
    assert "varning: saknas" not in table
    (bengtsfors,) = by_name(corpus, "docx_korta_svar_bengtsfors.docx")
    for field, code in bengtsfors.problems:
        if code == "too_short":
            assert f"varning: {labels[field]} mycket kort" in table, (field, table)


def _column(table: str, header: str, following: str) -> str:
    """A column of the status table, its lines joined: what a cell says, however it wrapped."""
    lines = table.splitlines()
    start, end = lines[0].index(header), lines[0].index(following)
    return " ".join(" ".join(line[start:end] for line in lines[1:]).split())
