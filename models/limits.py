"""Bounds on what one file may cost to read, so that a hostile or broken file cannot stall a run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MB = 1024 * 1024


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_file_bytes: int = Field(default=50 * MB, gt=0)
    max_pages: int = Field(default=200, gt=0)
    # A .docx is a zip: bound what it may inflate to, in all and per member, and how much
    # more a member may inflate to than it takes compressed.
    max_unzipped_bytes: int = Field(default=200 * MB, gt=0)
    max_member_bytes: int = Field(default=100 * MB, gt=0)
    max_zip_members: int = Field(default=5000, gt=0)
    max_compression_ratio: int = Field(default=200, gt=0)
    # Reading one file in a worker process: at most this long and this much memory. None reads
    # in the calling process (a quick `blankett extract` of files one trusts).
    read_seconds: float | None = Field(default=60.0, gt=0, allow_inf_nan=False)
    read_memory_mb: int = Field(default=1024, gt=64)
    # OCR of scans and photos (where Tesseract is installed): each page at most this long, and
    # scans of more pages than this go to a person unread (a 1 500-page scan costs one refusal,
    # not the run). Off, every scan goes to a person.
    ocr: bool = True
    ocr_page_seconds: float = Field(default=30.0, gt=0, allow_inf_nan=False)
    ocr_max_pages: int = Field(default=30, gt=0)
    # An old format (.doc, .odt, .rtf) converted by LibreOffice, where installed, in at most this.
    convert_seconds: float = Field(default=60.0, gt=0, allow_inf_nan=False)
