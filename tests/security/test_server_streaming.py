"""The server's streaming extraction and its quicker checks (issue 16), as a mutation run found them unguarded.

A tar is unpacked as it arrives, its caps checked as each header comes and the expansion
held to the bytes read so far; the clash check skips the members of folders not yet on
disk; a new resource takes the staged tree in one rename. Each test kills mutants that
survived ``python -m tests.mutation.run xnat/testing/filestore.py --only ...`` over the
functions those commits changed (CONTRIBUTING.rst, "Mutation testing").
"""

from __future__ import annotations

import gzip
import io
import os
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from xnat.testing import filestore
from xnat.testing.filestore import ArchiveTooLarge, DuplicateFiles, ExtractLimits, FileStore, UnsafePath


def _tar(members: list[tuple[str, bytes]], compression: str = "gz", tail: bytes = b"") -> bytes:
    """A tar of (name, data) files; ``tail`` goes after the tar's end, inside the compression."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue() + tail
    return gzip.compress(raw, compresslevel=9) if compression == "gz" else raw


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def _archive(kind: str, members: list[tuple[str, bytes]]) -> tuple[io.BytesIO, str]:
    return io.BytesIO(_zip(members) if kind == "zip" else _tar(members)), f"up.{kind}"


def _files(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


# -- the caps of a streamed tar, at their bounds ------------------------------------------------

def test_the_expansion_of_a_streamed_archive_is_held_to_the_ratio_to_the_byte() -> None:
    limits = ExtractLimits(max_ratio=10.0, min_allowance=0)
    limits.check_expansion(1000, 10_000)  # ten times what was read: the bound itself
    with pytest.raises(ArchiveTooLarge, match="first 1000 bytes expand to more than 10000 bytes"):
        limits.check_expansion(1000, 10_001)


def test_a_tar_at_exactly_each_cap_is_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """max_files members, max_bytes in all, and exactly the free space: each bound is allowed."""
    limits = ExtractLimits(max_files=3, max_bytes=30)
    store = FileStore(tmp_path / "archive", durable=False, limits=limits)
    usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=30)
                        if Path(path).name.startswith(filestore.TEMP_PREFIX) else usage(path))
    members = [(name, bytes(10)) for name in ("a", "b", "c")]
    store.extract(tmp_path / "archive" / "R", "", io.BytesIO(_tar(members)), "up.tgz", overwrite=False)
    assert _files(tmp_path / "archive" / "R") == ["a", "b", "c"]
    with pytest.raises(ArchiveTooLarge, match="4 files"):
        store.extract(tmp_path / "archive" / "S", "", io.BytesIO(_tar([*members, ("d", b"")])), "up.tgz",
                      overwrite=False)
    with pytest.raises(ArchiveTooLarge, match="more than 30 bytes"):
        store.extract(tmp_path / "archive" / "T", "", io.BytesIO(_tar([("a", bytes(31))])), "up.tgz",
                      overwrite=False)


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_archive_that_fills_exactly_the_free_space_is_unpacked(tmp_path: Path, kind: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(free=20)
                        if Path(path).name.startswith(filestore.TEMP_PREFIX) else usage(path))
    body, name = _archive(kind, [("a", bytes(10)), ("b", bytes(10))])
    store.extract(tmp_path / "archive" / "R", "", body, name, overwrite=False)
    body, name = _archive(kind, [("a", bytes(10)), ("b", bytes(11))])
    with pytest.raises(OSError, match="21 bytes"):
        store.extract(tmp_path / "archive" / "S", "", body, name, overwrite=False)
    assert _files(tmp_path / "archive") == ["R/a", "R/b"]


def test_a_tar_may_expand_past_the_small_allowance_within_the_ratio_to_all_it_read(tmp_path: Path) -> None:
    """The ratio is to the whole body read so far, not to the last piece of it."""
    store = FileStore(tmp_path / "archive", durable=False, limits=ExtractLimits(max_ratio=10.0, min_allowance=1024))
    data = os.urandom(256 * 1024)  # does not shrink: the tar.gz is about as big as what it holds
    store.extract(tmp_path / "archive" / "R", "", io.BytesIO(_tar([("a", data)])), "up.tgz", overwrite=False)
    assert (tmp_path / "archive" / "R" / "a").read_bytes() == data


class _Trickle(io.BytesIO):
    """An upload body that hands over a few bytes per read, as a slow socket may."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(7 if size is None or size < 0 else min(size, 7))


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_archive_arriving_a_few_bytes_at_a_time_is_recognised_and_unpacked(tmp_path: Path, kind: str) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    body, name = _archive(kind, [("a.txt", b"a" * 1000), ("d/b.txt", b"b")])
    store.extract(tmp_path / "archive" / "R", "", _Trickle(body.getvalue()), name, overwrite=False)
    assert (tmp_path / "archive" / "R" / "a.txt").read_bytes() == b"a" * 1000


def test_a_bomb_after_the_end_of_the_tar_stops_while_it_arrives(tmp_path: Path) -> None:
    """What follows the tar's end is expanded a chunk at a time too, each held to the bytes read
    so far: a gzip bomb hidden there is refused long before the body has all been read."""
    store = FileStore(tmp_path / "archive", durable=False, limits=ExtractLimits(max_ratio=10.0,
                                                                                min_allowance=1 << 20))
    body = io.BytesIO(_tar([("a.txt", b"a")], tail=bytes(64 << 20)))
    with pytest.raises(ArchiveTooLarge):
        store.extract(tmp_path / "archive" / "R", "", body, "up.tgz", overwrite=False)
    assert body.tell() < len(body.getvalue()) // 4
    assert not (tmp_path / "archive" / "R" / "a.txt").exists()


