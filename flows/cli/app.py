"""The `blankett` command. Thin: parsing options and printing; the work is in the library."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from blankett.flows.cli.environment import Environment
from blankett.models.errors import BlankettError
from blankett.models.limits import LimitSettings
from blankett.models.setting import lowest

app = typer.Typer(
    name="blankett",
    help="Reads grant application forms, checks that every required part is there, and tells the "
         "responsible consultant what came in and what is missing.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help, as click formats it: paragraphs wrapped to the terminal, no type tags on flags.
    rich_markup_mode=None,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Replaced by tests; the commands read it when they run, not when they are defined.
environment = Environment()


def _limit(name: str) -> Any:
    """An option of `extract` that stands for a setting of [limits]: its help and bound are the
    setting's (its default is the setting's, below)."""
    field = LimitSettings.model_fields[name]
    return typer.Option(min=lowest(field),
                        help=f"{field.description} (In a home: the setting limits.{name}.)")


_LIMITS = LimitSettings()


def _version(show: bool) -> None:
    if show:
        from importlib.metadata import version

        print(f"blankett {version('blankett')}", file=environment.stdout)
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Keep the libraries' own warnings about odd files off the terminal."""
    for name in ("pypdf", "pdfminer", "pdfplumber", "PIL"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(
        help="Received forms: Word (.docx; .doc, .odt and .rtf through LibreOffice), PDF, or a "
             "scan or photo (PNG, JPEG, TIFF) read by OCR; the type is read from the content, not "
             "the name. Put -- before names that start with -.",
        show_default=False, metavar="FILE")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per file, one per line.")]
    = False,
    year: Annotated[int | None, typer.Option(help="The grant year the timeline is checked against.",
                                             show_default="this year")] = None,
    spec: Annotated[Path | None, typer.Option(help="A form specification to use instead of the "
                                                   "shipped one (TOML).", show_default=False)] = None,
    routing: Annotated[Path | None, typer.Option(help="A routing table to use instead of the "
                                                      "shipped one (TOML).", show_default=False)] = None,
    max_size_mb: Annotated[int, _limit("max_file_mb")] = _LIMITS.max_file_mb,
    max_pages: Annotated[int, _limit("max_pages")] = _LIMITS.max_pages,
) -> None:
    """Read forms and show every field, what is missing or wrong, and who gets each form.

    Exit status: 0 when every file was read, complete or not; 2 when any could not be; 1 when
    the reader processes could not start (the machine's trouble, not the files').
    """
    from blankett.flows.cli.extract import run_extract

    code = run_extract(environment, files, as_json=json, year=year, spec_path=spec,
                       routing_path=routing, max_size_mb=max_size_mb, max_pages=max_pages)
    raise typer.Exit(code)


HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="The blankett home (folders and blankett.toml) "
                 "[default: $BLANKETT_HOME, else ./blankett-data].", show_default=False),
]


def _home(home: Path | None) -> Path:
    from blankett.flows.cli.home import home_path

    return home_path(environment, home)


@app.command()
def init(
    directory: Annotated[Path | None, typer.Argument(
        help="Where to create the home [default: $BLANKETT_HOME, else ./blankett-data].",
        show_default=False)] = None,
    create_inbox: Annotated[bool, typer.Option(
        "--create-inbox", help="Also create an inbox outside the home (inbox.path on a shared "
        "drive) that is missing; without it, a missing one is taken for a share not mounted.")]
    = False,
    home: Annotated[Path | None, typer.Option(
        "--home", help="Where to create the home, as the other commands name it: the same as "
                       "DIRECTORY.", show_default=False)] = None,
) -> None:
    """Create a home: inbox/, archive/, failed/, outbox/ and a commented blankett.toml.

    An existing home is left as it is; missing folders are added.
    """
    from blankett.flows.cli.home import cmd_init

    if directory is not None and home is not None and directory != home:
        environment.error(f"error: two homes named ({directory} and --home {home}); name one")
        raise typer.Exit(2)
    raise typer.Exit(cmd_init(environment, _home(directory or home), create_inbox))


