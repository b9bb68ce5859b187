"""Reading members of a zip (a .docx) without letting a zip bomb inflate."""

from __future__ import annotations

import io
import zipfile
import zlib

from blankett.extractors.errors import Unreadable
from blankett.models.limits import Limits

_CHUNK = 64 * 1024


class SafeZip:
    """A zip whose declared sizes are checked up front and whose reads stop at the declared size,
    since a crafted archive may lie in its directory."""

    def __init__(self, data: bytes, limits: Limits) -> None:
        self._limits = limits
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, EOFError, ValueError, OSError):
            raise Unreadable("is a damaged zip or Word file: its contents cannot be read") from None
        if len(infos) > limits.max_zip_members:
            raise Unreadable(f"is too large: the archive holds {len(infos)} parts")
        total = sum(i.file_size for i in infos)
        if total > limits.max_unzipped_bytes:
            raise Unreadable(f"is too large when unpacked ({total // 1024 // 1024} MB); "
                             "possibly a zip bomb")
        for info in infos:
            if info.file_size > limits.max_member_bytes:
                raise Unreadable(f"is too large when unpacked: {info.filename} is "
                                 f"{info.file_size // 1024 // 1024} MB; possibly a zip bomb")
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > 1024 * 1024 and ratio > limits.max_compression_ratio:
                raise Unreadable(f"is too large when unpacked: {info.filename} inflates "
                                 f"{ratio:.0f} times; possibly a zip bomb")
        self._infos = {i.filename: i for i in infos}

    def names(self) -> list[str]:
        return list(self._infos)

    def read(self, name: str) -> bytes | None:
        """A member's bytes, or None when the archive has no such member."""
        info = self._infos.get(name)
        if info is None:
            return None
        out = bytearray()
        try:
            with self._zip.open(info) as member:
                while chunk := member.read(_CHUNK):
                    out += chunk
                    if len(out) > info.file_size:
                        raise Unreadable(f"is damaged or too large: {name} holds more than it "
                                         "declares; possibly a zip bomb")
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError, NotImplementedError):
            raise Unreadable(f"is a damaged Word file: {name} cannot be unpacked") from None
        return bytes(out)
