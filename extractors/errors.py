"""The one error an extractor raises: a file it cannot read, and why, in one line."""

from blankett.models.errors import BlankettError


class Unreadable(BlankettError):
    """The file cannot be read. The message is a short reason, shown as `error: FILE: reason`."""
