"""The commands by which consultants act on what they receive: show, correct, handled, letter,
decide, overview. Each opens the home, calls one function of flows/pipeline/actions.py or
flows/store/overview.py, and prints what came of it; an error is one line and exit status 2."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from blankett.flows.cli.environment import Environment
from blankett.flows.cli.running import EXIT_ERROR, EXIT_OK, open_home
from blankett.flows.home.settings import Home
from blankett.flows.mail.reports import format_amount
from blankett.flows.pipeline.resources import Pipeline, open_pipeline
from blankett.flows.store.actions import quoted
from blankett.models.errors import BlankettError
from blankett.models.messages import DECISIONS, status_word
from blankett.models.normalise import AreaIndex
from blankett.models.spec import FormSpec
from blankett.models.text import one_line

if TYPE_CHECKING:  # imported when the command runs, as the pipeline's other steps are
    from blankett.flows.pipeline.actions import Handled


def who() -> str:
    """The login name: who did it, when --by does not say."""
    try:
        return getpass.getuser()
    except Exception:  # no name for this user id (a container, say): the action still counts
        return "okänd"


@contextmanager
def _pipeline(env: Environment, home: Home) -> Iterator[Pipeline]:
    pipeline = open_pipeline(home, today=env.today)
    try:
        yield pipeline
    finally:
        pipeline.close()


def _acting(env: Environment, root: Path, act: Callable[[Pipeline], None]) -> int:
    """Run `act` on the home's pipeline; any error a user can mend is its one line, status 2.
    The store is all they need: an inbox on a share not mounted stops none of them."""
    home = open_home(env, root, inbox_needed=False)
    if home is None:
        return EXIT_ERROR
    try:
        with _pipeline(env, home) as pipeline:
            act(pipeline)
    except BlankettError as exc:
        env.error(f"error: {exc}")
        return EXIT_ERROR
    return EXIT_OK


def _zone(pipeline: Pipeline) -> ZoneInfo:
    return ZoneInfo(pipeline.home.settings.schedule.timezone)


# --- show ---------------------------------------------------------------------------------------

def cmd_show(env: Environment, root: Path, application_id: int, as_json: bool) -> int:
    from blankett.flows.store.overview import application_record

    def act(pipeline: Pipeline) -> None:
        record = application_record(pipeline.store, pipeline.spec, application_id, _zone(pipeline))
        if as_json:
            print(json.dumps(record, ensure_ascii=False), file=env.stdout)
        else:
            print(_shown(record, pipeline.spec), file=env.stdout)

    return _acting(env, root, act)


def _shown(record: dict[str, Any], spec: FormSpec) -> str:
    """The record for a person, in the words of `status` and the reports: what the application
    says now, then its history."""
    areas, area_index = {a.key: a.name for a in spec.areas}, AreaIndex(spec)
    warned = any(p["severity"] == "warning" for p in record["problems"])
    status = status_word(record["status"]) + (", med varning" if warned and
                                              record["status"] == "complete" else "")
    # A scan not yet read has neither municipality nor activity: its file names it.
    named = record["activity"] or (record["versions"][-1]["file"] if record["versions"] else "–")
    lines = [f"Ansökan {record['id']}: {record['municipality'] or 'okänd kommun'} – "
             f"{named} ({record['year']})",
             f"  Status:       {status}, version {record['version']}",
             f"  Inriktning:   {areas.get(record['area'] or '', 'ingen')}",
             f"  Konsulenter:  {', '.join(record['consultants']) or '–'}"]
    handled = record["handled"]
    lines.append("  Hanterad:     " + (f"{_by(handled)}" + (f": {handled['note']}" if handled["note"]
                                                            else "") if handled else "nej"))
    decision = record["decision"]
    if decision:
        said = DECISIONS[decision["outcome"]]
        amount = f" {format_amount(decision['amount'])}" if decision["amount"] is not None else ""
        note = f": {decision['note']}" if decision["note"] else ""
        lines.append(f"  Beslut:       {said}{amount}, {_by(decision)}{note}")
    else:
        lines.append("  Beslut:       –")
    lines += ["", f"Svar (version {record['version']}):"]
    width = max(len(f["label"].split(" (")[0]) for f in record["fields"])
    for field in record["fields"]:
        value = field["value"]
        shown = "–" if value is None else one_line(
            format_amount(value) if isinstance(value, int) else
            areas.get(value, value) if field["key"] == "strategic_area" else str(value), 60)
        lines.append(f"  {field['label'].split(' (')[0]:<{width}}  {shown:<60}  "
                     f"{_where(field['source'])}".rstrip())
    lines += ["", "Fel och varningar:"]
    lines += [f"  - {p['message']}" for p in record["problems"]] or ["  inga"]
    lines += ["", "Versioner:"]
    for version in record["versions"]:
        lines.append(f"  {version['number']}  {_when(version['received_at'])}  "
                     f"{version['received_as']}  ({version['file']})")
        lines += [f"       {change}" for change in version["changes"]]
    if record["corrections"]:
        lines += ["", "Rättelser:"]
        def named(c: dict[str, Any], value: str | None) -> str | None:
            # An area as given ("Läsfrämjande") or as stored before (its key): by its name.
            if c["field"] != "strategic_area" or not value:
                return value
            keys = area_index.read(value).areas
            return areas[keys[0]] if len(keys) == 1 else value

        lines += [f"  {_when(c['at'])}  {c['by']}: {c['label'].split(' (')[0]} ”{named(c, c['value'])}” "
                  f"(var {quoted(named(c, c['before']))}), version {c['version']}"
                  for c in record["corrections"]]
    if record["letters"]:
        lines += ["", "Brev:"]
        lines += [f"  {_when(letter['at'])}  {letter['by']} till {letter['to'] or '(ingen adress)'}: "
                  f"{'skickat' if letter['sent'] else 'utkast'} {letter['draft']}"
                  for letter in record["letters"]]
    lines += ["", "Meddelanden:"]
    lines += [f"  {'skickat ' + _when(m['sent_at']) if m['state'] == 'sent' else 'väntar':<26}"
              f"{_KINDS.get(m['kind'], m['kind']):<16} till {', '.join(m['to'])}: {m['subject']}"
              for m in record["messages"]] or ["  inga"]
    return "\n".join(lines)


# Each kind of message (flows/store/database.py's Message.kind), as `show` lists it.
_KINDS = {"report": "rapport", "update": "uppdatering", "summary": "sammanställning",
          "letter": "brev"}


def _by(done: dict[str, Any]) -> str:
    return f"av {done['by']} {_when(done['at'])}"


def _when(moment: str | None) -> str:
    return (moment or "")[:16].replace("T", " ")


def _where(source: dict[str, Any] | None) -> str:
    """Where a value was found, in the words of `extract`'s "Hittat" column."""
    if not source:
        return ""
    if source.get("method") == "correction":
        return str(source.get("label") or "")
    how = {"label": "rubrik", "synonym": "synonym", "words": "ord", "position": "plats",
           "shape": "svarets form"}.get(str(source.get("matched_by")), "")
    page = f", s. {source['page']}" if source.get("page") else ""
    return f"”{source.get('label') or '–'}” ({how}, {source.get('method')}{page})"


