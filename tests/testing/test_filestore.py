"""Tests of the embedded server's file store: safe paths, atomic writes, archives in and out."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import stat
import tarfile
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from werkzeug.exceptions import ClientDisconnected

from xnat.testing import filestore as fs_module
from xnat.testing.filestore import (
    DuplicateFiles,
    FileStore,
    IncompleteUpload,
    StoredFile,
    UnsafePath,
    safe_relpath,
)

MiB = 1024 * 1024


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "archive", durable=False)


@pytest.fixture
def folder(store: FileStore) -> Path:
    return store.resource_dir("projects", "P1", "resources", "R1")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def leftovers(path: Path) -> list[str]:
    """Every entry (files and folders) under ``path``, relative, sorted."""
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


class Chunks(io.RawIOBase):
    """A stream of ``count`` chunks of ``size`` bytes that may fail after ``fail_after`` chunks."""

    def __init__(self, count: int, size: int = MiB, fail_after: int | None = None,
                 error: BaseException | None = None) -> None:
        self.count, self.size, self.fail_after, self.error = count, size, fail_after, error
        self.sent = 0
        self.digest = hashlib.md5()

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise self.error  # type: ignore[misc]
        if self.sent >= self.count:
            return b""
        chunk = bytes([self.sent % 256]) * min(self.size, n if n > 0 else self.size)
        self.sent += 1
        self.digest.update(chunk)
        return chunk


# -- safe paths -------------------------------------------------------------------------

@pytest.mark.parametrize("given, expected", [
    ("a.txt", "a.txt"), ("a//b", "a/b"), ("./a", "a"), ("a/./b/", "a/b"), ("x..y/...", "x..y/..."),
    ("DICOM/1.2.3.dcm", "DICOM/1.2.3.dcm"), ("naïve name.nii.gz", "naïve name.nii.gz"),
])
def test_safe_relpath_normalises(given: str, expected: str) -> None:
    assert safe_relpath(given) == expected


BAD_PATHS = [
    "..", "../x", "a/../../x", "a/..", "./../x", "/etc/passwd", "//srv/x", "/",
    "a\x00b", "a\nb", "..\\..\\x", "a\\b", "C:/Windows", "c:x", "", ".", "./", "a" * 256,
]


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_safe_relpath_rejects(bad: str) -> None:
    with pytest.raises(UnsafePath):
        safe_relpath(bad)


def test_safe_relpath_rejects_non_string() -> None:
    with pytest.raises(UnsafePath, match="string"):
        safe_relpath(b"a.txt")  # type: ignore[arg-type]


def test_unsafe_path_is_a_value_error() -> None:
    assert issubclass(UnsafePath, ValueError) and issubclass(IncompleteUpload, OSError)


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_path_of_and_write_reject(store: FileStore, folder: Path, bad: str) -> None:
    with pytest.raises(UnsafePath):
        store.path_of(folder, bad)
    with pytest.raises(UnsafePath):
        store.write(folder, bad, io.BytesIO(b"x"))
    assert leftovers(folder) == []


def test_resource_dir_makes_parts_safe(store: FileStore) -> None:
    folder = store.resource_dir("projects", "P1", "subjects//S1")
    assert folder == store.root / "projects/P1/subjects/S1" and folder.is_dir()
    for bad in ("..", "/abs", "a/../..", "a\\..\\.."):
        with pytest.raises(UnsafePath):
            store.resource_dir("projects", bad)


def test_symlink_on_disk_cannot_lead_outside(store: FileStore, folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "link").symlink_to(outside)
    with pytest.raises(UnsafePath):
        store.path_of(folder, "link/x.txt")
    with pytest.raises(UnsafePath):
        store.write(folder, "link/x.txt", io.BytesIO(b"x"))
    (store.root / "projects" / "evil").symlink_to(outside)
    with pytest.raises(UnsafePath):
        store.resource_dir("projects", "evil", "R")
    with pytest.raises(UnsafePath):
        store.delete(folder, "link/x.txt")
    assert list(outside.iterdir()) == []


def test_folder_outside_root_refused(store: FileStore, tmp_path: Path) -> None:
    with pytest.raises(UnsafePath):
        store.path_of(tmp_path, "a.txt")
    with pytest.raises(UnsafePath):
        store.delete(tmp_path)


def test_paths_of_refuses_what_path_of_refuses(store: FileStore, folder: Path, tmp_path: Path) -> None:
    """The batch form checks each name as path_of does, its folders looked at once per call."""
    outside, sibling = tmp_path / "outside", tmp_path / "archive2"  # the root's name plus a suffix
    for where in (outside, sibling):
        where.mkdir()
        (where / "x.txt").write_bytes(b"secret")
    store.write(folder, "sub/ok.txt", io.BytesIO(b"ok"))
    (folder / "sub" / "out.txt").symlink_to(outside / "x.txt")  # a file link, the last component
    (folder / "sib").symlink_to(sibling)
    (folder / "in").symlink_to(folder / "sub")  # a link that stays inside is fine
    assert store.paths_of(folder, ["sub/ok.txt", "in/ok.txt", "new/a.txt"]) == [
        folder / "sub/ok.txt", folder / "in/ok.txt", folder / "new/a.txt"]
    for bad in ("sub/out.txt", "sib/x.txt", "../R1/x", "/etc/passwd"):
        with pytest.raises(UnsafePath):
            store.paths_of(folder, ["sub/ok.txt", bad])  # after a name whose folder was found clean
        with pytest.raises(UnsafePath):
            store.path_of(folder, bad)
    for bad_folder in (tmp_path, sibling, store.root / "projects" / ".." / ".." / "archive2"):
        with pytest.raises(UnsafePath):
            store.paths_of(bad_folder, ["x.txt"])


def test_a_root_reached_through_a_link_keeps_its_checks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    store = FileStore(tmp_path / "linked", durable=False)
    folder = store.resource_dir("P", "R")
    store.write(folder, "a/b.txt", io.BytesIO(b"b"))
    assert store.paths_of(folder, ["a/b.txt"]) == [folder / "a/b.txt"]
    (folder / "a" / "up").symlink_to(tmp_path)
    with pytest.raises(UnsafePath):
        store.path_of(folder, "a/up/real/x")
    with pytest.raises(UnsafePath):
        store.write(folder, "a/up/x", io.BytesIO(b"x"))


# -- write ------------------------------------------------------------------------------

def test_write_stores_bytes_md5_and_size(store: FileStore, folder: Path) -> None:
    stored = store.write(folder, "a//DICOM/./1.dcm", io.BytesIO(b"hello"), length=5)
    assert stored == StoredFile("a/DICOM/1.dcm", 5, md5(b"hello"))
    assert (folder / "a/DICOM/1.dcm").read_bytes() == b"hello"
    assert leftovers(folder) == ["a", "a/DICOM", "a/DICOM/1.dcm"]


def test_write_empty_file_and_replace(store: FileStore, folder: Path) -> None:
    assert store.write(folder, "e.txt", io.BytesIO(b"")) == StoredFile("e.txt", 0, md5(b""))
    store.write(folder, "e.txt", io.BytesIO(b"new"))
    assert (folder / "e.txt").read_bytes() == b"new"
    assert leftovers(folder) == ["e.txt"]


def test_write_reads_no_more_than_length(store: FileStore, folder: Path) -> None:
    stored = store.write(folder, "a", io.BytesIO(b"abcdef"), length=3)
    assert stored.size == 3 and (folder / "a").read_bytes() == b"abc"


def test_write_truncated_body_keeps_nothing(store: FileStore, folder: Path) -> None:
    store.write(folder, "old.txt", io.BytesIO(b"old"))
    with pytest.raises(IncompleteUpload, match="5 of 10"):
        store.write(folder, "new.txt", io.BytesIO(b"12345"), length=10)
    with pytest.raises(IncompleteUpload):
        store.write(folder, "old.txt", io.BytesIO(b"12345"), length=10)
    assert leftovers(folder) == ["old.txt"]
    assert (folder / "old.txt").read_bytes() == b"old"


@pytest.mark.parametrize("error", [
    ClientDisconnected(), ConnectionResetError(errno.ECONNRESET, "reset"), TimeoutError("timed out"),
])
def test_write_stream_failing_midway(store: FileStore, folder: Path, error: BaseException) -> None:
    with pytest.raises(IncompleteUpload) as info:
        store.write(folder, "x.bin", Chunks(5, fail_after=2, error=error))
    assert info.value.__cause__ is error
    assert leftovers(folder) == []


def test_disk_full_while_reading_propagates(store: FileStore, folder: Path) -> None:
    with pytest.raises(OSError) as info:
        store.write(folder, "x.bin", Chunks(5, fail_after=1, error=OSError(errno.ENOSPC, "full")))
    assert info.value.errno == errno.ENOSPC and not isinstance(info.value, IncompleteUpload)
    assert leftovers(folder) == []


class FullDisk:
    """Wraps a file opened by ``os.fdopen``; its writes fail with ENOSPC after ``allowed`` calls."""

    def __init__(self, handle: io.BufferedWriter, allowed: int) -> None:
        self.handle, self.allowed = handle, allowed

    def write(self, data: bytes) -> int:
        if self.allowed <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.allowed -= 1
        return self.handle.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self.handle, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def fill_disk(monkeypatch: pytest.MonkeyPatch, healthy_files: int, allowed_writes: int) -> None:
    """The first ``healthy_files`` temp files write normally; later ones hit a full disk."""
    real_fdopen, opened = os.fdopen, []

    def fdopen(fd: int, mode: str) -> object:
        opened.append(fd)
        handle = real_fdopen(fd, mode)
        return handle if len(opened) <= healthy_files else FullDisk(handle, allowed_writes)

    monkeypatch.setattr(fs_module.os, "fdopen", fdopen)


def test_disk_full_while_writing_removes_temp(store: FileStore, folder: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fill_disk(monkeypatch, healthy_files=0, allowed_writes=1)
    with pytest.raises(OSError) as info:
        store.write(folder, "big.bin", Chunks(4))
    assert info.value.errno == errno.ENOSPC
    assert leftovers(folder) == []


def test_fsync_failure_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    durable = FileStore(tmp_path / "archive")
    folder = durable.resource_dir("R")

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fs_module.os, "fsync", broken)
    with pytest.raises(OSError, match="I/O error"):
        durable.write(folder, "a", io.BytesIO(b"abc"))
    assert leftovers(folder) == []


def test_write_where_a_file_or_folder_is_in_the_way(store: FileStore, folder: Path) -> None:
    store.write(folder, "a", io.BytesIO(b"file"))
    store.write(folder, "d/x", io.BytesIO(b"x"))
    with pytest.raises(NotADirectoryError):
        store.write(folder, "a/b", io.BytesIO(b"x"))
    with pytest.raises(IsADirectoryError):
        store.write(folder, "d", io.BytesIO(b"x"))
    assert leftovers(folder) == ["a", "d", "d/x"]


def test_write_memory_stays_flat(store: FileStore, folder: Path) -> None:
    source = Chunks(50)
    tracemalloc.start()
    try:
        stored = store.write(folder, "big.bin", source, length=50 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stored.size == 50 * MiB and stored.md5 == source.digest.hexdigest()
    assert peak < 8 * MiB


# -- delete, list, describe -------------------------------------------------------------

def test_delete_file_prunes_empty_folders(store: FileStore, folder: Path) -> None:
    store.write(folder, "a/b/c.txt", io.BytesIO(b"c"))
    store.write(folder, "a/keep.txt", io.BytesIO(b"k"))
    assert store.delete(folder, "a/b/c.txt") is True
    assert leftovers(folder) == ["a", "a/keep.txt"]
    assert store.delete(folder, "a") is True
    assert leftovers(folder) == [] and folder.is_dir()


def test_delete_missing_and_unsafe(store: FileStore, folder: Path) -> None:
    assert store.delete(folder, "nope.txt") is False
    with pytest.raises(UnsafePath):
        store.delete(folder, "../R1")
    with pytest.raises(UnsafePath):
        store.delete(store.root)
    assert folder.is_dir()


def test_delete_whole_folder(store: FileStore, folder: Path) -> None:
    store.write(folder, "a/b.txt", io.BytesIO(b"b"))
    assert store.delete(folder) is True
    assert not folder.exists()
    assert store.delete(folder) is False  # already gone: nothing to do


def test_list_files_and_describe(store: FileStore, folder: Path) -> None:
    store.write(folder, "b/2.txt", io.BytesIO(b"two"))
    store.write(folder, "1.txt", io.BytesIO(b"one"))
    (folder / ".upload-stale").write_bytes(b"half")
    assert store.list_files(folder) == ["1.txt", "b/2.txt"]
    assert store.describe(folder, "b/2.txt") == StoredFile("b/2.txt", 3, md5(b"two"))


# -- extract ----------------------------------------------------------------------------

def make_zip(members: dict[str, bytes], **symlinks: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in symlinks.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def make_tar(members: dict[str, bytes], mode: str = "w:gz", special: tarfile.TarInfo | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
            info.size = 0 if info.isdir() else len(data)
            tf.addfile(info, io.BytesIO(data))
        if special is not None:
            tf.addfile(special)
    return buf.getvalue()


GOOD = {"scan1/a.dcm": b"A" * 1000, "scan1/b.dcm": b"B" * 10, "notes.txt": b"", "dir/": b""}


@pytest.mark.parametrize("filename, data", [
    ("up.zip", make_zip(GOOD)),
    ("up.tar", make_tar(GOOD, "w")),
    ("up.tar.gz", make_tar(GOOD)),
    ("up.tgz", make_tar(GOOD)),
    ("up.bin", make_zip(GOOD)),           # recognised by its magic bytes
    ("up.zip", make_tar(GOOD)),           # the bytes win over a wrong name
    ("noext", make_tar(GOOD, "w:bz2")),
], ids=["zip", "tar", "tar.gz", "tgz", "zip-by-magic", "tgz-named-zip", "tar.bz2-no-name"])
def test_extract_archives(store: FileStore, folder: Path, filename: str, data: bytes) -> None:
    stored = store.extract(folder, "in/here", io.BytesIO(data), filename, overwrite=False)
    expected = {f"in/here/{k}": v for k, v in GOOD.items() if not k.endswith("/")}
    assert {s.path: (s.size, s.md5) for s in stored} == {k: (len(v), md5(v)) for k, v in expected.items()}
    assert store.list_files(folder) == sorted(expected)
    for name, content in expected.items():
        assert (folder / name).read_bytes() == content
    assert not [p for p in folder.iterdir() if p.name.startswith(".upload-")]


def test_extract_at_resource_root(store: FileStore, folder: Path) -> None:
    stored = store.extract(folder, "", io.BytesIO(make_zip({"./x/y.txt": b"y"})), "a.zip", False)
    assert [s.path for s in stored] == ["x/y.txt"]


def test_extract_skips_an_entry_naming_the_root(store: FileStore, folder: Path, tmp_path: Path) -> None:
    """xnatpy's default upload_dir tars the folder itself under the name '' (issue 15 item 8)."""
    src = tmp_path / "src"
    (src / "scan").mkdir(parents=True)
    (src / "scan" / "a.dcm").write_bytes(b"A")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.add(src, arcname="")
    assert tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames()[0] == ""
    assert [s.path for s in store.extract(folder, "", io.BytesIO(buf.getvalue()), "u.tar.gz", False)] == ["scan/a.dcm"]
    for root in (".", "./"):
        data = make_tar({root if root.endswith("/") else root + "/": b"", "b.txt": b"b"})
        assert [s.path for s in store.extract(folder, "x", io.BytesIO(data), "u.tgz", True)] == ["x/b.txt"]
    data = make_zip({"./": b"", "c.txt": b"c"})
    assert [s.path for s in store.extract(folder, "z", io.BytesIO(data), "u.zip", False)] == ["z/c.txt"]


