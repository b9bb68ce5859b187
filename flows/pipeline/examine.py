"""One received file from path to checked report: read, hash, extract, validate.

Plain functions, shared by the command line and the pipeline; nothing here needs Prefect.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import warnings
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from pathlib import Path

from blankett.extractors import ReadContext, Unreadable, read
from blankett.flows.pipeline.isolation import Refused, WorkerUnavailable, read_isolated
from blankett.models.limits import MB, Limits
from blankett.models.records import Extraction, Report
from blankett.models.spec import FormSpec, Routing
from blankett.models.text import one_line
from blankett.models.validation import Rules, check, flag_second_applications


@dataclass(frozen=True)
class Failure:
    """A file that could not be read, and why, in one line."""

    file: str
    reason: str

    @property
    def line(self) -> str:
        # One line whatever a library put into its message.
        return f"error: {self.file} {' '.join(self.reason.split())}"


@dataclass
class Examiner:
    """Reads and checks files with one spec, one routing table and one grant year."""

    spec: FormSpec
    routing: Routing
    year: int
    limits: Limits

    def __post_init__(self) -> None:
        self.context = ReadContext(self.spec, self.limits)
        self.rules = Rules(self.spec, self.routing, self.year)

    def examine_path(self, path: Path, name: str | None = None) -> Report | Failure:
        shown = name or str(path)
        try:
            if path.is_dir():
                return Failure(shown, "is a folder, not a file")
            if too_large := self.limits.too_large(path.stat().st_size):
                return Failure(shown, too_large)
            data = path.read_bytes()
        except FileNotFoundError:
            return Failure(shown, "does not exist")
        except PermissionError:
            return Failure(shown, "cannot be opened: permission denied")
        except OSError as exc:
            return Failure(shown, f"cannot be read ({exc.strerror or exc})")
        return self.examine_bytes(shown, data)

    def examine_bytes(self, name: str, data: bytes) -> Report | Failure:
        extraction = self.read(name, data)
        if isinstance(extraction, Failure):
            return extraction
        return self.report(name, hashlib.sha256(data).hexdigest(), extraction)

    def read(self, name: str, data: bytes) -> Extraction | Failure:
        """What the file says, before any check; a Failure when it cannot be read."""
        try:
            if self.limits.read_seconds is not None:
                return read_isolated(data, self.context, seconds=self.limits.read_seconds,
                                     memory_bytes=self.limits.read_memory_mb * MB)
            with warnings.catch_warnings():
                # The PDF libraries warn about every oddity of a file they can still read.
                warnings.simplefilter("ignore")
                return read(data, self.context)
        except WorkerUnavailable:
            raise
        except Refused as exc:
            return Failure(name, f"could not be read: the reader failed ({exc})")
        except Unreadable as exc:
            return Failure(name, str(exc))
        except (RecursionError, MemoryError):
            return Failure(name, "is too deeply nested or too large to read safely")
        except Exception as exc:
            logging.getLogger(__name__).debug("reading %s failed", name, exc_info=True)
            return Failure(name, f"could not be read: the reader failed ({type(exc).__name__}: "
                                 f"{one_line(str(exc), 160)})")

    @cached_property
    def fingerprint(self) -> str:
        """The rules in force as one hash: the form spec, the routing, the grant year and the
        code of the checks. What was read once checked under a fingerprint is checked again
        only under another (or when read again): the same reading, the same rules, the same
        outcome. Stored with each result (Result.rules_fingerprint)."""
        digest = hashlib.sha256()
        for part in (self.spec.model_dump_json(), self.routing.model_dump_json(), str(self.year),
                     _checks_code()):
            digest.update(part.encode())
            digest.update(b"\0")
        return digest.hexdigest()

    def report(self, name: str, sha256: str, extraction: Extraction) -> Report:
        """The checks of the rules in force applied to what was read."""
        checked = check(extraction, self.rules)
        return Report(
            file=name,
            sha256=sha256,
            kind=extraction.kind,
            fields=checked.fields,
            complete=checked.complete,
            problems=checked.problems,
            consultants=checked.consultants,
            sources=checked.sources,
            needs_review=checked.needs_review,
            unplaced=checked.unplaced,
        )

    def cross_check(self, reports: list[Report]) -> None:
        """Checks across files: a municipality that sent two different applications."""
        flag_second_applications(reports, self.year)
        for report in reports:
            report.complete = not any(p.severity == "error" for p in report.problems)


@cache
def _checks_code() -> str:
    """A hash of the code the checks run: blankett.models (the rules, their data and the
    records), this module, and the word stemmer the rules use. Any change to them counts as a
    change of the rules: everything is checked again once, as it was every night before."""
    digest = hashlib.sha256()
    sources = [f for f in resources.files("blankett.models").iterdir()
               if f.name.endswith((".py", ".toml"))]
    for source in sorted(sources, key=lambda f: f.name):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(importlib.metadata.version("snowballstemmer").encode())
    return digest.hexdigest()
