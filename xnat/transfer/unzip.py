"""Extract a zip archive while it streams in: no copy of the archive on disk.

XNAT builds zips on the fly (``?format=zip``), so the central directory at the end is
of no use while downloading. The local file headers are read one after the other
instead:

* methods *stored* and *deflated*; sizes from the header, from the zip64 extra field,
  or, for entries written with a data descriptor (general purpose flag bit 3), found
  by decompressing to the end of the deflate stream or, for stored entries, by looking
  for a descriptor whose CRC and size match the data before it;
* each entry's CRC-32 and size are checked before it is renamed into place from a hidden
  temporary file: a corrupt entry never appears under its name. A small entry is held in
  memory until then and written in one call (:mod:`xnat.transfer.entryfiles`);
* names are checked by :func:`xnat.transfer.paths.safe_relpath`: absolute paths and
  ``..`` are refused, every entry is written as a regular file (a symlink entry is never
  created as a link), and the central directory is read at the end to refuse entries it
  marks as links (their file is removed);
* what is written is bounded (zip bombs): an entry may not expand past the size its
  header announces, and ``max_bytes`` caps the bytes written for the whole archive (callers
  that know the files, like ``download_dir``, pass the listing's total). Past the bound the
  extraction stops with :class:`~xnat.exceptions.XNATIOError` and the partial entry is removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..exceptions import XNATChecksumError, XNATIOError
from .download import os_error
from .entryfiles import EntryFile
from .paths import local_path, safe_relpath

__all__ = ["ZipStreamExtractor", "extract_zip_stream"]

logger = logging.getLogger(__name__)

LOCAL_HEADER = b"PK\x03\x04"
CENTRAL_HEADER = b"PK\x01\x02"
END_OF_CENTRAL = b"PK\x05\x06"
ZIP64_END = b"PK\x06\x06"
DESCRIPTOR = b"PK\x07\x08"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
STORED, DEFLATED = 0, 8
FLAG_ENCRYPTED, FLAG_DESCRIPTOR, FLAG_UTF8 = 0x1, 0x8, 0x800
_BLOCK = 256 * 1024
_OUT_BLOCK = 1024 * 1024

#: Maps an entry name to the relative local path to write it to, or None to skip it.
Rename = Callable[[str], "str | None"]
#: Where an entry's expanded bytes go (to its temporary file, or nowhere when skipped).
Write = Callable[[bytes], None]


class _Reader:
    """Reads exact amounts from an iterator of chunks, with push-back."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                return
            self._buffer += chunk

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer only at the end of the stream)."""
        self._fill(size)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_exact(self, size: int, what: str) -> bytes:
        data = self.read(size)
        if len(data) != size:
            raise XNATIOError(f"The zip stream ended in the middle of {what}")
        return data

    def some(self, limit: int = _BLOCK) -> bytes:
        """Whatever is available next, at most ``limit`` bytes; b'' at the end."""
        if not self._buffer:
            self._fill(1)
        return self.read(min(limit, len(self._buffer)))

    def unread(self, data: bytes) -> None:
        self._buffer[:0] = data


class ZipStreamExtractor:
    """Extracts entries from a zip stream under ``target_dir``; see the module docs.

    ``rename`` maps entry names to local relative paths (``None`` skips the entry) and is
    how callers flatten or re-arrange XNAT's layout. Existing files are refused unless
    ``overwrite``. ``on_bytes(n)`` is called with the compressed bytes consumed.
    ``max_bytes`` caps the bytes written for the whole archive (``None``: no cap beyond
    each entry's announced size). With ``digests`` each extracted entry's MD5 is computed
    as it is written and put there (entry name -> hex digest), so a caller checking the
    files against a catalog need not read them back.
    """

    def __init__(self, target_dir: str | os.PathLike[str], *, rename: Rename | None = None,
                 overwrite: bool = False, on_bytes: Callable[[int], None] | None = None,
                 max_bytes: int | None = None, digests: dict[str, str] | None = None) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise XNATIOError(f"max_bytes must be 0 or more, not {max_bytes}")
        self.target_dir = Path(target_dir)
        self.rename = rename
        self.overwrite = overwrite
        self.on_bytes = on_bytes
        self.max_bytes = max_bytes
        #: Bytes written so far, every entry of this extractor included.
        self.written = 0
        #: Entry name -> the local path written, in archive order.
        self.extracted: dict[str, Path] = {}
        # Folders already checked to lie under target_dir and created (see _place).
        self._ready: set[Path] = set()
        self.digests = digests

    def extract(self, chunks: Iterable[bytes]) -> dict[str, Path]:
        self.written = 0  # an archive started again (a dropped connection) is counted afresh
        try:
            self.target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise os_error(error, "create the folder", self.target_dir) from error
        reader = _Reader(self._counted(chunks))
        while True:
            signature = reader.read(4)
            if signature == LOCAL_HEADER:
                self._entry(reader, signature)
            elif signature in (CENTRAL_HEADER, ZIP64_END, END_OF_CENTRAL):
                reader.unread(signature)
                self._central_directory(reader)
                return self.extracted
            elif not signature and not self.extracted:
                raise XNATIOError("The server sent an empty response instead of a zip archive")
            else:
                raise XNATIOError(f"The zip stream is damaged: unexpected bytes {signature!r} after "
                                  f"{len(self.extracted)} entries")

    def _counted(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            if self.on_bytes is not None:
                self.on_bytes(len(chunk))
            yield chunk

    def _entry(self, reader: _Reader, signature: bytes) -> None:
        header = _LOCAL.unpack(signature + reader.read_exact(_LOCAL.size - 4, "a local header"))
        _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len = header
        raw_name = reader.read_exact(name_len, "an entry name")
        extra = reader.read_exact(extra_len, "an extra field")
        name = raw_name.decode("utf-8" if flags & FLAG_UTF8 else "cp437", "replace")
        if flags & FLAG_ENCRYPTED:
            raise XNATIOError(f"The zip entry {name!r} is encrypted; it cannot be extracted")
        if method not in (STORED, DEFLATED):
            raise XNATIOError(f"The zip entry {name!r} uses compression method {method}; "
                              "only stored and deflated are supported")
        wide = _has_zip64_extra(extra)
        if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
            usize, csize = _zip64_sizes(extra, usize, csize)
        descriptor = bool(flags & FLAG_DESCRIPTOR)
        sink = self._open(name)
        digest = hashlib.md5() if sink is not None and self.digests is not None else None
        write = self._writer(name, sink, None if descriptor else usize, digest)
        try:
            if method == DEFLATED:
                actual_crc, size = _inflate(reader, None if descriptor else csize, write)
            elif descriptor:
                actual_crc, size, crc, usize = _stored_until_descriptor(reader, write, wide)
            else:
                actual_crc, size = _copy(reader, csize, write)
            if descriptor and method == DEFLATED:
                crc, usize = _read_descriptor(reader, wide)
            if actual_crc != crc or size != usize:
                raise XNATChecksumError(f"The zip entry {name!r} is corrupt: CRC or size does not match")
            if sink is not None:
                sink.commit(self.overwrite or name in self.extracted)
                self.extracted[name] = sink.target
                if digest is not None and self.digests is not None:
                    self.digests[name] = digest.hexdigest()
        except BaseException:
            if sink is not None:
                sink.discard()
            raise

    def _writer(self, name: str, sink: EntryFile | None, announced: int | None,
                digest: Any = None) -> Write:
        """How the entry's bytes are written: counted against its announced size and ``max_bytes``
        (and fed to ``digest``, an MD5, when given)."""
        def write(data: bytes) -> None:
            if sink is None or not data:
                return
            if announced is not None and sink.written + len(data) > announced:
                raise XNATChecksumError(f"The zip entry {name!r} expands past the {announced} bytes its header "
                                        "announces; refused")
            if self.max_bytes is not None and self.written + len(data) > self.max_bytes:
                raise XNATIOError(f"Refused the zip: it expands past {self.max_bytes} bytes (the cap for this "
                                  f"extraction) at entry {name!r}; the server sent more than the files it lists")
            sink.write(data)
            if digest is not None:
                digest.update(data)
            self.written += len(data)
        return write

    def _open(self, name: str) -> EntryFile | None:
        """Where the entry's bytes go, or None for a directory or skipped entry."""
        if name.endswith(("/", "\\")):
            safe_relpath(name)  # a bad directory name is refused too
            return None
        local = self.rename(name) if self.rename is not None else name
        if local is None:
            return None
        path = self._place(local)
        here = _mode(path)  # one system call for both checks
        if here is not None and (stat.S_ISDIR(here) or (stat.S_ISLNK(here) and path.is_dir())):
            raise XNATIOError(f"Cannot extract {name!r}: {path} is a directory")
        if here is not None and not self.overwrite and name not in self.extracted:
            raise XNATIOError(f"Cannot extract {name!r}: {path} already exists (pass overwrite=True)")
        return EntryFile(path)

    def _place(self, local: str) -> Path:
        """Where ``local`` goes, its folder checked to be under the target and created.

        The check resolves every component of the folder (a system call each), so a folder
        checked and created once is remembered for the rest of the archive: its many
        entries then cost no more than the file itself.
        """
        path = self.target_dir.joinpath(*safe_relpath(local).parts)
        if path.parent in self._ready:
            return path
        path = local_path(self.target_dir, local)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise os_error(error, "create the folder", path.parent) from error
        self._ready.add(path.parent)
        return path

    def _central_directory(self, reader: _Reader) -> None:
        """Read the central directory: refuse entries that it marks as symbolic links."""
        links = []
        while reader.read(4) == CENTRAL_HEADER:
            fields = _CENTRAL.unpack(CENTRAL_HEADER + reader.read_exact(_CENTRAL.size - 4, "the central directory"))
            made_by, flags, external = fields[1], fields[3], fields[15]
            name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
            raw_name = reader.read_exact(name_len, "the central directory")
            reader.read_exact(extra_len + comment_len, "the central directory")
            name = raw_name.decode("utf-8" if flags & FLAG_UTF8 else "cp437", "replace")
            if made_by >> 8 == 3 and stat.S_ISLNK(external >> 16):  # 3: Unix attributes
                links.append(name)
        for _chunk in iter(lambda: reader.some(), b""):
            pass  # the rest of the trailer: nothing to extract
        for name in links:
            path = self.extracted.pop(name, None)
            if path is not None:
                path.unlink(missing_ok=True)
        if links:
            raise XNATIOError(f"Refused {len(links)} symbolic link entries in the zip: {', '.join(links[:5])}")


def _mode(path: Path) -> int | None:
    """The mode of whatever is at ``path`` (a link itself, not followed); None when nothing is."""
    try:
        return os.lstat(path).st_mode
    except OSError:
        return None


def _zip64_sizes(extra: bytes, usize: int, csize: int) -> tuple[int, int]:
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        body = extra[offset + 4: offset + 4 + length]
        if tag == 0x0001:
            values = list(struct.unpack_from(f"<{len(body) // 8}Q", body))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
            break
        offset += 4 + length
    return usize, csize


def _copy(reader: _Reader, size: int, write: Write) -> tuple[int, int]:
    crc, done = 0, 0
    while done < size:
        data = reader.read(min(_BLOCK, size - done))
        if not data:
            raise XNATIOError("The zip stream ended in the middle of an entry")
        crc = zlib.crc32(data, crc)
        done += len(data)
        write(data)
    return crc, done


def _inflate(reader: _Reader, csize: int | None, write: Write) -> tuple[int, int]:
    """Decompress one deflate stream; with csize None, until the stream says it ended."""
    inflater = zlib.decompressobj(-15)
    crc, size, consumed = 0, 0, 0
    while not inflater.eof:
        limit = _BLOCK if csize is None else min(_BLOCK, csize - consumed)
        data = reader.some(limit) if limit else b""
        if not data:
            raise XNATIOError("The zip stream ended in the middle of a compressed entry")
        consumed += len(data)
        try:
            # Bounded output per call: a small compressed block cannot balloon in memory.
            while True:
                out = inflater.decompress(data, _OUT_BLOCK)
                crc = zlib.crc32(out, crc)
                size += len(out)
                write(out)
                data = inflater.unconsumed_tail
                if len(out) < _OUT_BLOCK and not data:
                    break
        except zlib.error as error:
            raise XNATChecksumError(f"A zip entry is corrupt: {error}") from error
    if inflater.unused_data:
        reader.unread(inflater.unused_data)
    return crc, size


def _has_zip64_extra(extra: bytes) -> bool:
    offset = 0
    while offset + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, offset)
        if tag == 0x0001:
            return True
        offset += 4 + length
    return False