# (a folder entry named "/" reads back from tarfile as "": the root itself, harmless)
@pytest.mark.parametrize("name", ["../", "/etc/", "a/../../"])
def test_extract_still_refuses_folders_outside_the_root(store: FileStore, folder: Path, name: str) -> None:
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(make_tar({name: b"", "b.txt": b"b"})), "u.tgz", False)


def test_extract_refuses_a_link_naming_the_root(store: FileStore, folder: Path) -> None:
    link = tarfile.TarInfo(".")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(make_tar({"b.txt": b"b"}, special=link)), "u.tgz", False)


def test_extract_duplicates_without_overwrite(store: FileStore, folder: Path) -> None:
    store.write(folder, "scan1/a.dcm", io.BytesIO(b"original"))
    with pytest.raises(FileExistsError) as info:
        store.extract(folder, "", io.BytesIO(make_zip(GOOD)), "up.zip", overwrite=False)
    assert isinstance(info.value, DuplicateFiles) and info.value.names == ["scan1/a.dcm"]
    assert leftovers(folder) == ["scan1", "scan1/a.dcm"]
    assert (folder / "scan1/a.dcm").read_bytes() == b"original"
    store.extract(folder, "", io.BytesIO(make_zip(GOOD)), "up.zip", overwrite=True)
    assert (folder / "scan1/a.dcm").read_bytes() == GOOD["scan1/a.dcm"]