@app.command()
def run(home: HomeOption = None) -> None:
    """One pass over the inbox, then exit: every complete file is read, checked, filed in
    archive/ (or failed/), and reported to its consultants."""
    from blankett.flows.cli.home import cmd_run

    raise typer.Exit(cmd_run(environment, _home(home)))


@app.command()
def watch(home: HomeOption = None) -> None:
    """Stay up and take files as they arrive in the inbox, with a periodic full scan for shared
    drives that send no change events. Stop with Ctrl-C."""
    from blankett.flows.cli.home import cmd_watch

    raise typer.Exit(cmd_watch(environment, _home(home)))


@app.command()
def nightly(home: HomeOption = None) -> None:
    """Check every application of the grant year against the current rules and routing, read
    again what an older reader read, and send each consultant's triage summary."""
    from blankett.flows.cli.home import cmd_nightly

    raise typer.Exit(cmd_nightly(environment, _home(home)))


@app.command()
def rerun(
    targets: Annotated[list[str] | None, typer.Argument(
        help="Application ids (see `blankett status`) or archived files.", show_default=False)]
    = None,
    all_: Annotated[bool, typer.Option("--all", help="Every application of the grant year.")]
    = False,
    failed: Annotated[bool, typer.Option(
        "--failed", help="The unreadable files in failed/: those read now (after an upgrade, or "
        "once OCR or LibreOffice is installed) are taken in as applications and reported.")]
    = False,
    home: HomeOption = None,
) -> None:
    """Read applications' latest versions again (after the readers improved, say) and report to
    the consultants only where the result changed."""
    from blankett.flows.cli.home import cmd_rerun

    raise typer.Exit(cmd_rerun(environment, _home(home), targets or [], all_, failed))


@app.command()
def status(
    json: Annotated[bool, typer.Option("--json", help="One JSON object per application and line.")]
    = False,
    home: HomeOption = None,
) -> None:
    """One row per application of the grant year: status, what is missing, who got it."""
    from blankett.flows.cli.home import cmd_status

    raise typer.Exit(cmd_status(environment, _home(home), json))


@app.command()
def doctor(home: HomeOption = None) -> None:
    """Check the set-up, one line each: OCR and its Swedish model, LibreOffice for old formats,
    the home's folders, the store, the Prefect server, the SMTP login (nothing is sent).
    Exit status 1 when something needed fails."""
    from blankett.flows.cli.doctor import cmd_doctor

    raise typer.Exit(cmd_doctor(environment, _home(home)))


@app.command()
def serve(home: HomeOption = None) -> None:
    """Serve the intake and nightly flows as Prefect deployments on their schedules.

    Without PREFECT_API_URL a local Prefect server is started (127.0.0.1, its database in the
    home) and stopped on exit; with it, that server is used.
    """
    from blankett.flows.cli.serve import cmd_serve

    raise typer.Exit(cmd_serve(environment, _home(home)))


@app.command()
def demo(
    home: Annotated[Path, typer.Option("--home", help="Where to make the demonstration home.")]
    = Path("blankett-demo"),
) -> None:
    """The whole job on the shipped sample forms: a fresh home, the samples in its inbox, one
    intake pass, then the status table and where the reports landed."""
    from blankett.flows.cli.home import cmd_demo

    raise typer.Exit(cmd_demo(environment, home))


# --- What consultants do (flows/cli/actions.py) -------------------------------------------------

# Taken as text and read by _id: click's own "not a valid integer" is a usage message of three
# lines, where every other mistake is one.
ById = Annotated[str, typer.Argument(help="The application's id (see `blankett status`).",
                                     show_default=False, metavar="ID")]


def _id(given: str) -> int:
    if given.strip().isdigit():
        return int(given)
    environment.error(f"error: {given}: inte ett id för en ansökan; id är talen som `blankett status` "
                      "listar")
    raise typer.Exit(2)