# --- correct, handled, decide, letter -----------------------------------------------------------

def cmd_correct(env: Environment, root: Path, application_id: int, values: list[str],
                by: str | None) -> int:
    """`values`: FIELD VALUE [FIELD VALUE ...], as given on the command line."""
    from blankett.flows.pipeline.actions import FieldCorrected, correct_fields

    if len(values) % 2:
        env.error(f"error: {values[-1]}: a field without a value; give each field followed by "
                  "its value (\"\" empties it)")
        return EXIT_ERROR

    def act(pipeline: Pipeline) -> None:
        done = correct_fields(pipeline, application_id, list(zip(values[::2], values[1::2],
                                                                 strict=True)), by or who())
        areas = {a.key: a.name for a in pipeline.spec.areas}

        def shown(field: FieldCorrected) -> str:
            value = field.value
            return one_line("tomt" if value is None else format_amount(value)
                            if isinstance(value, int) else
                            areas.get(value, value) if field.key == "strategic_area" and
                            isinstance(value, str) else str(value), 60)

        which = f"Ansökan {done.application_id} ({done.name})"
        same = _listed([f"{f.label} är redan ”{shown(f)}”" for f in done.fields if not f.changed])
        if not done.changed:
            print(f"{which}: inget ändrat; {same}.", file=env.stdout)
            return
        changed = [f for f in done.fields if f.changed]
        state = status_word(done.status) + (f" (saknar: {', '.join(done.lacks)})" if done.lacks
                                             else "")
        print(f"{which}: rättat {_listed([f'{f.label} till ”{shown(f)}”' for f in changed])}"
              + (f" ({same})" if same else "") + f"; ansökan är nu {state}. De som har dess "
              "rapport får veta det vid nästa körning.", file=env.stdout)

    return _acting(env, root, act)


def _listed(items: list[str]) -> str:
    """"a, b och c"."""
    return " och ".join([", ".join(items[:-1]), items[-1]] if len(items) > 1 else items)