def _tar_special(name: str, kind: bytes, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


UNSAFE_ARCHIVES = {
    "zip ..": ("a.zip", make_zip({"ok.txt": b"ok", "../evil.txt": b"x"})),
    "zip nested ..": ("a.zip", make_zip({"ok.txt": b"ok", "a/../../evil.txt": b"x"})),
    "zip absolute": ("a.zip", make_zip({"ok.txt": b"ok", "/tmp/evil.txt": b"x"})),
    "zip backslash": ("a.zip", make_zip({"ok.txt": b"ok", "..\\..\\evil.txt": b"x"})),
    "zip drive": ("a.zip", make_zip({"ok.txt": b"ok", "C:/evil.txt": b"x"})),
    "zip symlink": ("a.zip", make_zip({"ok.txt": b"ok"}, link="/etc/passwd")),
    "tar ..": ("a.tgz", make_tar({"ok.txt": b"ok", "../evil.txt": b"x"})),
    "tar absolute": ("a.tar", make_tar({"ok.txt": b"ok", "/tmp/evil.txt": b"x"}, "w")),
    "tar NUL-free control": ("a.tgz", make_tar({"ok.txt": b"ok", "a\nb": b"x"})),
    "tar symlink": ("a.tgz", make_tar({"ok.txt": b"ok"}, special=_tar_special("l", tarfile.SYMTYPE, "/etc"))),
    "tar hardlink": ("a.tgz", make_tar({"ok.txt": b"ok"}, special=_tar_special("h", tarfile.LNKTYPE, "ok.txt"))),
    "tar char device": ("a.tgz", make_tar({"ok.txt": b"ok"}, special=_tar_special("c", tarfile.CHRTYPE))),
    "tar block device": ("a.tgz", make_tar({"ok.txt": b"ok"}, special=_tar_special("b", tarfile.BLKTYPE))),
    "tar fifo": ("a.tgz", make_tar({"ok.txt": b"ok"}, special=_tar_special("f", tarfile.FIFOTYPE))),
}


@pytest.mark.parametrize("case", sorted(UNSAFE_ARCHIVES))
def test_extract_unsafe_member_writes_nothing(store: FileStore, folder: Path, tmp_path: Path, case: str) -> None:
    filename, data = UNSAFE_ARCHIVES[case]
    before = leftovers(tmp_path)
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(data), filename, overwrite=True)
    assert leftovers(folder) == []
    assert leftovers(tmp_path) == before


