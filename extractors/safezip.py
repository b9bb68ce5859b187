"""A zip (a .docx) unpacked without letting a zip bomb inflate."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable

from blankett.extractors.errors import Unreadable
from blankett.models.limits import Limits


class SafeZip:
    """A zip whose declared sizes are checked up front and whose reads stop at the declared size,
    since a crafted archive may lie in its directory."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError):
            raise Unreadable("is a damaged zip or Word file: its contents cannot be read",
                             "damaged_zip") from None
        if len(infos) > limits.max_zip_members:
            raise Unreadable(f"is too large: the archive holds {len(infos)} parts",
                             "too_large_unpacked")
        total = sum(i.file_size for i in infos)
        if total > limits.max_unzipped_bytes:
            raise Unreadable(f"is too large when unpacked ({total // 1024 // 1024} MB); "
                             "possibly a zip bomb", "too_large_unpacked")
        for info in infos:
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # bzip2 and LZMA inflate a whole read at once, however large it grows; Word only
                # stores or deflates.
                raise Unreadable(f"is refused: {info.filename} is packed in a way Word never uses",
                                 "refused")
            if info.file_size > limits.max_member_bytes:
                raise Unreadable(f"is too large when unpacked: {info.filename} is "
                                 f"{info.file_size // 1024 // 1024} MB; possibly a zip bomb",
                                 "too_large_unpacked")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > limits.max_compression_ratio:
                raise Unreadable(f"is too large when unpacked: {info.filename} inflates "
                                 f"{ratio:.0f} times; possibly a zip bomb", "too_large_unpacked")
        self._infos = {i.filename: i for i in infos if not i.is_dir()}

    def stored(self, check: Callable[[str, bytes], None]) -> bytes:
        """The same archive with every member stored uncompressed, each inflated here in bounded
        reads and shown to `check` first: whoever opens the copy (python-docx) inflates nothing,
        so a member that lies about its size cannot make it allocate more than it declared."""
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as copy:
            for name, info in self._infos.items():
                data = self._inflate(info)
                check(name, data)
                copy.writestr(zipfile.ZipInfo(name), data)
        return out.getvalue()

    def _inflate(self, info: zipfile.ZipInfo) -> bytes:
        try:
            with self._zip.open(info) as member:
                # zipfile inflates a bounded read at most as far as asked, and never past the
                # declared size; it then checks what it read against the declared checksum.
                return member.read(info.file_size)
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError):
            raise Unreadable(f"is a damaged Word file: {info.filename} cannot be unpacked",
                             "damaged_word") from None