ByOption = Annotated[str | None, typer.Option(
    "--by", help="Who does it, as recorded with it [default: your login name].",
    show_default=False, metavar="NAME")]


@app.command()
def show(
    application_id: ById,
    json: Annotated[bool, typer.Option("--json", help="The whole record as one JSON object.")]
    = False,
    home: HomeOption = None,
) -> None:
    """Everything about one application: its latest fields and where each was read, what is
    missing or wrong, its versions and what each changed, corrections, whether it is handled,
    the decision, letters, and every message about it, sent or waiting."""
    from blankett.flows.cli.actions import cmd_show

    raise typer.Exit(cmd_show(environment, _home(home), _id(application_id), json))


@app.command()
def correct(
    application_id: ById,
    field: Annotated[str, typer.Argument(
        help="The field: its key (requested_amount_sek) or its heading in the form (\"Sökt "
             "belopp\").", show_default=False, metavar="FIELD")],
    value: Annotated[str, typer.Argument(
        help="The right value, as the form would say it (\"30 000\", \"Mölndal\"); \"\" empties "
             "a field that is not required.", show_default=False, metavar="VALUE")],
    more: Annotated[list[str] | None, typer.Argument(
        help="More fields of the same application, each followed by its value: corrected "
             "together, told in one update.", show_default=False,
        metavar="FIELD VALUE")] = None,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Correct fields of an application's latest version that were read wrong or left out.

    The corrections are checked at once like the form's own answers (if the rules refuse one,
    none is recorded) and are used from then on by status, the reports and the summaries, which
    mark them "rättat av NAME"; rerun and nightly keep them. Those who have the application's
    report get one update listing them; moved to another area, its report goes to that area's
    consultants, and the previous ones are told whom it goes to. A value the field already has
    changes nothing. A new version from the applicant is read as it is, and its report says
    whether each correction still agrees with it.
    """
    from blankett.flows.cli.actions import cmd_correct

    raise typer.Exit(cmd_correct(environment, _home(home), _id(application_id),
                                 [field, value, *(more or [])], by))


@app.command()
def handled(
    target: Annotated[str, typer.Argument(
        help="An application's id, or an unreadable file (as `blankett status` lists it, or by "
             "the name it was received as).", show_default=False, metavar="ID|FILE")],
    note: Annotated[str | None, typer.Option(help="What was done (\"ringt, ny version "
                                                  "kommer\").", show_default=False)] = None,
    undo: Annotated[bool, typer.Option("--undo", help="It is to be acted on again.")] = False,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Mark an application, or an unreadable file, handled: it leaves what the consultants'
    summaries list to act on, and status shows it handled."""
    from blankett.flows.cli.actions import cmd_handled

    raise typer.Exit(cmd_handled(environment, _home(home), target, note, undo, by))


class Outcome(StrEnum):
    granted = "granted"
    declined = "declined"