# -- the clash check: members of a new folder skipped, not the members after them --------------

@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_a_member_after_one_in_a_new_folder_is_still_checked_against_the_resource(tmp_path: Path,
                                                                                  kind: str) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    folder = tmp_path / "archive" / "R"
    folder.mkdir(parents=True)
    (folder / "old.txt").write_bytes(b"keep")
    body, name = _archive(kind, [("new/a.txt", b"a"), ("old.txt", b"replaced")])
    with pytest.raises(DuplicateFiles) as info:
        store.extract(folder, "", body, name, overwrite=False)
    assert info.value.names == ["old.txt"]
    assert (folder / "old.txt").read_bytes() == b"keep" and not (folder / "new").exists()


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_a_link_out_of_the_resource_after_a_new_folder_member_is_refused(tmp_path: Path, kind: str) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    folder = tmp_path / "archive" / "R"
    folder.mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    (folder / "link.txt").symlink_to(outside)
    body, name = _archive(kind, [("new/a.txt", b"a"), ("link.txt", b"replaced")])
    with pytest.raises(UnsafePath):
        store.extract(folder, "", body, name, overwrite=True)
    assert outside.read_bytes() == b"keep" and (folder / "link.txt").is_symlink()
    assert not (folder / "new").exists()


# -- names within the archive, in either order --------------------------------------------------

@pytest.mark.parametrize("kind", ["zip", "tgz"])
@pytest.mark.parametrize(("members", "clash"), [
    ([("a/b", b"1"), ("a", b"2")], "a"),  # the file after the folder it would be
    ([("a/b/c", b"1"), ("a", b"2")], "a"),  # every folder above a member counts, the top one too
    ([("a/b/c/d", b"1"), ("a/b", b"2")], "a/b"),  # and those in between
])
def test_a_file_named_like_a_folder_before_it_is_refused_by_name(tmp_path: Path, kind: str,
                                                                 members: list[tuple[str, bytes]],
                                                                 clash: str) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    body, name = _archive(kind, members)
    with pytest.raises(ValueError, match=f"both a file and a folder named '{clash}'"):
        store.extract(tmp_path / "archive" / "R", "", body, name, overwrite=False)
    assert _files(tmp_path / "archive") == []


def test_a_stored_zip_member_shorter_than_its_declared_size_is_corrupt(tmp_path: Path) -> None:
    """Its CRC matches the bytes that are there (the reader checks nothing else), yet it ends
    before the size both headers declare: it is refused, nothing kept."""
    data = bytearray(_zip([("a.txt", b"0123456789")]))  # stored: writestr's default
    struct.pack_into("<I", data, 22, 100)  # the local header's uncompressed size
    struct.pack_into("<I", data, data.find(b"PK\x01\x02") + 24, 100)  # the central directory's
    store = FileStore(tmp_path / "archive", durable=False)
    with pytest.raises(ValueError, match="corrupt archive member 'a.txt'"):
        store.extract(tmp_path / "archive" / "R", "", io.BytesIO(bytes(data)), "up.zip", overwrite=False)
    assert _files(tmp_path / "archive") == []


# -- what reaches the resource -------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_extracted_file_has_an_uploads_mode(tmp_path: Path, kind: str) -> None:
    """Readable by all, writable by its owner, executable by none (0666 less the umask)."""
    mask = os.umask(0)
    os.umask(mask)
    store = FileStore(tmp_path / "archive", durable=False)
    folder = tmp_path / "archive" / "R"
    body, name = _archive(kind, [("a.txt", b"a"), ("d/b.txt", b"b")])
    store.extract(folder, "", body, name, overwrite=False)
    for path in (folder / "a.txt", folder / "d" / "b.txt"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_archive_goes_under_a_deep_prefix_of_a_new_folder(tmp_path: Path, kind: str) -> None:
    store = FileStore(tmp_path / "archive", durable=False)
    folder = tmp_path / "archive" / "R"
    body, name = _archive(kind, [("a.txt", b"a")])
    store.extract(folder, "x/y/z", body, name, overwrite=False)
    assert _files(folder) == ["x/y/z/a.txt"]


class _WatchingBeside(io.BytesIO):
    """An upload body that records the names beside ``folder`` while it is being read."""

    def __init__(self, data: bytes, folder: Path) -> None:
        super().__init__(data)
        self.folder, self.seen = folder, set[str]()

    def read(self, size: int | None = -1) -> bytes:
        self.seen.update(os.listdir(self.folder.parent))
        return super().read(size)


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_archive_unpacked_into_the_archive_root_is_staged_inside_it(tmp_path: Path, kind: str) -> None:
    """Beside the root is outside it: not the store's disk to fill, nor its sweep's to clean."""
    root = tmp_path / "archive"
    store = FileStore(root, durable=False)
    data, name = _archive(kind, [("a.txt", b"a")])
    body = _WatchingBeside(data.getvalue(), root)
    store.extract(root, "", body, name, overwrite=False)
    assert body.seen == {"archive"} and os.listdir(tmp_path) == ["archive"]
    assert _files(root) == ["a.txt"]
