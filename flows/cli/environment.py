"""Where the command line writes and what it reads from its surroundings, gathered in one object
so that tests replace it instead of patching streams."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import TextIO


@dataclass
class Environment:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    variables: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    today: date = field(default_factory=date.today)

    @property
    def stdout_is_terminal(self) -> bool:
        return _is_terminal(self.stdout)

    @property
    def stderr_is_terminal(self) -> bool:
        return _is_terminal(self.stderr)

    def error(self, line: str) -> None:
        """One line on stderr; the caller decides the exit code."""
        print(line, file=self.stderr, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
