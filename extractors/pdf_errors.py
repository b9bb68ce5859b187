"""What the PDF libraries raise on a broken file, and the one-line reasons a PDF is refused with.

Only library calls are wrapped with these, so that a bug of ours still surfaces as one.
"""

from __future__ import annotations

import struct
import zlib

from pdfminer.psexceptions import PSException
from pypdf.errors import PyPdfError

from blankett.extractors.errors import Unreadable

# What pdfminer raises on a broken file (its own errors derive from PSException; a few plain
# ones slip through).
MINER_ERRORS: tuple[type[BaseException], ...] = (
    PSException, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
    RecursionError, OverflowError, EOFError, NotImplementedError, zlib.error, struct.error,
)
# What pypdf raises on a broken file.
PYPDF_ERRORS: tuple[type[BaseException], ...] = (
    PyPdfError, ValueError, KeyError, IndexError, TypeError, AttributeError, AssertionError,
    RecursionError, OverflowError, EOFError, NotImplementedError, zlib.error, struct.error,
)

def encrypted() -> Unreadable:
    return Unreadable("is encrypted (password-protected); ask for an unprotected copy", "encrypted")


def damaged(exc: BaseException | str) -> Unreadable:
    reason = " ".join(str(exc).split())[:120] or type(exc).__name__
    return Unreadable(f"is a damaged PDF: {reason}", "damaged_pdf")