def cmd_handled(env: Environment, root: Path, target: str, note: str | None, undo: bool,
                by: str | None) -> int:
    from blankett.flows.pipeline.actions import mark_handled

    def act(pipeline: Pipeline) -> None:
        done = mark_handled(pipeline, target, by or who(), note, undo)
        print(_handled_line(done, note, _zone(pipeline)), file=env.stdout)

    return _acting(env, root, act)


def _handled_line(done: Handled, note: str | None, zone: ZoneInfo) -> str:
    """What `handled` did, in one line; marked again, who marked it first and when."""
    if done.earlier is not None:
        first = (f"{done.name} var redan markerad som hanterad av {done.earlier.by} "
                 f"{done.earlier.at.astimezone(zone):%Y-%m-%d %H:%M}")
        was = f"”{done.earlier.note}”" if done.earlier.note else "ingen anteckning"
        if done.changed:
            return f"{first}; anteckningen är nu ”{note}” (var {was})."
        return f"{first} ({was}); inget ändrat."
    if not done.changed:
        return f"{done.name} var inte markerad som hanterad; inget ändrat."
    if done.handled:
        return (f"{done.name}: markerad som hanterad; den lämnar det som konsulenternas "
                "sammanställningar listar att åtgärda.")
    return f"{done.name}: inte längre hanterad; sammanställningarna listar den att åtgärda igen."


def cmd_decide(env: Environment, root: Path, application_id: int,
               outcome: Literal["granted", "declined"], amount: int | None, note: str | None,
               force: bool, by: str | None) -> int:
    from blankett.flows.pipeline.actions import decide

    def act(pipeline: Pipeline) -> None:
        done = decide(pipeline, application_id, outcome, by or who(), amount, note, force)
        said = DECISIONS[done.outcome] + (f" {format_amount(done.amount)}"
                                          if done.outcome == "granted" else "")
        replaced = f" (ersätter beslutet {DECISIONS[done.replaced]})" if done.replaced else ""
        print(f"Ansökan {application_id} ({done.name}): {said}{replaced}.", file=env.stdout)

    return _acting(env, root, act)


def cmd_letter(env: Environment, root: Path, application_id: int, by: str | None) -> int:
    from blankett.flows.pipeline.actions import write_letter

    def act(pipeline: Pipeline) -> None:
        done = write_letter(pipeline, application_id, by or who())
        if done.complete:
            print(f"Ansökan {application_id} ({done.name}) är komplett: inget brev.",
                  file=env.stdout)
            return
        line = f"Brev om ansökan {application_id} ({done.name}) skrivet: " \
               f"{pipeline.home.root / (done.draft or '')}"
        if done.recipient is None:
            line += (". Ansökan har ingen giltig e-postadress, så utkastet saknar mottagare: "
                     "lägg till en innan det skickas, eller rätta fältet (`blankett correct "
                     f"{application_id} E-post ADRESS`) och skriv brevet igen")
        elif done.sent:
            line += f"; skickat till {done.recipient}"
        elif done.waiting:
            line += (f"; till {done.recipient}, det väntar på nästa körning (kunde inte skickas "
                     "nu; se loggen)")
        else:
            line += f" (ett utkast till {done.recipient}, att granska och skicka)"
        print(line + ".", file=env.stdout)

    return _acting(env, root, act)


# --- overview -----------------------------------------------------------------------------------

def cmd_overview(env: Environment, root: Path, year: int | None, xlsx: Path | None,
                 csv_path: Path | None) -> int:
    from blankett.flows.mail.overview import totals, write_csv, write_workbook
    from blankett.flows.store.overview import overview_rows

    def act(pipeline: Pipeline) -> None:
        chosen = year or pipeline.year
        rows = overview_rows(pipeline.store, pipeline.spec, pipeline.routing, chosen,
                             _zone(pipeline))
        print(f"{len(rows)} {'ansökan' if len(rows) == 1 else 'ansökningar'} {chosen}:",
              file=env.stdout)
        for name, count, sought, granted in totals(rows, pipeline.spec):
            print(f"  {name:<42} {count:>4}  sökt {format_amount(sought):>12}  beviljat "
                  f"{format_amount(granted):>12}", file=env.stdout)
        for path, write in ((xlsx, lambda p: write_workbook(rows, pipeline.spec, chosen, p)),
                            (csv_path, lambda p: write_csv(rows, p))):
            if path is None:
                continue
            try:
                write(path)
            except OSError as exc:
                raise BlankettError(f"{path}: cannot be written ({exc.strerror or exc})") from None
            print(f"Sparad: {path}", file=env.stdout)

    return _acting(env, root, act)
