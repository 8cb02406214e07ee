"""Boundaries of zip extraction (found by mutation testing: each test kills mutants that
survived the other tests): the caps hold to the byte, across entries, and a symbolic link
entry is found in a central directory whose other entries carry comments and extra fields."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from xnat.exceptions import XNATChecksumError, XNATIOError
from xnat.transfer import extract_zip_stream


def zip_of(entries: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_the_cap_holds_to_the_byte(tmp_path, method):
    assert extract_zip_stream([zip_of({"a": bytes(1000)}, method)], tmp_path / "ok", max_bytes=1000)
    with pytest.raises(XNATIOError, match="expands past 1000 bytes"):
        extract_zip_stream([zip_of({"a": bytes(1001)}, method)], tmp_path / "over", max_bytes=1000)
    assert files(tmp_path / "over") == []


def test_the_cap_counts_every_entry(tmp_path):
    with pytest.raises(XNATIOError, match="expands past 1000 bytes .* at entry 'c'"):
        extract_zip_stream([zip_of({"a": bytes(400), "b": bytes(400), "c": bytes(400)})], tmp_path / "out",
                           max_bytes=1000)
    assert files(tmp_path / "out") == ["a", "b"]


def test_an_entry_is_held_to_its_announced_size_to_the_byte(tmp_path):
    data = bytearray(zip_of({"liar.bin": bytes(1001)}))
    struct.pack_into("<I", data, 22, 1000)  # the local header's uncompressed size
    with pytest.raises(XNATChecksumError, match="expands past the 1000 bytes"):
        extract_zip_stream([bytes(data)], tmp_path / "out")
    assert files(tmp_path / "out") == []


def with_link_after_commented_entries() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        first = zipfile.ZipInfo("notes.txt")
        first.comment = b"a comment that shifts the central directory"
        first.extra = struct.pack("<HH", 0xCAFE, 4) + b"data"
        archive.writestr(first, b"plain")
        link = zipfile.ZipInfo("escape")
        link.create_system = 3  # Unix attributes
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return buffer.getvalue()


def test_a_link_entry_is_found_after_entries_with_comments_and_extra_fields(tmp_path):
    with pytest.raises(XNATIOError, match="symbolic link entries in the zip: escape"):
        extract_zip_stream([with_link_after_commented_entries()], tmp_path / "out")
    assert files(tmp_path / "out") == ["notes.txt"]
    assert not (tmp_path / "out" / "escape").exists()


def deflated_zeros(name: str, size: int) -> bytes:
    """A zip of ``size`` zero bytes, deflated (about 1,000:1), built without holding them in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w") as entry:
        block = bytes(1024 * 1024)
        for _ in range(size // len(block)):
            entry.write(block)
    return buffer.getvalue()


def test_a_bomb_never_balloons_in_memory(tmp_path):
    """Inflating is bounded per call: a 200 KB block that expands to 200 MB never sits in memory at once."""
    import tracemalloc

    bomb = deflated_zeros("bomb.bin", 200 * 1024 * 1024)
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(XNATIOError, match="expands past"):
            extract_zip_stream([bomb], tmp_path / "out", max_bytes=20 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert files(tmp_path / "out") == []
