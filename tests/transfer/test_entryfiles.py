"""Extracted entries: held in memory while small, written in one call once verified (issue 16)."""

from __future__ import annotations

import errno
import io
import os
import zipfile

import pytest

from xnat.exceptions import XNATChecksumError, XNATIOError
from xnat.transfer import entryfiles, extract_zip_stream
from xnat.transfer.entryfiles import EntryFile


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tree(root) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_small_entry_touches_the_disk_only_at_commit(tmp_path):
    entry = EntryFile(tmp_path / "a.bin")
    entry.write(b"x" * 100)
    entry.write(b"y" * 100)
    assert list(tmp_path.iterdir()) == []  # nothing created before the entry is verified
    entry.commit(overwrite=False)
    assert tree(tmp_path) == {"a.bin": b"x" * 100 + b"y" * 100}


def test_a_big_entry_goes_on_to_its_temporary_file_and_is_renamed_at_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(entryfiles, "HOLD_MAX", 1000)
    entry = EntryFile(tmp_path / "big.bin")
    for _ in range(5):
        entry.write(b"z" * 300)
    partial = [p.name for p in tmp_path.iterdir()]
    assert len(partial) == 1 and partial[0].endswith(".part")  # spilled, never under the target name
    entry.commit(overwrite=False)
    assert tree(tmp_path) == {"big.bin": b"z" * 1500}


def test_a_discarded_entry_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(entryfiles, "HOLD_MAX", 10)
    for size in (5, 50):
        entry = EntryFile(tmp_path / "gone.bin")
        entry.write(b"q" * size)
        entry.discard()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_commit_then_discard_leaves_nothing(tmp_path):
    (tmp_path / "taken.bin").write_bytes(b"old")
    entry = EntryFile(tmp_path / "taken.bin")
    entry.write(b"new")
    with pytest.raises(XNATIOError, match="not overwritten"):
        entry.commit(overwrite=False)
    entry.discard()
    assert tree(tmp_path) == {"taken.bin": b"old"}


def test_a_small_entry_is_written_in_one_call(tmp_path, monkeypatch):
    """Pieces of a few KB (as the socket hands them over) reach the file as one write."""
    from xnat.transfer.download import TempFileSink

    calls = []
    original = TempFileSink.write
    monkeypatch.setattr(TempFileSink, "write", lambda self, data: (calls.append(len(data)), original(self, data)))
    body = zipped({"a.bin": os.urandom(16384)})
    extract_zip_stream((body[i:i + 5000] for i in range(0, len(body), 5000)), tmp_path)
    assert calls == [16384]


def test_a_full_disk_during_extraction_is_named_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    real_replace = os.replace

    def replace(source, target):
        if str(target).endswith("b.bin"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(XNATIOError, match="disk is full"):
        extract_zip_stream([zipped({"a.bin": b"A" * 5000, "b.bin": b"B" * 5000, "c.bin": b"C"})], tmp_path)
    assert not any(p.name.endswith(".part") for p in tmp_path.rglob("*"))
    assert "b.bin" not in tree(tmp_path)


def test_a_corrupt_entry_after_good_ones_leaves_the_good_ones_and_no_temporary_file(tmp_path):
    data = bytearray(zipped({"good1.txt": b"fine" * 100, "good2.txt": b"also" * 100, "bad.txt": b"x" * 5000}))
    start = data.rfind(b"PK\x03\x04")  # the last local header: bad.txt
    data[start + 30 + len("bad.txt") + 5] ^= 0xFF  # a byte of its compressed data
    with pytest.raises((XNATChecksumError, XNATIOError)):
        extract_zip_stream([bytes(data)], tmp_path)
    assert tree(tmp_path) == {"good1.txt": b"fine" * 100, "good2.txt": b"also" * 100}


def test_a_link_to_a_folder_at_the_target_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.txt").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(XNATIOError, match="is a directory"):
        extract_zip_stream([zipped({"a.txt": b"new"})], tmp_path / "out", overwrite=True)
    assert list((tmp_path / "real").iterdir()) == []


def test_many_small_entries_all_land(tmp_path):
    files = {f"s{index // 100}/f{index:04d}.dat": os.urandom(2000) for index in range(300)}
    body = zipped(files)
    digests: dict[str, str] = {}
    extracted = extract_zip_stream((body[i:i + 4096] for i in range(0, len(body), 4096)), tmp_path,
                                   digests=digests)
    assert tree(tmp_path) == files
    assert set(extracted) == set(digests) == set(files)