@app.command()
def decide(
    application_id: ById,
    outcome: Annotated[Outcome, typer.Argument(help="granted or declined.", show_default=False)],
    amount: Annotated[int | None, typer.Option(
        help="The amount granted, in kronor [default: the amount sought].",
        show_default=False)] = None,
    note: Annotated[str | None, typer.Option(help="Why, or on what terms.",
                                             show_default=False)] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Grant even so: an application that is not complete, or a second one "
                        "of its municipality this year.")] = False,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Record the decision on an application, once Biblioteksgruppen has prepared it.

    A grant above the grant's highest amount (the form specification's) or above the amount
    sought is refused, as is one for an application that is not complete or for a municipality
    with a granted application this year already (unless --force). Deciding again replaces the
    decision; `blankett show` keeps them all.
    """
    from blankett.flows.cli.actions import cmd_decide

    raise typer.Exit(cmd_decide(environment, _home(home), _id(application_id),
                                "granted" if outcome is Outcome.granted else "declined", amount,
                                note, force, by))


@app.command()
def letter(
    application_id: ById,
    by: ByOption = None,
    home: HomeOption = None,
) -> None:
    """Write a letter to the applicant asking for what the application lacks, part by part
    under the form's own headings, from the consultant of its area.

    It is written as a draft (.eml, which a mail program opens to edit and send) into
    outbox/drafts/; with letters.send = true it is also sent, with a copy to the consultant. A
    complete application gets no letter.
    """
    from blankett.flows.cli.actions import cmd_letter

    raise typer.Exit(cmd_letter(environment, _home(home), _id(application_id), by))


@app.command()
def overview(
    year: Annotated[int | None, typer.Option(help="The grant year.",
                                             show_default="the home's grant year")] = None,
    xlsx: Annotated[Path | None, typer.Option(
        help="Write the workbook here: every application, a sheet per area, the totals per area "
             "with a chart, and the libraries granted support (the learning day's invitations).",
        show_default=False, metavar="FILE")] = None,
    csv: Annotated[Path | None, typer.Option(
        help="Write the applications here as CSV (semicolons, for a Swedish Excel).",
        show_default=False, metavar="FILE")] = None,
    home: HomeOption = None,
) -> None:
    """The year's applications for Biblioteksgruppen and the learning day: totals per area of
    the amounts sought and granted, and with --xlsx or --csv a row per application (municipality,
    library, activity, area, sought, granted, status, version, received, consultant, handled)."""
    from blankett.flows.cli.actions import cmd_overview

    raise typer.Exit(cmd_overview(environment, _home(home), year, xlsx, csv))


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops like Ctrl-C: runs end cleanly and the Prefect
    server a command started is shut down with it."""
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _short_helps() -> None:
    """The command list shows each command's first sentence whole; click would cut it at 45
    characters."""
    for command in app.registered_commands:
        if command.short_help is None and command.callback is not None and command.callback.__doc__:
            first = " ".join(command.callback.__doc__.split("\n\n")[0].split())
            command.short_help = first.split(". ")[0].rstrip(".") + "."


_short_helps()


# typer carries a click of its own and exports one of its errors: the classes of the rest, for
# errors said in one line (`invoke`), are that one's bases.
_CLICK_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
_USAGE_ERROR: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def invoke(args: Sequence[str] | None = None, env: Environment | None = None) -> int:
    """The command line on `args` (the process's own by default), printing to `env` (the
    process's streams by default): its exit status. Every error a person can cause ends as one
    line on stderr, never a traceback. Tests run commands through here, in their own process."""
    global environment
    saved = environment
    if env is not None:
        environment = env
    try:
        # click prints help on sys.stdout.
        with redirect_stdout(environment.stdout), redirect_stderr(environment.stderr):
            try:
                code = app(args=None if args is None else list(args), prog_name="blankett",
                           standalone_mode=False)
            except _CLICK_ERROR as exc:
                if type(exc).__name__ == "NoArgsIsHelpError":  # `blankett` alone: the help
                    exc.show()
                elif isinstance(exc, _USAGE_ERROR) and exc.ctx is not None:
                    # click's own would be a usage line, a hint and the error: three lines.
                    said = exc.format_message().replace("Value error, ", "")  # pydantic's
                    environment.error(f"error: {said} (see `{exc.ctx.command_path} --help`)")
                else:
                    environment.error(f"error: {exc.format_message()}")
                return exc.exit_code
            except SystemExit as exit_:
                if exit_.code is None or isinstance(exit_.code, int):
                    return exit_.code or 0
                environment.error(str(exit_.code))
                return 1
            except BlankettError as exc:
                # Each command says what went wrong where it knows the file; one that gets here
                # is still one line.
                environment.error(f"error: {exc}")
                return 2
            return code if isinstance(code, int) else 0
    finally:
        environment = saved


def main() -> None:
    _stop_on_sigterm()
    try:
        code = invoke()
    except BrokenPipeError:
        # `blankett status | head`: the reader has all it wanted.
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    raise SystemExit(code)
