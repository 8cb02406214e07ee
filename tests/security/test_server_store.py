"""Decisions of the server's file store that a mutation run found no test guarding.

Each test here kills mutants of ``xnat/testing/filestore.py`` that survived
``python -m tests.mutation.run xnat/testing/filestore.py`` (CONTRIBUTING.rst, "Mutation
testing"): the extraction caps at their exact bounds and through the ratio, archive members
with real Unix modes (a regular file accepted, a link refused), folder entries (the root
skipped without ending the listing, an escaping folder refused), and no temporary file left
when the final rename fails.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from xnat.testing import filestore
from xnat.testing.filestore import ArchiveTooLarge, ExtractLimits, FileStore, UnsafePath


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "archive", durable=False)


def _zip(members: list[tuple[str, bytes, int | None]]) -> io.BytesIO:
    """A zip of (name, data, Unix mode or None) members; a mode goes in the high 16 bits, as zip -r writes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = (mode << 16) if mode is not None else 0
            archive.writestr(info, data)
    buffer.seek(0)
    return buffer


def _files(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())


# -- the caps, at their bounds ---------------------------------------------------------------------

def test_the_entry_cap_allows_exactly_max_files() -> None:
    limits = ExtractLimits(max_files=3)
    limits.check(100, 10, 3)
    with pytest.raises(ArchiveTooLarge, match="4 files"):
        limits.check(100, 10, 4)


def test_the_size_cap_allows_exactly_what_is_allowed() -> None:
    limits = ExtractLimits(max_ratio=10.0, min_allowance=0, max_bytes=1 << 40)
    limits.check(1000, 10_000, 1)  # ten times the archive: the bound itself
    with pytest.raises(ArchiveTooLarge, match="expands to 10001 bytes"):
        limits.check(1000, 10_001, 1)


def test_the_ratio_allows_a_large_archive_past_the_small_allowance() -> None:
    limits = ExtractLimits()  # 100x, at least 16 MiB, at most 10 GiB
    limits.check(1 << 20, 50 << 20, 1)  # 1 MiB expanding to 50 MiB: within 100x, past 16 MiB
    with pytest.raises(ArchiveTooLarge):
        limits.check(1 << 20, 101 << 20, 1)
    with pytest.raises(ArchiveTooLarge):  # and never past max_bytes, whatever the ratio
        ExtractLimits(max_bytes=1 << 30).check(1 << 30, (1 << 30) + 1, 1)


# -- members with Unix modes -----------------------------------------------------------------------