def _read_descriptor(reader: _Reader, wide: bool = False) -> tuple[int, int]:
    """CRC and size from a data descriptor (with or without signature, 32 or 64 bit)."""
    head = reader.read_exact(4, "a data descriptor")
    if head != DESCRIPTOR:
        reader.unread(head)
    if wide:
        crc, csize, usize = struct.unpack("<IQQ", reader.read_exact(20, "a zip64 data descriptor"))
        return crc, usize
    crc, csize, usize = struct.unpack("<III", reader.read_exact(12, "a data descriptor"))
    # Some writers (Java) use 8-byte sizes without a zip64 extra: tell by what follows.
    peek = reader.read(8)
    reader.unread(peek)
    if len(peek) >= 4 and peek[:4] not in (LOCAL_HEADER, CENTRAL_HEADER, END_OF_CENTRAL, ZIP64_END):
        more = reader.read_exact(8, "a zip64 data descriptor")
        csize_lo_hi = struct.pack("<II", csize, usize) + more
        csize, usize = struct.unpack("<QQ", csize_lo_hi)
    return crc, usize


def _stored_until_descriptor(reader: _Reader, write: Write, wide: bool) -> tuple[int, int, int, int]:
    """A stored entry of unknown size: it ends where a matching descriptor follows.

    ``wide``: the entry has a zip64 extra field, so the descriptor's sizes are 8 bytes.
    """
    crc, size = 0, 0
    layout = struct.Struct("<IQQ" if wide else "<III")
    length = 4 + layout.size
    pending = bytearray()
    while True:
        data = reader.some()
        pending += data
        index = pending.find(DESCRIPTOR)
        while index >= 0 and len(pending) >= index + length:
            candidate_crc = zlib.crc32(pending[:index], crc)
            d_crc, d_csize, d_usize = layout.unpack_from(pending, index + 4)
            if d_crc == candidate_crc and d_usize == size + index and d_csize == d_usize:
                write(bytes(pending[:index]))
                reader.unread(bytes(pending[index + length:]))
                return candidate_crc, size + index, d_crc, d_usize
            index = pending.find(DESCRIPTOR, index + 1)
        # Everything before a possible (partial) signature near the end is data.
        keep = index if index >= 0 else max(0, len(pending) - 3)
        if keep:
            chunk = bytes(pending[:keep])
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            write(chunk)
            del pending[:keep]
        if not data:
            raise XNATIOError("The zip stream ended in the middle of a stored entry")


def extract_zip_stream(chunks: Iterable[bytes], target_dir: str | os.PathLike[str], *,
                       rename: Rename | None = None, overwrite: bool = False,
                       on_bytes: Callable[[int], None] | None = None,
                       max_bytes: int | None = None, digests: dict[str, str] | None = None) -> dict[str, Path]:
    """Extract the zip arriving as ``chunks`` under ``target_dir``; returns name -> path."""
    return ZipStreamExtractor(target_dir, rename=rename, overwrite=overwrite, on_bytes=on_bytes,
                              max_bytes=max_bytes, digests=digests).extract(chunks)