def test_extract_unsafe_prefix(store: FileStore, folder: Path) -> None:
    for prefix in ("..", "/abs", "../x"):
        with pytest.raises(UnsafePath):
            store.extract(folder, prefix, io.BytesIO(make_zip({"a": b"a"})), "a.zip", False)
    assert leftovers(folder) == []


def test_extract_member_through_symlink_on_disk(store: FileStore, folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "link").symlink_to(outside)
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(make_zip({"link/evil.txt": b"x"})), "a.zip", True)
    assert list(outside.iterdir()) == []


def test_extract_member_onto_a_file_link_leading_outside(store: FileStore, folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    (folder / "a.txt").symlink_to(outside)
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(make_zip({"a.txt": b"x"})), "a.zip", True)
    assert outside.read_bytes() == b"keep"


def test_extract_each_folder_is_checked_for_links_even_beside_safe_ones(store: FileStore, folder: Path,
                                                                        tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "sub").mkdir()
    (folder / "sub" / "link").symlink_to(outside)
    members = {f"sub/ok{index}.txt": b"ok" for index in range(5)} | {"sub/link/evil.txt": b"x"}
    with pytest.raises(UnsafePath):
        store.extract(folder, "", io.BytesIO(make_zip(members)), "a.zip", True)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (folder / "sub").iterdir()) == ["link"]


