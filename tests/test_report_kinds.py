"""What each message tells, over a realistic batch taken in three passes: one report per version
of a form, one update per real change of what a report said (a warning that came), nothing for a
copy; an update says it is one and only what changed; the daily summary shows warnings and says
which came since the last one."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from pipeline_support import (
    AREAS,
    Recording,
    by_name,
    drop,
    intake_pass,
    make_home,
    parse,
    plain_body,
    write_routing,
)
from sqlalchemy import select

from blankett.fixtures.corpus import Case, _Builder
from blankett.fixtures.docx_builders import template_document
from blankett.fixtures.form import MUNICIPALITIES
from blankett.fixtures.themes import THEMES
from blankett.flows.home.settings import Home
from blankett.flows.mail.messaging import deliver_pending, queue_summaries
from blankett.flows.mail.reports import cell
from blankett.flows.pipeline.resources import open_pipeline
from blankett.flows.pipeline.revalidation import revalidate_all
from blankett.flows.store.database import Application, Message, Store, Submission
from blankett.models.messages import message

# The two reasons the issue quotes: an empty file, a text file.
UNREADABLE = ("ansokan_tom.docx", "ansokan.txt")
# The ways one municipality's forms arrive: (activity, pass, version) for each form. Activities
# differ in their theme, so in their name; version 1 of a corrected form asks for too much.
PLANS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "single": ((0, 1, 2),),
    "pair": ((0, 1, 2), (1, 1, 2)),
    "second_later": ((0, 1, 2), (1, 2, 2)),
    "second_later_corrected": ((0, 1, 2), (1, 2, 1), (1, 3, 2)),
    "corrected": ((0, 1, 1), (0, 2, 2)),
    "third_later": ((0, 1, 2), (1, 1, 2), (2, 3, 2)),
    "pair_then_corrected": ((0, 1, 1), (1, 1, 2), (0, 2, 2)),
}
# How many municipalities arrive each way: all 49 of the region, 97 forms.
GROUPS = {"single": 12, "pair": 8, "second_later": 10, "second_later_corrected": 3, "corrected": 8,
          "third_later": 6, "pair_then_corrected": 2}
# What each activity must be told besides a report of each of its versions, by plan: an update
# when another activity of its municipality arrives in a later pass than its own report went.
# In the same pass its report has not gone yet: it goes with the warning in it instead. A
# corrected form is the same activity, and tells the others nothing new.
UPDATES: dict[str, dict[int, int]] = {
    "second_later": {0: 1}, "second_later_corrected": {0: 1}, "third_later": {0: 1, 1: 1},
}


@dataclass(frozen=True)
class Form:
    case: Case
    municipality: str
    title: str
    passed: int  # the pass that takes it: 1, 2 or 3


@dataclass
class Batch:
    forms: list[Form]
    # (municipality, title), or the unreadable file's name -> messages of each kind it must get
    expected: dict[tuple[str, str] | str, Counter[str]]
    groups: dict[str, list[str]]  # group -> its municipalities


def _batch(corpus: list[Case]) -> Batch:
    """Forms of every municipality of the region, arriving as GROUPS and PLANS say, two
    unreadable files, and a copy of a file already taken (which is told to nobody); and what
    each application must be told, from how its forms arrive."""
    builder = _Builder(2026)
    forms: list[Form] = []
    expected: dict[tuple[str, str] | str, Counter[str]] = {}
    groups: dict[str, list[str]] = {}
    places = iter(MUNICIPALITIES)
    for group, count in GROUPS.items():
        for n in range(count):
            place = next(places)
            groups.setdefault(group, []).append(place)
            made = [(activity, _form(builder, place, n + activity, passed, version))
                    for activity, passed, version in PLANS[group]]
            forms += [form for _, form in made]
            for activity, form in made:
                told = Counter(report=sum(a == activity for a, _ in made))
                if updates := UPDATES.get(group, {}).get(activity):
                    told["update"] = updates
                expected[(place, form.title)] = told
    for case in by_name(corpus, *UNREADABLE):
        forms.append(Form(case, "", "", 2))
        expected[case.name] = Counter(report=1)
    copy = forms[0].case
    forms.append(Form(Case(f"kopia av {copy.name}", copy.data, copy.kind, copy.fields,
                           copy.problems, copy.complete, None, copy.tags), "", "", 2))
    return Batch(forms, expected, groups)


def _form(builder: _Builder, municipality: str, theme: int, passed: int, version: int) -> Form:
    app = builder.app(municipality, theme=THEMES[theme % len(THEMES)])
    if version == 1:  # asks for too much; the correction mends it
        app = app.change("requested_amount_sek", "60 000 kr", 60000,
                         ("requested_amount_sek", "amount_too_high"))
    title = str(app.expected["project_title"])
    name = f"{municipality}-{len(builder.cases)}-v{version}.docx"
    builder.docx(name, app, template_document(app), "template")
    return Form(builder.cases[-1], municipality, title, passed)


@dataclass
class Taken:
    home: Home
    batch: Batch
    summaries: dict[str, dict[str, EmailMessage]]  # day -> consultant -> summary


@pytest.fixture(scope="module")
def taken(corpus: list[Case], tmp_path_factory: pytest.TempPathFactory) -> Taken:
    """The batch taken in three passes, each delivered before the next; the consultants'
    summaries written after the first pass and after the second."""
    batch = _batch(corpus)
    home = make_home(tmp_path_factory.mktemp("home"))
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    summaries: dict[str, dict[str, EmailMessage]] = {}
    try:
        for passed, day in ((1, "2026-03-02"), (2, "2026-03-03"), (3, None)):
            drop(home, [f.case for f in batch.forms if f.passed == passed])
            taken, delivered = intake_pass(pipeline)
            assert len(taken) == sum(f.passed == passed for f in batch.forms)
            assert delivered.failed == delivered.pending == 0
            if day is not None:
                recording.messages.clear()
                queue_summaries(pipeline, day, datetime.now(UTC))
                deliver_pending(pipeline)
                summaries[day] = {m["To"].addresses[0].addr_spec: m for m in recording.messages}
    finally:
        pipeline.close()
    return Taken(home, batch, summaries)


def _messages(home: Home) -> list[tuple[tuple[str, str] | str, str, EmailMessage]]:
    """Each report and update: whom it is about, its kind, the message."""
    store = Store(home.database_url)
    try:
        with store.session() as session:
            apps = {a.id: (a.municipality, a.title) for a in session.scalars(select(Application))}
            names = {s.id: s.original_name for s in session.scalars(select(Submission))}
            return [(apps[m.application_id] if m.application_id else names[m.submission_id],
                     m.kind, parse(m.raw))
                    for m in session.scalars(select(Message).where(Message.kind != "summary"))]
    finally:
        store.close()


def test_one_report_per_version_and_one_update_per_change(taken: Taken) -> None:
    batch = taken.batch
    assert len(batch.forms) == 100
    got: dict[tuple[str, str] | str, Counter[str]] = {}
    for about, kind, _ in _messages(taken.home):
        got.setdefault(about, Counter())[kind] += 1
    assert got == batch.expected
    # In all: a report for every file but the copy, and an update for each activity that was
    # told of another after its report went.
    assert sum(sum(c.values()) for c in got.values()) == 99 + GROUPS["second_later"] + \
        GROUPS["second_later_corrected"] + 2 * GROUPS["third_later"]


def test_an_update_says_it_is_one_and_only_what_changed(taken: Taken) -> None:
    titles = {(f.municipality, f.title) for f in taken.batch.forms}
    updates = [(about, m) for about, kind, m in _messages(taken.home) if kind == "update"]
    assert updates
    for (municipality, title), update in updates:
        assert str(update["Subject"]).startswith(f"Uppdaterad rapport: {municipality} – {title} (")
        body = plain_body(update)
        assert body.startswith("Rapporten om en ansökan om stöd till biblioteksutveckling har ändrats.")
        assert "har kommit in" not in body.split("\n\n")[0]
        assert list(update.iter_attachments()) == []
        changed = body.split("Ändrat:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        # Only the warning that came: the other activity, named.
        (line,) = changed
        others = [t for m, t in titles if m == municipality and t != title]
        assert any(line == "  - Ny varning: " + message("second_application", municipality=municipality,
                                                          other=other, year=2026)
                   for other in others), line
        assert "Svar i ansökan" not in body and "Ändringar mot förra versionen" not in body


def test_a_report_tells_of_its_version_and_carries_the_original(taken: Taken) -> None:
    reports = [m for _, kind, m in _messages(taken.home) if kind == "report"]
    assert len(reports) == 99
    for report in reports:
        body = plain_body(report)
        assert len(list(report.iter_attachments())) == 1
        if "version 2" in str(report["Subject"]):
            assert body.startswith("En ny version av en ansökan")
            assert "Ändringar mot förra versionen:" in body
        else:
            # A first version has no earlier one to differ from.
            assert body.startswith(("En ansökan om stöd till biblioteksutveckling har kommit in.",
                                    "En fil har kommit in som inte kan läsas automatiskt."))
            assert "Ändringar mot förra versionen" not in body


def test_two_activities_in_one_pass_are_each_reported_once_with_the_warning(taken: Taken) -> None:
    for municipality in taken.batch.groups["pair"]:
        reports = [m for about, _, m in _messages(taken.home)
                   if isinstance(about, tuple) and about[0] == municipality]
        assert len(reports) == 2
        for report in reports:
            assert "(komplett, med varning)" in str(report["Subject"])
            assert "Endast en ansökan per kommun och år kan beviljas." in plain_body(report)


def test_the_summary_shows_warnings_and_which_came_since_the_last(taken: Taken) -> None:
    """A second activity arrives after the first summary: the next one says so of the first
    activity, and shows the warning under its row; neither read "komplett" alone."""
    later = taken.batch.groups["second_later"]
    forms = [f for f in taken.batch.forms if f.municipality in later]
    before, after = taken.summaries["2026-03-02"], taken.summaries["2026-03-03"]
    for first in (f for f in forms if f.passed == 1):
        (second,) = [f for f in forms if f.municipality == first.municipality and f.passed == 2]
        warning = message("second_application", municipality=first.municipality,
                          other=second.title, year=2026)
        for address in AREAS[str(first.case.fields["strategic_area"])]:
            body = plain_body(after[address])
            news = body.split("Nytt sedan förra sammanställningen:\n", 1)[1].split("\n\n", 1)[0]
            assert f"  - Ny varning: {first.municipality} – {first.title}: {warning}" in news
            assert _under_row(body, first) == f"Varning: {warning}"
            (row,) = [line for line in body.splitlines()
                      if line.startswith(f"  {cell(first.municipality, 13)} {cell(first.title, 30)}")]
            assert " komplett, med varning " in row  # as its HTML part and the reports say it
            html = after[address].get_body(("html",)).get_content()
            row = html[html.index(f"<td>{first.municipality}</td>\n<td>{first.title}</td>"):]
            row = row.split("</tr>", 1)[0]
            assert "komplett, med varning" in row and warning in row
            assert "Ny varning" not in plain_body(before[address])
            assert "Varning:" not in _under_row(plain_body(before[address]), first)


def _under_row(body: str, form: Form) -> str:
    """What the text summary says under an application's row, on one line."""
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(f"  {cell(form.municipality, 13)} {cell(form.title, 30)}"))
    under = []
    for line in lines[start + 1:]:
        if not line.startswith(" " * 16):
            break
        under.append(line.strip())
    return " ".join(under)


