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
