"""Old and other word-processor formats (.doc, .odt, .rtf), turned into .docx by LibreOffice and
then read as Word files.

LibreOffice runs headless in a process group of its own, with a profile of its own (a LibreOffice
the user has open must not take the job) and under a time limit; inside a reader worker it also
keeps the worker's memory limit. Without LibreOffice such a file is refused with one line that
says how to have it read.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from blankett.extractors import patience
from blankett.extractors.errors import Unreadable
from blankett.extractors.sniff import sniff

if TYPE_CHECKING:
    from blankett.extractors.context import ReadContext
    from blankett.models.records import Extraction

Legacy = Literal["doc", "odt", "rtf"]
INSTALL_HINT = "sudo apt-get install libreoffice-writer-nogui"
_NAMES: dict[Legacy, str] = {
    "doc": "an old Word file (.doc, Word 97-2003)",
    "odt": "an OpenDocument text (.odt)",
    "rtf": "a Rich Text file (.rtf)",
}


@cache
def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def read_converted(data: bytes, context: ReadContext) -> Extraction:
    """An old Word file, an OpenDocument text or a Rich Text file, read as the Word file
    LibreOffice makes of it."""
    from blankett.extractors.docx import read_docx

    kind = sniff(data)
    if kind not in _NAMES:
        raise ValueError(f"not a format LibreOffice converts here: {kind}")
    return read_docx(to_docx(data, kind, context.limits.convert_seconds), context)


def to_docx(data: bytes, kind: Legacy, seconds: float) -> bytes:
    """The document as LibreOffice saves it as .docx; Unreadable when it cannot."""
    program = soffice()
    if program is None:
        raise Unreadable(f"is {_NAMES[kind]}; install LibreOffice to have it read "
                         f"({INSTALL_HINT}), or ask for a .docx or PDF", "needs_libreoffice",
                         format=kind)
    with tempfile.TemporaryDirectory(prefix="blankett-convert-") as tmp:
        folder = Path(tmp)
        source = folder / f"form.{kind}"
        source.write_bytes(data)
        command = [program, f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                   "--norestore", "--convert-to", "docx", "--outdir", str(folder / "out"), str(source)]
        patience.ask_for(seconds)
        # Its own session, so that its helpers can be stopped with it. Should the worker reading
        # the file be killed meanwhile, the CPU limit LibreOffice inherits from it still ends it.
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            raise Unreadable(f"is {_NAMES[kind]} that LibreOffice could not convert within "
                             f"{seconds:g} s", "convert_timeout", format=kind,
                             seconds=seconds) from None
        finally:
            # Also on an interrupt: no LibreOffice left running in the background.
            if process.poll() is None:
                _kill(process)
        converted = folder / "out" / "form.docx"
        if not converted.is_file():
            raise Unreadable(f"is {_NAMES[kind]} that LibreOffice cannot open: damaged, or not "
                             "a text document", "convert_failed", format=kind)
        return converted.read_bytes()


def _kill(process: subprocess.Popen[bytes]) -> None:
    """LibreOffice starts helpers of its own: stop its whole process group."""
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