def test_a_report_checked_again_is_an_update_to_who_had_it_and_whole_to_who_did_not(
        corpus: list[Case], tmp_path: Path) -> None:
    """The digital area gains a consultant, and the application is checked again (`rerun`):
    its consultant, who had the report, is told what changed; the new one, who had nothing, gets
    the whole report with the original."""
    (case,) = by_name(corpus, "docx_mall_goteborg.docx")
    assert case.fields["strategic_area"] == "digital"
    home = make_home(tmp_path / "home")
    drop(home, [case])
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    try:
        intake_pass(pipeline)
    finally:
        pipeline.close()
    write_routing(home.root, {**AREAS, "digital": ("digital@example.org", "new@example.org")})
    recording = Recording()
    pipeline = open_pipeline(home, delivery=recording)
    try:
        assert revalidate_all(pipeline, reread=True, report=True).changed == 1
        deliver_pending(pipeline)
    finally:
        pipeline.close()
    sent = {to[0]: message for to, message in recording.envelopes}
    assert sorted(sent) == ["digital@example.org", "new@example.org"]
    title = f"Göteborg – {case.fields['project_title']} (komplett)"
    update, whole = sent["digital@example.org"], sent["new@example.org"]
    assert str(update["Subject"]) == f"Uppdaterad rapport: {title}"
    assert list(update.iter_attachments()) == []
    assert plain_body(update).split("Ändrat:\n", 1)[1].split("\n\n", 1)[0] == (
        "  - Läst om med nya regler eller ny läsare.\n"
        "  - Går nu till: digital@example.org, new@example.org.")
    assert str(whole["Subject"]) == f"Ansökan: {title}"
    assert [a.get_filename() for a in whole.iter_attachments()] == [case.name]
    body = plain_body(whole)
    assert body.startswith("Rapporten om en ansökan om stöd till biblioteksutveckling har ändrats")
    assert "Ändrat:\n  - Läst om med nya regler eller ny läsare." in body and "Svar i ansökan:" in body
    assert [to for to, _ in recording.envelopes] == [["digital@example.org"], ["new@example.org"]]
