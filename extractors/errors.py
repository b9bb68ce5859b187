"""The one error an extractor raises: a file it cannot read, why in one line, and the kind of
reason (models/errors.py, where the limits can raise it too)."""

from blankett.models.errors import Unreadable

__all__ = ["Unreadable"]
