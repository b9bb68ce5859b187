"""Asking for more time: readers that start a program of their own (Tesseract, LibreOffice) say
beforehand how long it may take, so that a worker process reading the file under a time limit
waits that much longer instead of stopping a read that is going well."""

from __future__ import annotations

from collections.abc import Callable

# Set by whoever reads under a time limit (flows.isolation); None when nobody is waiting.
listener: Callable[[float], None] | None = None


def ask_for(seconds: float) -> None:
    """The work about to start may take up to `seconds` more than the read was allowed."""
    if listener is not None:
        listener(seconds)
