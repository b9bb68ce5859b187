"""Bounds on what one file may cost to read, so that a hostile or broken file cannot stall a run.

The bounds a user sets are declared once, as the `[limits]` and `[ocr]` tables of `blankett.toml`
(LimitSettings, OcrSettings); `Limits`, what the readers are handed, takes its defaults from them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from blankett.models.errors import Unreadable
from blankett.models.setting import Section, setting

MB = 1024 * 1024

Count = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
WorkerMB = Annotated[int, Field(gt=64)]  # less cannot even start a reader


class LimitSettings(Section):
    """A file beyond these bounds is refused into `failed/`, and the run goes on."""

    max_file_mb: Count = setting(50, "Files larger than this many megabytes are refused unread.")
    max_pages: Count = setting(200, "PDFs of more pages than this are refused.")
    read_seconds: Seconds = setting(60.0, "Each file is read in a worker process that may take "
                                          "this many seconds; a file that needs longer is refused.")
    read_memory_mb: WorkerMB = setting(1024, "The memory that worker process may use, in megabytes (more "
                                             "than 64); a file that needs more is refused.")


class OcrSettings(Section):
    """Scans and photos of forms are read by OCR where Tesseract and its Swedish model are
    installed (`sudo apt-get install tesseract-ocr tesseract-ocr-swe`); the scans OCR does not
    read go to a person unread."""

    enabled: bool = setting(True, "Whether scans are read by OCR at all; false sends every scan to "
                                  "a person.")
    page_seconds: Seconds = setting(30.0, "The time OCR may take for one page, in seconds.")
    max_pages: Count = setting(30, "Scans of more pages than this are not read by OCR (a 1 500-page "
                                   "scan costs one refusal, not the run).")


_FILES, _OCR = LimitSettings(), OcrSettings()


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: Count = _FILES.max_file_mb * MB
    max_pages: Count = _FILES.max_pages
    # A .docx is a zip: bound what it may inflate to, in all and per member, and how much
    # more a member may inflate to than it takes compressed.
    max_unzipped_bytes: Count = 200 * MB
    max_member_bytes: Count = 100 * MB
    max_zip_members: Count = 5000
    max_compression_ratio: Count = 200
    # None reads in the calling process (a quick `blankett extract` of files one trusts).
    read_seconds: Seconds | None = _FILES.read_seconds
    read_memory_mb: WorkerMB = _FILES.read_memory_mb
    ocr: bool = _OCR.enabled
    ocr_page_seconds: Seconds = _OCR.page_seconds
    ocr_max_pages: Count = _OCR.max_pages
    # An old format (.doc, .odt, .rtf) converted by LibreOffice, where installed, in at most this.
    convert_seconds: Seconds = 60.0

    @classmethod
    def of(cls, files: LimitSettings, ocr: OcrSettings) -> Limits:
        """The bounds a home's settings set."""
        return cls(max_file_bytes=files.max_file_mb * MB, max_pages=files.max_pages,
                   read_seconds=files.read_seconds, read_memory_mb=files.read_memory_mb,
                   ocr=ocr.enabled, ocr_page_seconds=ocr.page_seconds, ocr_max_pages=ocr.max_pages)

    def too_large(self, size: int) -> Unreadable | None:
        """Why a file of `size` bytes is refused before it is read, or None when it may be read."""
        if size <= self.max_file_bytes:
            return None
        mb, limit = size // MB, self.max_file_bytes // MB
        return Unreadable(f"is too large ({mb} MB; the limit is {limit} MB)", "too_large", size=mb,
                          limit=limit)