def _count_moves(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record the target of every os.replace / os.rename the store makes (that succeeds)."""
    moves: list[object] = []
    for name in ("replace", "rename"):
        real = getattr(fs_module.os, name)

        def move(source: object, target: object, real: object = real) -> None:
            real(source, target)  # type: ignore[operator]
            moves.append(target)

        monkeypatch.setattr(fs_module.os, name, move)
    return moves


@pytest.mark.parametrize("filename, pack", [("a.tgz", make_tar), ("a.zip", make_zip)])
def test_extract_writes_each_member_once_and_digests_it_as_written(store: FileStore, folder: Path,
                                                                   monkeypatch: pytest.MonkeyPatch, filename: str,
                                                                   pack: object) -> None:
    members = {f"d{index % 3}/f{index}.bin": os.urandom(100 + index) for index in range(30)}
    data = pack(members)  # type: ignore[operator]
    store.write(folder, "kept.txt", io.BytesIO(b"kept"))
    moves = _count_moves(monkeypatch)
    monkeypatch.setattr(FileStore, "describe", lambda *args: pytest.fail("a member was read back"))
    stored = store.extract(folder, "up", io.BytesIO(data), filename, False)
    assert moves == [folder / "up"]  # straight into staging, then the new folder moves in whole
    assert sorted(stored, key=lambda f: f.path) == sorted(
        (StoredFile(f"up/{name}", len(data), md5(data)) for name, data in members.items()), key=lambda f: f.path)
    assert all((folder / "up" / name).read_bytes() == data for name, data in members.items())
    assert stat.S_IMODE((folder / "up").stat().st_mode) == stat.S_IMODE((folder / "up" / "d0").stat().st_mode)
    moves.clear()
    store.extract(folder, "", io.BytesIO(data), filename, False)  # into a folder that holds files: one by one
    assert sorted(moves) == sorted(folder / name for name in members)
    assert store.list_files(folder) == sorted(["kept.txt", *members, *(f"up/{name}" for name in members)])


def test_extract_into_an_empty_resource_is_one_rename(store: FileStore, folder: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    members = {f"d{index % 4}/f{index}.bin": bytes([index]) * 50 for index in range(40)}
    moves = _count_moves(monkeypatch)
    store.extract(folder, "", io.BytesIO(make_tar(members)), "a.tgz", False)
    assert moves == [folder]
    assert store.list_files(folder) == sorted(members)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".upload-")]


def test_extract_into_the_archive_root_moves_file_by_file(tmp_path: Path) -> None:
    """The XAR import unpacks into a store's root: its staging folder is inside, so no whole move."""
    root = tmp_path / "root"
    store = FileStore(root, durable=False)
    stored = store.extract(root, "", io.BytesIO(make_tar({"a/b.txt": b"b", "c.txt": b"c"})), "x.tgz", False)
    assert sorted(s.path for s in stored) == ["a/b.txt", "c.txt"]
    assert leftovers(root) == ["a", "a/b.txt", "c.txt"]
    assert leftovers(tmp_path) == ["root", "root/a", "root/a/b.txt", "root/c.txt"]


class Arriving(io.BytesIO):
    """An upload body read in small pieces that records, at each read, the files staged so far."""

    def __init__(self, data: bytes, where: Path) -> None:
        super().__init__(data)
        self.where, self.staged_at = where, list[int]()

    def read(self, size: int | None = -1) -> bytes:
        self.staged_at.append(sum(1 for p in self.where.rglob("*") if p.is_file()))
        return super().read(min(size, 4096) if size is not None and size >= 0 else 4096)


@pytest.mark.parametrize("mode", ["w:gz", "w", "w:xz"])  # (bzip2 decompresses in blocks of 900 kB)
def test_extract_unpacks_a_tar_while_it_arrives(store: FileStore, folder: Path, mode: str) -> None:
    members = {f"d/f{index}.bin": os.urandom(3000) for index in range(20)}
    body = Arriving(make_tar(members, mode), folder.parent)
    stored = store.extract(folder, "", body, "a.tar", False)
    assert {f.path: f.md5 for f in stored} == {name: md5(content) for name, content in members.items()}
    half = len(body.staged_at) // 2
    assert body.staged_at[half] > 0  # members were on disk while the body was still arriving
    assert body.tell() == len(body.getvalue())  # and the body was read to its end


def test_extract_a_cut_off_or_tampered_tar_gz_is_corrupt(store: FileStore, folder: Path) -> None:
    data = make_tar({f"d/f{index}.bin": os.urandom(300) for index in range(8)})
    for bad in (data[:-300], data[:-4], data[:-8] + bytes(b ^ 0xFF for b in data[-8:-4]) + data[-4:],
                data + b"trailing garbage"):
        with pytest.raises(ValueError, match="corrupt"):  # the gzip trailer (CRC, size) is checked too
            store.extract(folder, "", io.BytesIO(bad), "b.tgz", True)
        assert leftovers(folder) == []
    assert len(store.extract(folder, "", io.BytesIO(data + bytes(100)), "b.tgz", True)) == 8  # zero padding is fine


def flip_byte(data: bytes, needle: bytes) -> bytes:
    at = data.index(needle)
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("filename, data, message", [
    ("a.zip", b"PK\x03\x04" + b"\x00" * 60, "corrupt"),
    ("a.zip", b"this is not a zip", "not a valid zip"),
    ("a.txt", b"plain text", "not a zip, tar or tar.gz"),
    ("a.tar.gz", gzip.compress(b"gzip but no tar inside" * 10), "corrupt"),
    ("a.tgz", make_tar({"a": os.urandom(4000), "b": b"b"})[:-200], "corrupt"),
    ("a.tar", make_tar({"a": b"A" * 4000}, "w")[:1500], "corrupt"),
    ("a.zip", flip_byte(make_zip({"first.txt": b"fine", "second.txt": b"S"}), b"second.txt"), "corrupt"),
], ids=["zip-garbage", "zip-named-text", "text", "gzip-not-tar", "tgz-truncated", "tar-truncated",
        "zip-header-mismatch"])
def test_extract_corrupt_or_not_archive(store: FileStore, folder: Path, filename: str, data: bytes,
                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.extract(folder, "", io.BytesIO(data), filename, overwrite=True)
    assert leftovers(folder) == []


def test_extract_crc_error_writes_nothing(store: FileStore, folder: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("first.txt", b"fine")
        zf.writestr("second.txt", b"PAYLOAD" * 100)
    with pytest.raises(ValueError, match="corrupt archive member 'second.txt'"):
        store.extract(folder, "", io.BytesIO(flip_byte(buf.getvalue(), b"PAYLOAD")), "a.zip", True)
    assert leftovers(folder) == []


def test_extract_encrypted_zip(store: FileStore, folder: Path) -> None:
    data = bytearray(make_zip({"secret.txt": b"s"}))
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    with pytest.raises(ValueError, match="encrypted"):
        store.extract(folder, "", io.BytesIO(bytes(data)), "a.zip", True)
    assert leftovers(folder) == []


@pytest.mark.parametrize("data, message", [
    (make_tar({"x": b"1", "./x": b"2"}), "twice"),
    (make_zip({"a": b"file", "a/b": b"inside"}), "both a file and a folder"),
], ids=["duplicate", "file-and-folder"])
def test_extract_conflicting_members(store: FileStore, folder: Path, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        store.extract(folder, "", io.BytesIO(data), "a.tgz", True)
    assert leftovers(folder) == []


def test_extract_conflicts_with_disk(store: FileStore, folder: Path) -> None:
    store.write(folder, "a", io.BytesIO(b"file"))
    store.write(folder, "d/x", io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="is a file"):
        store.extract(folder, "", io.BytesIO(make_zip({"a/b": b"b"})), "z.zip", True)
    with pytest.raises(ValueError, match="is a folder"):
        store.extract(folder, "", io.BytesIO(make_zip({"d": b"d"})), "z.zip", True)
    assert leftovers(folder) == ["a", "d", "d/x"]


def shutil_usage(free: int) -> object:
    import shutil
    return shutil._ntuple_diskusage(10 * free, 9 * free, free)  # type: ignore[attr-defined]


def test_extract_refuses_more_than_free_space(store: FileStore, folder: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = make_zip({"zeros.bin": b"\0" * (4 * MiB)})
    assert len(bomb) < 10_000
    monkeypatch.setattr(fs_module.shutil, "disk_usage", lambda path: shutil_usage(MiB))
    with pytest.raises(OSError) as info:
        store.extract(folder, "", io.BytesIO(bomb), "bomb.zip", True)
    assert info.value.errno == errno.ENOSPC
    assert leftovers(folder) == []


def test_extract_disk_full_midway_writes_nothing(store: FileStore, folder: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fill_disk(monkeypatch, healthy_files=2, allowed_writes=0)  # the upload and one member fit
    with pytest.raises(OSError) as info:
        store.extract(folder, "", io.BytesIO(make_zip(GOOD)), "up.zip", True)
    assert info.value.errno == errno.ENOSPC
    assert leftovers(folder) == []


class CutOff(io.BytesIO):
    """A body that hands over ``data`` in small pieces, then fails as a client that hung up."""

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(1000)
        if not chunk:
            raise ClientDisconnected()
        return chunk


@pytest.mark.parametrize("filename, data", [
    ("a.zip", make_zip({"a.bin": os.urandom(5000)})[:-100]),
    ("a.tgz", make_tar({f"f{index}.bin": os.urandom(3000) for index in range(5)})[:-100]),
    ("a.tar", make_tar({f"f{index}.bin": os.urandom(3000) for index in range(5)}, "w")[:7000]),
], ids=["zip", "tgz", "tar"])
def test_extract_upload_cut_off(store: FileStore, folder: Path, filename: str, data: bytes) -> None:
    with pytest.raises(IncompleteUpload):
        store.extract(folder, "", CutOff(data), filename, True)
    assert leftovers(folder) == []
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".upload-")]


# -- archives out -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("big") / "big.bin"
    digest = hashlib.md5()
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for i in range(50):
            chunk = bytes([i]) + block[1:]
            out.write(chunk)
            digest.update(chunk)
    return path, digest.hexdigest()


def _consume(chunks, target: Path) -> tuple[int, int]:
    """Write the generator's output to ``target``; return (chunk count, traced peak)."""
    tracemalloc.start()
    count = 0
    try:
        with open(target, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                count += 1
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _member_md5(handle) -> str:
    digest = hashlib.md5()
    while chunk := handle.read(MiB):
        digest.update(chunk)
    return digest.hexdigest()


def test_stream_zip_large_file_bounded_memory(store: FileStore, big_file: tuple[Path, str], tmp_path: Path) -> None:
    path, digest = big_file
    small = tmp_path / "small.txt"
    small.write_bytes(b"small")
    out = tmp_path / "out.zip"
    count, peak = _consume(store.stream_zip([("a/big.bin", path), ("small.txt", small)]), out)
    assert peak < 10 * MiB and count >= 50
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["a/big.bin", "small.txt"]
        assert zf.testzip() is None
        with zf.open("a/big.bin") as member:
            assert _member_md5(member) == digest
        assert zf.read("small.txt") == b"small"


def test_stream_targz_large_file_bounded_memory(store: FileStore, big_file: tuple[Path, str],
                                                tmp_path: Path) -> None:
    path, digest = big_file
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    out = tmp_path / "out.tar.gz"
    count, peak = _consume(store.stream_targz([("x/big.bin", path), ("empty", empty)]), out)
    assert peak < 10 * MiB and count >= 40
    with tarfile.open(out, "r:gz") as tf:
        assert tf.getnames() == ["x/big.bin", "empty"]
        assert _member_md5(tf.extractfile("x/big.bin")) == digest
        assert tf.extractfile("empty").read() == b""


def test_stream_small_archives(store: FileStore, folder: Path) -> None:
    long_name = "deep/" * 30 + "n" * 120 + ".dcm"
    store.write(folder, long_name, io.BytesIO(b"long"))
    store.write(folder, "e", io.BytesIO(b""))
    entries = [(long_name, folder / long_name), ("e", folder / "e")]
    zipped = b"".join(store.stream_zip(entries, compression=zipfile.ZIP_STORED))
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert zf.read(long_name) == b"long" and zf.read("e") == b""
    plain = b"".join(store.stream_tar(entries))
    assert len(plain) % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(plain)) as tf:
        assert tf.extractfile(long_name).read() == b"long"
    with zipfile.ZipFile(io.BytesIO(b"".join(store.stream_zip([])))) as zf:
        assert zf.namelist() == []
    with tarfile.open(fileobj=io.BytesIO(b"".join(store.stream_targz([])))) as tf:
        assert tf.getnames() == []


def test_stream_round_trips_through_extract(store: FileStore, folder: Path, tmp_path: Path) -> None:
    store.extract(folder, "", io.BytesIO(make_zip(GOOD)), "a.zip", False)
    entries = [(name, folder / name) for name in store.list_files(folder)]
    other = store.resource_dir("other")
    stored = store.extract(other, "", io.BytesIO(b"".join(store.stream_targz(entries))), "x.tar.gz", False)
    assert sorted((s.path, s.md5) for s in stored) == sorted(
        (k, md5(v)) for k, v in GOOD.items() if not k.endswith("/"))


def test_stream_zip_compression_settings(store: FileStore, folder: Path) -> None:
    text = b"".join(b"line %d of some text\n" % i for i in range(20000))
    store.write(folder, "t.txt", io.BytesIO(text))
    sizes = {}
    for label, method, level in [("stored", zipfile.ZIP_STORED, None), ("fast", zipfile.ZIP_DEFLATED, 1),
                                 ("best", zipfile.ZIP_DEFLATED, 9)]:
        zipped = b"".join(store.stream_zip([("t.txt", folder / "t.txt")], method, level))
        with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
            assert zf.getinfo("t.txt").compress_type == method and zf.read("t.txt") == text
        sizes[label] = len(zipped)
    assert sizes["stored"] > len(text) > sizes["fast"] > sizes["best"]


def test_stream_zip_stores_what_does_not_compress(store: FileStore, folder: Path, tmp_path: Path) -> None:
    """Random bytes are stored, not deflated (a deflate would only grow them); text and an
    empty file keep XNAT's deflate or cost nothing; both kinds read back, streamed too."""
    from xnat.transfer.unzip import extract_zip_stream

    files = {"noise.bin": os.urandom(20000), "text.txt": b"".join(b"row %d\n" % i for i in range(5000)),
             "half.bin": bytes(8192) + os.urandom(3 * MiB), "empty": b""}
    for name, data in files.items():
        store.write(folder, name, io.BytesIO(data))
    zipped = b"".join(store.stream_zip([(name, folder / name) for name in files]))
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        methods = {info.filename: info.compress_type for info in zf.infolist()}
        assert zf.testzip() is None and {name: zf.read(name) for name in files} == files
    assert methods == {"noise.bin": zipfile.ZIP_STORED, "text.txt": zipfile.ZIP_DEFLATED,
                       "half.bin": zipfile.ZIP_DEFLATED, "empty": zipfile.ZIP_STORED}
    extracted = extract_zip_stream((zipped[i:i + 5000] for i in range(0, len(zipped), 5000)), tmp_path / "out")
    assert {name: path.read_bytes() for name, path in extracted.items()} == files
    forced = b"".join(store.stream_zip([("noise.bin", folder / "noise.bin")], zipfile.ZIP_BZIP2, 1))
    with zipfile.ZipFile(io.BytesIO(forced)) as zf:  # a method asked for is kept
        assert zf.getinfo("noise.bin").compress_type == zipfile.ZIP_BZIP2


def test_stream_zip_uses_zip64_when_needed(store: FileStore, folder: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(5000)
    store.write(folder, "a", io.BytesIO(data))
    with monkeypatch.context() as patch:  # pretend 1000 bytes is the 4 GiB limit
        patch.setattr(zipfile, "ZIP64_LIMIT", 1000)
        zipped = b"".join(store.stream_zip([("a", folder / "a"), ("b", folder / "a")]))
    assert b"PK\x06\x06" in zipped  # the ZIP64 end of central directory record
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert zf.testzip() is None and zf.read("b") == data


@pytest.mark.parametrize("method", ["stream_zip", "stream_targz", "stream_tar"])
@pytest.mark.parametrize("arcname", ["../evil", "/abs", "a\\..\\b"])
def test_stream_rejects_unsafe_arcnames(store: FileStore, folder: Path, method: str, arcname: str) -> None:
    store.write(folder, "a", io.BytesIO(b"a"))
    with pytest.raises(UnsafePath):
        b"".join(getattr(store, method)([(arcname, folder / "a")]))


@pytest.mark.parametrize("method", ["stream_zip", "stream_targz"])
def test_stream_missing_file_raises(store: FileStore, folder: Path, method: str) -> None:
    with pytest.raises(FileNotFoundError):
        b"".join(getattr(store, method)([("gone", folder / "gone")]))


def test_concurrent_writes_and_deletes_in_one_folder(store: FileStore, folder: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def churn(worker: int) -> list[str]:
        kept = []
        for i in range(40):  # "tmp/a/b" is emptied and pruned while other threads write into it
            name = f"tmp/a/b/w{worker}-{i}.txt"
            store.write(folder, name, io.BytesIO(name.encode()))
            assert store.delete(folder, name) is True
            if i % 4 == 0:
                kept.append(f"tmp/a/keep-{worker}-{i}.txt")
                store.write(folder, kept[-1], io.BytesIO(kept[-1].encode()))
                assert store.delete(folder, kept[-1]) is True  # also prunes "tmp/a" when empty
                store.write(folder, kept[-1], io.BytesIO(kept[-1].encode()))
        return kept

    with ThreadPoolExecutor(4) as pool:
        kept = sorted(name for names in pool.map(churn, range(4)) for name in names)
    assert store.list_files(folder) == kept
    assert all((folder / name).read_bytes() == name.encode() for name in kept)
