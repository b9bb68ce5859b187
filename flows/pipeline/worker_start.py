"""Imported once into the reader forkserver (see isolation.py), never elsewhere.

A worker whose run is killed while handing it the file cannot even start: multiprocessing then
prints a traceback into the log of the run that is gone. One line says the same.
"""

from __future__ import annotations

import pickle
import sys
from types import TracebackType


def _one_line(kind: type[BaseException], value: BaseException,
              traceback: TracebackType | None) -> None:
    if not issubclass(kind, (EOFError, OSError, pickle.UnpicklingError)):
        sys.__excepthook__(kind, value, traceback)  # anything else is a fault worth its detail
        return
    sys.stderr.write(f"a reader worker did not start ({kind.__name__}: {value}); "
                     "the run that asked for it has probably stopped\n")


sys.excepthook = _one_line