def test_members_with_a_regular_files_unix_mode_are_extracted(store: FileStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive" / "R"
    archive = _zip([("a.txt", b"a", stat.S_IFREG | 0o644), ("d/b.txt", b"b", stat.S_IFREG | 0o755)])
    stored = store.extract(folder, "", archive, "up.zip", overwrite=False)
    assert sorted(item.path for item in stored) == ["a.txt", "d/b.txt"]
    assert _files(folder) == ["a.txt", "d/b.txt"]


@pytest.mark.parametrize("mode", [stat.S_IFLNK | 0o777, stat.S_IFCHR | 0o644, stat.S_IFIFO | 0o644])
def test_a_zip_member_that_is_a_link_or_special_file_is_refused(store: FileStore, tmp_path: Path,
                                                                mode: int) -> None:
    folder = tmp_path / "archive" / "R"
    archive = _zip([("ok.txt", b"fine", None), ("link", b"/etc/passwd", mode)])
    with pytest.raises(UnsafePath, match="'link' is a link or special file"):
        store.extract(folder, "", archive, "up.zip", overwrite=False)
    assert _files(tmp_path / "archive") == []  # all or nothing


def test_a_tar_member_that_is_a_link_is_refused(store: FileStore, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        link = tarfile.TarInfo("link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    buffer.seek(0)
    with pytest.raises(UnsafePath, match="'link' is a link or special file"):
        store.extract(tmp_path / "archive" / "R", "", buffer, "up.tar", overwrite=False)


# -- folder entries --------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["./", "b/"])
def test_folder_entries_are_skipped_and_the_members_after_them_extracted(store: FileStore, tmp_path: Path,
                                                                         entry: str) -> None:
    folder = tmp_path / "archive" / "R"
    archive = _zip([(entry, b"", None), ("a.txt", b"a", None), ("b/c.txt", b"c", None)])
    store.extract(folder, "", archive, "up.zip", overwrite=False)
    assert _files(folder) == ["a.txt", "b/c.txt"]


@pytest.mark.parametrize("name", ["/", "../up/", "../"])
def test_a_folder_entry_that_is_absolute_or_escapes_is_refused(store: FileStore, tmp_path: Path,
                                                               name: str) -> None:
    archive = _zip([(name, b"", None), ("a.txt", b"a", None)])
    with pytest.raises(UnsafePath):
        store.extract(tmp_path / "archive" / "R", "", archive, "up.zip", overwrite=False)
    assert _files(tmp_path / "archive") == []


def test_a_file_member_named_like_the_root_is_refused(store: FileStore, tmp_path: Path) -> None:
    archive = _zip([(".", b"not a folder", None)])
    with pytest.raises(UnsafePath, match="empty file name"):
        store.extract(tmp_path / "archive" / "R", "", archive, "up.zip", overwrite=False)


# -- no temporary file left behind -----------------------------------------------------------------

def test_a_write_whose_rename_fails_leaves_no_temporary_file(store: FileStore, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "archive" / "R"
    store.write(folder, "keep.txt", io.BytesIO(b"old"))

    def failing_replace(source: str, target: object) -> None:
        raise PermissionError(13, "refused", str(target))

    monkeypatch.setattr(filestore.os, "replace", failing_replace)
    with pytest.raises(PermissionError):
        store.write(folder, "new.txt", io.BytesIO(b"new data"))
    monkeypatch.undo()
    assert _files(folder) == ["keep.txt"] and os.listdir(folder) == ["keep.txt"]


# -- archives are recognised by their first bytes, whatever their name -------------------------------

def _tar(compression: str) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}" if compression else "w",
                      format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo("t.txt")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"data"))
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("compression", ["", "gz", "bz2", "xz"])
def test_a_tar_is_recognised_by_its_magic_under_any_name(store: FileStore, tmp_path: Path, compression: str) -> None:
    folder = tmp_path / "archive" / "R"
    stored = store.extract(folder, "", _tar(compression), "upload.bin", overwrite=False)
    assert [item.path for item in stored] == ["t.txt"] and (folder / "t.txt").read_bytes() == b"data"


def test_an_empty_zip_is_recognised_and_extracts_nothing(store: FileStore, tmp_path: Path) -> None:
    empty = _zip([])
    assert empty.getvalue()[:4] == b"PK\x05\x06"  # only the end-of-directory record
    assert store.extract(tmp_path / "archive" / "R", "", empty, "upload.bin", overwrite=False) == []


def test_what_is_no_archive_is_refused_with_a_reason(store: FileStore, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a zip, tar or tar.gz archive"):
        store.extract(tmp_path / "archive" / "R", "", io.BytesIO(b"just text"), "notes.txt", overwrite=False)


# -- where and how a file is written -----------------------------------------------------------------

def test_a_symlink_raced_in_while_the_folders_are_made_is_refused(store: FileStore, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """path_of checks the target first; the folder made next is checked again against the resource
    folder (not only the archive root), so a link swapped in meanwhile cannot lead into another project."""
    folder, other = tmp_path / "archive" / "P1" / "R", tmp_path / "archive" / "P2" / "R"
    folder.mkdir(parents=True)
    other.mkdir(parents=True)

    def plant_a_link(path: Path) -> None:
        path.symlink_to(other, target_is_directory=True)

    monkeypatch.setattr(FileStore, "_make_dirs", staticmethod(plant_a_link))
    with pytest.raises(UnsafePath, match="resolves outside"):
        store.write(folder, "sub/x.txt", io.BytesIO(b"x"))
    assert list(other.iterdir()) == []


def test_a_stored_file_is_readable_by_all_and_writable_by_its_owner_only(store: FileStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive" / "R"
    store.write(folder, "f.txt", io.BytesIO(b"data"))
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((folder / "f.txt").stat().st_mode) == 0o666 & ~umask


def test_a_durable_store_syncs_each_file_before_it_takes_its_name(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(filestore.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    FileStore(tmp_path / "archive", durable=True).write(tmp_path / "archive" / "R", "f.txt", io.BytesIO(b"data"))
    assert synced and all(isinstance(fd, int) for fd in synced)


class _Watching(io.BytesIO):
    """A body that records the folder's entries while it is being read (the temp file is there)."""

    def __init__(self, data: bytes, folder: Path) -> None:
        super().__init__(data)
        self.folder, self.seen = folder, set[str]()

    def read(self, size: int | None = -1) -> bytes:
        self.seen.update(os.listdir(self.folder))
        return super().read(size)


def test_an_upload_in_progress_is_a_temp_file_the_start_up_sweep_recognises(store: FileStore, tmp_path: Path) -> None:
    folder = tmp_path / "archive" / "R"
    folder.mkdir(parents=True)
    body = _Watching(b"data", folder)
    store.write(folder, "f.txt", body)
    temps = [name for name in body.seen if name != "f.txt"]
    assert temps and all(name.startswith(filestore.TEMP_PREFIX) for name in temps)


class _Generous(io.BytesIO):
    """A body that ignores the size asked for and hands over everything it has."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(-1)


LONG = filestore.CHUNK_SIZE + 10  # more than one read's worth


# the bodies are made per run (a stream made at collection would be spent by a second run in
# the same process, as mutmut makes)
@pytest.mark.parametrize(("kind", "size", "length"), [(io.BytesIO, 2 * LONG, LONG), (_Generous, 100, 60)])
def test_no_more_than_the_declared_length_is_stored(store: FileStore, tmp_path: Path, kind: type[io.BytesIO],
                                                    size: int, length: int) -> None:
    stored = store.write(tmp_path / "archive" / "R", "f.txt", kind(b"a" * size), length=length)
    assert stored.size == length and (tmp_path / "archive" / "R" / "f.txt").read_bytes() == b"a" * length


def test_path_and_name_lengths_are_allowed_up_to_their_bounds() -> None:
    name = "n" * 255  # the longest name a file system takes
    assert filestore.safe_relpath(name) == name
    with pytest.raises(UnsafePath, match="name too long"):
        filestore.safe_relpath("n" * 256)
    longest = "/".join(["d" * 200] * 10) + "/" + "f" * (filestore.MAX_RELPATH_BYTES - 2010)
    assert len(longest.encode()) == filestore.MAX_RELPATH_BYTES
    assert filestore.safe_relpath(longest) == longest
    with pytest.raises(UnsafePath, match="path longer than"):
        filestore.safe_relpath(longest + "f")


def test_the_store_makes_its_root_and_the_folders_above_it_and_reopens_it(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet" / "archive"
    FileStore(root, durable=False).write(root / "R", "f.txt", io.BytesIO(b"kept"))
    assert FileStore(root, durable=False).list_files(root / "R") == ["f.txt"]  # a restart on the same root


class _WatchingTree(io.BytesIO):
    """An upload body that records every name under ``folder`` while it is being read."""

    def __init__(self, data: bytes, folder: Path) -> None:
        super().__init__(data)
        self.folder, self.seen = folder, set[str]()

    def read(self, size: int | None = -1) -> bytes:
        for where, folders, files in os.walk(self.folder):
            self.seen.update(str(Path(where, name).relative_to(self.folder)) for name in folders + files)
        return super().read(size)


@pytest.mark.parametrize("kind", ["zip", "tgz"])
def test_an_archive_is_staged_beside_its_folder_under_the_sweep_prefix(store: FileStore, tmp_path: Path,
                                                                       kind: str) -> None:
    """Beside the folder (so a new resource takes the tree in one rename): on its disk, whose free
    space counts, and under the archive root, so a crash leaves nothing but what the start-up
    sweep removes. A zip is spooled there first; a tar is not spooled at all."""
    folder = tmp_path / "archive" / "R"
    folder.mkdir(parents=True)
    if kind == "zip":
        data = _zip([("a.txt", b"a", None)]).getvalue()
    else:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo("a.txt")
            info.size = 1
            archive.addfile(info, io.BytesIO(b"a"))
        data = buffer.getvalue()
    body = _WatchingTree(data, folder.parent)
    store.extract(folder, "", body, f"up.{kind}", overwrite=False)
    staged = [Path(name) for name in body.seen if name != "R"]
    assert staged and all(path.parts[0].startswith(filestore.TEMP_PREFIX) for path in staged)
    spools = [path for path in staged if len(path.parts) == 2 and path.name.startswith(filestore.TEMP_PREFIX)]
    assert bool(spools) == (kind == "zip")
    assert _files(folder) == ["a.txt"] and os.listdir(folder.parent) == ["R"]


@pytest.mark.parametrize(("prefix", "stored"), [("", "a.txt"), (".", "a.txt"), ("sub/dir", "sub/dir/a.txt")])
def test_an_archive_extracts_into_a_new_nested_folder_under_any_prefix(store: FileStore, tmp_path: Path,
                                                                       prefix: str, stored: str) -> None:
    folder = tmp_path / "archive" / "P" / "R" / "new"
    store.extract(folder, prefix, _zip([("a.txt", b"a", None)]), "up.zip", overwrite=False)
    assert _files(folder) == [stored]
