"""The one base of every error a user can cause and mend: a wrong setting, a missing folder, a
broken file, a server that cannot be reached. Its message is the whole of what the user is shown:
one line, naming the file or setting and what is wrong, without a traceback and without secrets.
Errors of the program itself are not among them: those keep their traceback."""

from __future__ import annotations


class BlankettError(Exception):
    """An error shown to the user as its one-line message."""

    def __init__(self, message: str) -> None:
        # One line whatever the cause put in it: a reason quoted from a library may span several.
        super().__init__(" ".join(str(message).split()))


class SettingWrong(BlankettError):
    """A setting that makes every attempt fail alike until a person mends it (a refused login, a
    server that offers no STARTTLS): no retry, the command's exit status 2."""


class Unreadable(BlankettError):
    """A file that cannot be read as an application. Its message is a short reason in English,
    for logs and `blankett extract` (`error: FILE reason`); `kind` names the reason among
    models.messages.FAILURES, which say it in Swedish to the people who read reports, notes and
    `status`, with `values` (numbers, a format's key) filled in."""

    def __init__(self, message: str, kind: str = "unreadable", **values: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.values = values

    def __reduce__(self) -> tuple[object, tuple[str, str, dict[str, object]]]:
        # A reader worker sends it whole over its pipe: pickled as an exception, only the
        # message would arrive.
        return _unreadable, (str(self), self.kind, self.values)


def _unreadable(message: str, kind: str, values: dict[str, object]) -> Unreadable:
    return Unreadable(message, kind, **values)
