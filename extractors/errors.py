"""The one error an extractor raises: a file it cannot read, and why, in one line."""


class Unreadable(Exception):
    """The file cannot be read. The message is a short reason, shown as `error: FILE: reason`."""
