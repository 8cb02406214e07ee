"""Files on disk in the embedded server's archive tree.

Everything a request names is made safe here before it touches the disk: relative paths
only, no ``..``, no NUL or control characters, no backslashes or drive letters, and every
resolved path (symlinks already on disk included) must stay under its folder. Writes are
atomic (a ``.upload-*`` temp file beside the target, fsync, ``os.replace``), so a cut-off
upload never leaves a half file; temp files a crash left behind are swept at start-up
(:meth:`FileStore.sweep_temp`). An uploaded tar (plain or compressed) is unpacked while it
arrives, each member checked as its header comes (names, entry count, declared size against
the absolute bound and the free space) and the expanded bytes held to the archive's size so
far (gzip bombs); a zip is spooled, then checked whole against :class:`ExtractLimits` before
anything is written. Either way the members go into a private ``.upload-*`` staging folder
(each written once, its MD5 computed as it is written) and move into place only when all of
it is there: one rename when the target folder is new or empty. zip/tar.gz downloads are
produced on the fly with bounded memory; a zip deflates its members as XNAT's do, but stores
one whose start does not compress.
"""

from __future__ import annotations

import bz2
import errno
import gzip
import hashlib
import logging
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from xnat.transfer.paths import link_on_the_way

try:  # werkzeug signals a client that hung up mid-body with an HTTPException, not an OSError
    from werkzeug.exceptions import ClientDisconnected as _ClientDisconnected
except ImportError:  # pragma: no cover - the server extra is not installed
    class _ClientDisconnected(Exception):  # type: ignore[no-redef]
        """Stand-in so the except clauses below stay valid without werkzeug."""

logger = logging.getLogger(__name__)

__all__ = ["CHUNK_SIZE", "ArchiveTooLarge", "DuplicateFiles", "ExtractLimits", "FileStore",
           "IncompleteUpload", "StoredFile", "UnsafePath", "is_disk_full", "safe_relpath"]

CHUNK_SIZE = 1024 * 1024
TEMP_PREFIX = ".upload-"
#: Longest relative path a request may name, in UTF-8 bytes: with the archive root in front
#: it stays well under Linux's PATH_MAX (4096), so the disk never answers ENAMETOOLONG.
MAX_RELPATH_BYTES = 2048
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: os.umask cannot be queried without setting it


class UnsafePath(ValueError):
    """A path or archive member that could land outside its folder (answered with 400)."""


class ArchiveTooLarge(ValueError):
    """An archive whose members would expand past :class:`ExtractLimits` (answered with 413)."""


@dataclass(frozen=True)
class ExtractLimits:
    """How far an uploaded archive may expand (``extract=true``).

    A zip is checked whole before anything is written: its declared sizes are what count
    (the readers stop each member at its declared size, more data is a corrupt archive, so
    they bound what is written too). A tar is unpacked as it arrives: the entry count and
    :attr:`max_bytes` are held to the declared sizes as each header comes, the ratio to the
    bytes expanded so far against the archive's bytes read so far (:meth:`check_expansion`).
    """

    #: the members may add up to this many times the archive's own size ...
    max_ratio: float = 100.0
    #: ... but a small archive may always expand to this many bytes (plain text zips well) ...
    min_allowance: int = 16 * 1024 * 1024
    #: ... and no archive past this many bytes
    max_bytes: int = 10 * 1024 ** 3
    #: entries (files) in one archive
    max_files: int = 100_000

    def allowed(self, archive_size: int) -> int:
        """How many bytes an archive of ``archive_size`` bytes may expand to."""
        return min(self.max_bytes, max(self.min_allowance, int(archive_size * self.max_ratio)))

    def check(self, archive_size: int, total: int, count: int) -> None:
        """Raise :class:`ArchiveTooLarge` if ``count`` members of ``total`` bytes are too many."""
        self.check_count(count)
        allowed = self.allowed(archive_size)
        if total > allowed:
            raise ArchiveTooLarge(f"the archive ({archive_size} bytes) expands to {total} bytes;"
                                  f" at most {allowed} bytes are accepted")

    def check_count(self, count: int) -> None:
        """Raise :class:`ArchiveTooLarge` past :attr:`max_files` members."""
        if count > self.max_files:
            raise ArchiveTooLarge(f"the archive holds {count} files; at most {self.max_files} are accepted")

    def check_expansion(self, read: int, expanded: int) -> None:
        """For an archive unpacked as it arrives: raise :class:`ArchiveTooLarge` once its first
        ``read`` bytes have expanded to more than the ratio (or the small allowance) lets them.

        ``expanded`` counts the archive's framing too, so :attr:`max_bytes` (a bound on the
        files) is held to the declared sizes instead, as each header arrives.
        """
        allowed = max(self.min_allowance, int(read * self.max_ratio))
        if expanded > allowed:
            raise ArchiveTooLarge(f"the archive's first {read} bytes expand to more than {allowed} bytes;"
                                  f" at most {self.max_ratio:g} times the archive's size is accepted")


def is_disk_full(exc: BaseException) -> bool:
    """True for an error that means the disk (or the user's quota) is full."""
    return isinstance(exc, OSError) and exc.errno in _DISK_FULL


class IncompleteUpload(IOError):
    """The body ended before Content-Length, or the client went away; nothing was kept."""


class DuplicateFiles(FileExistsError):
    """Files that already exist and ``overwrite`` was not given; ``names`` lists them."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(errno.EEXIST, "already exist: " + ", ".join(names))
        self.names = names


@dataclass(frozen=True)
class StoredFile:
    """A file as stored: ``path`` relative to its resource folder, "/" separated."""

    path: str
    size: int
    md5: str


def safe_relpath(relpath: str) -> str:
    """Return ``relpath`` normalised ("a//b" and "./a" collapse), or raise :class:`UnsafePath`."""
    if not isinstance(relpath, str):
        raise UnsafePath(f"path must be a string, not {type(relpath).__name__}")
    if "\x00" in relpath or _CONTROL.search(relpath):
        raise UnsafePath(f"path contains a NUL or control character: {relpath!r}")
    if "\\" in relpath:
        raise UnsafePath(f"path contains a backslash: {relpath!r}")
    if relpath.startswith("/"):
        raise UnsafePath(f"absolute path not allowed: {relpath!r}")
    if _DRIVE.match(relpath):
        raise UnsafePath(f"drive letter not allowed: {relpath!r}")
    parts = [part for part in relpath.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"'..' not allowed in path: {relpath!r}")
    if not parts:
        raise UnsafePath(f"empty file name: {relpath!r}")
    if len(relpath.encode("utf-8", "surrogateescape")) > MAX_RELPATH_BYTES:
        raise UnsafePath(f"path longer than {MAX_RELPATH_BYTES} bytes: {relpath[:40]!r}...")
    for part in parts:
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            raise UnsafePath(f"name too long: {part[:40]!r}...")
    return "/".join(parts)


def _unlink_quiet(path: str | Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _is_non_dir(path: Path) -> bool:
    """True if something other than a folder is at ``path`` (one stat: no race)."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def _is_folder(path: Path) -> bool:
    """True for a folder, False for nothing; NotADirectoryError for something else (one stat)."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISDIR(mode):
        raise NotADirectoryError(errno.ENOTDIR, "a file is in the way", str(path))
    return True


def _parts_below(base: str, path: str) -> list[str] | None:
    """The names leading from ``base`` down to ``path`` when ``path`` is written as ``base``
    followed by plain names (no ``..``, ``.`` or empty ones); None otherwise."""
    if path == base:
        return []
    if not path.startswith(base.rstrip(os.sep) + os.sep):
        return None
    parts = path[len(base.rstrip(os.sep)) + 1:].split(os.sep)
    return None if any(part in ("", ".", "..") for part in parts) else parts


def _make_once(path: Path, made: set[Path]) -> None:
    """Create the folder ``path`` (and its parents) unless this call already made it."""
    if path not in made:
        path.mkdir(parents=True, exist_ok=True)
        made.add(path)


def _md5() -> hashlib._Hash:
    return hashlib.md5(usedforsecurity=False)  # a catalog digest, not a security check


class FileStore:
    """The archive tree under ``root``: safe paths, atomic writes, archives in and out.

    ``durable=False`` skips fsync (much faster for throwaway test servers); ``limits``
    bounds what an uploaded archive may expand to.
    """

    def __init__(self, root: Path, durable: bool = True, limits: ExtractLimits | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():  # no write at all when it exists: a full disk must not stop a start
            self.root.mkdir(parents=True, exist_ok=True)
        self._real_root = Path(os.path.realpath(self.root))
        self._real_root_text = str(self._real_root)
        self.durable = durable
        self.limits = limits or ExtractLimits()

    def sweep_temp(self) -> int:
        """Remove the ``.upload-*`` temp files and folders a crash left in the tree; return how many.

        Call it only while nothing is uploading (at start-up): a live upload's temp file
        looks the same.
        """
        removed = 0
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in [d for d in dirnames if d.startswith(TEMP_PREFIX)]:
                shutil.rmtree(os.path.join(dirpath, name), ignore_errors=True)
                dirnames.remove(name)
                removed += 1
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    _unlink_quiet(os.path.join(dirpath, name))
                    removed += 1
        if removed:
            logger.info("removed %d temporary upload file(s) left under %s", removed, self.root)
        return removed

    # -- paths ---------------------------------------------------------------------------

    def _check_inside(self, path: Path, base: Path, clean: set[str] | None = None) -> None:
        """Raise UnsafePath if ``path`` resolves (following symlinks) outside ``base``.

        Resolving (``realpath``) costs a system call per component from ``/`` and much Python;
        it was most of a small upload's and of a zip's CPU. When ``path`` is written as ``base``
        plus plain names, only a link below ``base`` can lead out, so one ``lstat`` per
        existing component (:func:`~xnat.transfer.paths.link_on_the_way`; ``clean``: folders already found free of
        links) decides whether the resolving is needed at all.
        """
        base_text = os.fspath(base)
        parts = _parts_below(base_text, os.fspath(path))
        if parts is not None and not link_on_the_way(base_text, parts, clean):
            return
        # The root is resolved once (it never moves)
        real_base = self._real_root_text if base is self.root else os.path.realpath(base)
        self._check_real(os.path.realpath(path), real_base, path, base)

    @staticmethod
    def _check_real(real: str, real_base: str, path: Path, base: Path) -> None:
        if real != real_base and not real.startswith(real_base.rstrip(os.sep) + os.sep):
            raise UnsafePath(f"{path} resolves outside {base}")

    def resource_dir(self, *parts: str) -> Path:
        """A folder under root (each part made safe), created on demand."""
        rel = "/".join(safe_relpath(part) for part in parts) if parts else ""
        folder = self.root / rel if rel else self.root
        if folder.is_dir():  # the common case: one check of the folder as it is now
            self._check_inside(folder, self.root)
            return folder
        self._check_inside(folder, self.root)
        folder.mkdir(parents=True, exist_ok=True)
        self._check_inside(folder, self.root)  # a symlink may have been raced in
        return folder

    def path_of(self, folder: Path, relpath: str) -> Path:
        """``folder / relpath``, made safe; folder must be under root, result under folder."""
        self._check_inside(Path(folder), self.root)
        return self._file_in(Path(folder), relpath, None)

    def paths_of(self, folder: Path, relpaths: Iterable[str]) -> list[Path]:
        """:meth:`path_of` of each of ``relpaths``, the folder checked once and each path's
        folders once (a resource's files share a few folders)."""
        self._check_inside(Path(folder), self.root)
        clean: set[str] = set()
        return [self._file_in(Path(folder), relpath, clean) for relpath in relpaths]

    def _file_in(self, folder: Path, relpath: str, clean: set[str] | None) -> Path:
        target = folder / safe_relpath(relpath)
        self._check_inside(target, folder, clean)
        return target

    def _prepare_parent(self, folder: Path, target: Path) -> None:
        """Create target's parent folders; a file in the way is NotADirectoryError."""
        # from the top down; the first missing folder ends the walk (nothing deeper exists), and
        # folders that all exist cost no mkdir (a concurrent prune is for _mkstemp to mend)
        if not all(_is_folder(Path(folder) / parent) for parent in reversed(target.relative_to(folder).parents)):
            self._make_dirs(target.parent)
        self._check_inside(target.parent, folder)
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder has this name", str(target))

    @staticmethod
    def _make_dirs(path: Path) -> None:
        for attempt in range(5):  # a concurrent delete may prune an empty folder mid-way
            try:
                path.mkdir(parents=True, exist_ok=True)
                return
            except (FileNotFoundError, FileExistsError):
                for where in (path, *path.parents):  # a file in the way is not a race
                    if _is_non_dir(where):
                        raise NotADirectoryError(errno.ENOTDIR, "a file is in the way", str(where)) from None
                if attempt == 4:
                    raise

    # -- writing -------------------------------------------------------------------------

    def _spool(self, stream: BinaryIO, directory: Path, length: int | None) -> tuple[str, int, str]:
        """Copy ``stream`` to a new temp file in ``directory``; return (temp, size, md5).

        Read failures (client gone) become IncompleteUpload; write failures (disk full)
        propagate. The temp file is removed on any failure.
        """
        fd, tmp = self._mkstemp(directory)
        try:
            with os.fdopen(fd, "wb") as out:
                os.fchmod(out.fileno(), 0o666 & ~_UMASK)  # mkstemp makes 0600; files are shared data
                size, md5 = self._copy(stream, out, length)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return tmp, size, md5

    def _copy(self, stream: BinaryIO, out: BinaryIO, length: int | None) -> tuple[int, str]:
        """Copy ``stream`` (``length`` bytes, or to its end) into ``out``, hashing as it goes;
        (size, md5). Flushed, and synced when durable."""
        digest, size = _md5(), 0
        while length is None or size < length:
            want = CHUNK_SIZE if length is None else min(CHUNK_SIZE, length - size)
            chunk = self._read(stream, want)
            if not chunk:
                break
            if len(chunk) > want:  # a stream that ignores the size asked for
                chunk = chunk[:want]
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
        if length is not None and size < length:
            raise IncompleteUpload(f"body ended after {size} of {length} bytes")
        out.flush()
        if self.durable:
            os.fsync(out.fileno())
        return size, digest.hexdigest()

    def _mkstemp(self, directory: Path) -> tuple[int, str]:
        for attempt in range(10):  # once the temp file exists its folder is no longer prunable
            try:
                return tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
            except FileNotFoundError:  # a concurrent delete pruned the empty folder
                if attempt == 9:
                    raise
                self._make_dirs(directory)
        raise AssertionError("unreachable")

    @staticmethod
    def _read(stream: BinaryIO, size: int) -> bytes:
        try:
            return stream.read(size)
        except _ClientDisconnected as exc:
            raise IncompleteUpload("client disconnected during the upload") from exc
        except OSError as exc:
            if exc.errno in _DISK_FULL or isinstance(exc, IncompleteUpload):
                raise
            raise IncompleteUpload(f"upload stream failed: {exc}") from exc

    def write(self, folder: Path, relpath: str, stream: BinaryIO, length: int | None = None) -> StoredFile:
        """Store ``stream`` at ``folder/relpath`` atomically; IncompleteUpload if short."""
        target = self.path_of(folder, relpath)
        self._prepare_parent(folder, target)
        tmp, size, md5 = self._spool(stream, target.parent, length)
        try:
            os.replace(tmp, target)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        return StoredFile(safe_relpath(relpath), size, md5)

    def delete(self, folder: Path, relpath: str | None = None) -> bool:
        """Delete one file or sub-folder, or the whole folder; False if nothing was there."""
        if relpath is None:
            self._check_inside(Path(folder), self.root)
            if Path(os.path.realpath(folder)) == self._real_root:
                raise UnsafePath("refusing to delete the archive root")
            if not Path(folder).exists():
                return False
            shutil.rmtree(folder)
            return True
        target = self.path_of(folder, relpath)
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            try:
                target.unlink()
            except FileNotFoundError:
                return False
        for parent in target.relative_to(folder).parents:  # tidy folders left empty
            if parent == Path("."):
                break
            try:
                (Path(folder) / parent).rmdir()
            except OSError:  # not empty (or a concurrent upload just used it): keep it
                break
        return True

    def list_files(self, folder: Path) -> list[str]:
        """Relative paths of every file under ``folder`` (temp files left out), sorted."""
        found = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(TEMP_PREFIX)]
            rel = Path(dirpath).relative_to(folder)
            found += [(rel / f).as_posix() for f in filenames if not f.startswith(TEMP_PREFIX)]
        return sorted(found)

    def describe(self, folder: Path, relpath: str) -> StoredFile:
        """Size and MD5 of a stored file (for a catalog refresh)."""
        target = self.path_of(folder, relpath)
        digest = _md5()
        with open(target, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return StoredFile(safe_relpath(relpath), target.stat().st_size, digest.hexdigest())

    # -- archives in -----------------------------------------------------------------------

    def extract(self, folder: Path, prefix: str, stream: BinaryIO, filename: str,
                overwrite: bool) -> list[StoredFile]:
        """Unpack a zip / tar / tar.gz / tgz upload into ``folder/prefix``, all or nothing.

        A tar (plain, gzip, bzip2 or xz) is unpacked while it arrives, in one pass over
        ``stream``; a zip is spooled first (its directory is at its end). Either way the
        members go into a private ``.upload-*`` staging folder beside ``folder`` and reach
        the resource only when all of them are there and checked.

        Raises UnsafePath (a member escapes, or is a link or device), DuplicateFiles (a
        FileExistsError; existing files and no ``overwrite``), ArchiveTooLarge (a ValueError;
        past :attr:`limits`), ValueError (not an archive, corrupt, name conflicts),
        IncompleteUpload, OSError ENOSPC (would not fit).
        """
        self._check_inside(Path(folder), self.root)
        base = "" if prefix in ("", ".") else safe_relpath(prefix) + "/"
        Path(folder).mkdir(parents=True, exist_ok=True)
        staging = self._staging_for(folder)
        try:
            body = _Body(stream, self._read)
            head = body.peek(_HEAD_SIZE)
            if _archive_kind(head, filename) == "zip":
                stored = self._unpack_zip(body, staging, base, folder, overwrite)
            else:
                stored = self._unpack_tar(body, head, staging, base)
                self._check_targets(folder, [item.path for item in stored], overwrite)
            self._move_into_place(staging, folder, base, stored)
            logger.debug("extracted %d files from %s into %s", len(stored), filename, folder)
            return stored
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _staging_for(self, folder: Path) -> Path:
        """A new private ``.upload-*`` folder beside ``folder``, so that a new or empty resource
        takes the unpacked tree in one rename; inside it when ``folder`` is the archive root.

        Either way it is on the folder's disk (whose free space counts) and under the root,
        where the start-up sweep removes what a crash left.
        """
        real = os.path.realpath(folder)
        where = real if real == self._real_root_text else os.path.dirname(real)
        return Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=where))

    def _unpack_tar(self, body: _Body, head: bytes, staging: Path, base: str) -> list[StoredFile]:
        """Unpack a tar as it is read, checking each member as its header arrives."""
        expanded = _Expanded(_decompressing(body, head), body, self.limits)
        free = shutil.disk_usage(staging).free
        names, made, stored, declared = _Names(), set[Path](), list[StoredFile](), 0
        try:
            with tarfile.open(fileobj=cast(BinaryIO, expanded), mode="r|") as tar:
                for info in tar:
                    name = _tar_member_name(info, base)
                    if name is None:
                        continue
                    names.add(name)
                    declared += info.size
                    self._check_declared(declared, len(stored) + 1, free)
                    stored.append(self._unpack_tar_member(tar, info, staging, made, name))
            while expanded.read(CHUNK_SIZE):  # past the end of the tar: gzip's checksum, the rest of the body
                pass
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ValueError(f"corrupt tar archive: {exc}") from exc
        return stored

    def _check_declared(self, total: int, count: int, free: int) -> None:
        """The caps a streamed archive's headers can be held to before their data arrives."""
        self.limits.check_count(count)
        if total > self.limits.max_bytes:
            raise ArchiveTooLarge(f"the archive's files add up to more than {self.limits.max_bytes} bytes")
        if total > free:
            raise OSError(errno.ENOSPC, f"archive unpacks to at least {total} bytes, {free} free")

    def _unpack_tar_member(self, tar: tarfile.TarFile, info: tarfile.TarInfo, staging: Path, made: set[Path],
                           name: str) -> StoredFile:
        source = tar.extractfile(info)
        if source is None:  # pragma: no cover - _tar_member_name lets regular files only through
            raise UnsafePath(f"archive member {info.name!r} is a link or special file")
        try:
            return self._stage(cast(BinaryIO, source), staging, made, name, info.size)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise ValueError(f"corrupt archive member {name!r}: {exc}") from exc

    def _unpack_zip(self, body: _Body, staging: Path, base: str, folder: Path, overwrite: bool) -> list[StoredFile]:
        """Spool a zip, check it whole (caps, names, the resource, free space), then unpack it."""
        spooled, archive_size, _ = self._spool(cast(BinaryIO, body), staging, None)
        try:
            with _Zip(spooled) as archive:
                members = archive.members(base)
                total = sum(size for _, _, size in members)
                self.limits.check(archive_size, total, len(members))
                names = _Names()
                for _, name, _ in members:
                    names.add(name)
                self._check_targets(folder, [name for _, name, _ in members], overwrite)
                free = shutil.disk_usage(staging).free
                if total > free:  # zip bombs and plain oversize alike
                    raise OSError(errno.ENOSPC, f"archive unpacks to {total} bytes, {free} free")
                made: set[Path] = set()
                return [self._unpack_one(archive, staging, made, *member) for member in members]
        finally:
            _unlink_quiet(spooled)  # not part of the tree that moves into place

    def _move_into_place(self, staging: Path, folder: Path, base: str, stored: list[StoredFile]) -> None:
        """Everything is staged and checked: one rename of the tree when its place is new or
        empty, else one ``os.replace`` per file."""
        if not stored or self._move_whole(staging, folder, base):
            return
        made: set[Path] = set()
        for item in stored:
            target = Path(folder) / item.path
            _make_once(target.parent, made)
            os.replace(staging / item.path, target)

    @staticmethod
    def _move_whole(staging: Path, folder: Path, base: str) -> bool:
        """Rename the staged ``base`` folder onto ``folder/base``; False if that holds something.

        rename(2) replaces an empty folder and refuses a non-empty one, so a file that
        arrived meanwhile is never lost: the per-file moves take over.
        """
        source = staging / base if base else staging
        target = Path(folder) / base if base else Path(folder)
        if source == staging and staging.parent == Path(os.path.realpath(folder)):
            return False  # the staging folder is inside its target (the archive root)
        os.chmod(source, 0o777 & ~_UMASK)  # mkdtemp made it private; the resource's folders are not
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(source, target)
        except OSError as exc:
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                return False
            raise
        return True

    def _check_targets(self, folder: Path, names: list[str], overwrite: bool) -> None:
        """Refuse names that clash with the resource, or resolve outside it.

        Each folder is resolved once, not once per member: the members of an archive
        share a few folders, and resolving is a stat of every component. A folder not yet
        on disk holds nothing to clash with, so its members cost no stat at all.
        """
        real_folder = os.path.realpath(folder)
        self._check_real(real_folder, self._real_root_text, Path(folder), self._real_root)
        real_parents: dict[str, str] = {}
        new_folders: set[str] = set()
        existing = []
        for name in names:
            parent, _, base = name.rpartition("/")
            real_parent = real_parents.get(parent)
            if real_parent is None:
                real_parent = real_parents[parent] = self._real_parent(folder, real_folder, parent, name)
                if not os.path.isdir(real_parent):
                    new_folders.add(parent)
            if parent in new_folders:
                continue
            target = os.path.join(real_parent, base)
            if os.path.islink(target):  # a link already in the resource must not lead out of it
                self._check_real(os.path.realpath(target), real_folder, Path(folder) / name, Path(folder))
            try:
                mode = os.stat(target).st_mode
            except (FileNotFoundError, NotADirectoryError):
                continue
            if stat.S_ISDIR(mode):
                raise ValueError(f"{name!r} is a folder in the resource")
            existing.append(name)
        if existing and not overwrite:
            raise DuplicateFiles(existing)

    def _real_parent(self, folder: Path, real_folder: str, parent: str, name: str) -> str:
        """The resolved folder ``parent`` of ``folder`` (which ``name`` goes in), checked: no file
        on its way, inside the resource."""
        for ancestor in Path(name).parents:
            if (Path(folder) / ancestor).is_file():
                raise ValueError(f"{ancestor.as_posix()!r} is a file, cannot hold {name!r}")
        path = Path(folder) / parent if parent else Path(folder)
        real = os.path.realpath(path)
        self._check_real(real, real_folder, path, Path(folder))
        return real

    def _unpack_one(self, archive: _Zip, staging: Path, made: set[Path], member: zipfile.ZipInfo, name: str,
                    size: int) -> StoredFile:
        """Unpack one zip member; a member whose data does not match its entry is corrupt."""
        try:
            with archive.open(member) as source:
                stored = self._stage(source, staging, made, name, size)
                if source.read(1):
                    raise ValueError("more data than declared")
        except (IncompleteUpload, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise ValueError(f"corrupt archive member {name!r}: {exc}") from exc
        return stored

    def _stage(self, source: BinaryIO, staging: Path, made: set[Path], name: str, size: int) -> StoredFile:
        """Write one member straight to its place in ``staging`` (a private ``.upload-*`` folder,
        so no temp name of its own: the staging folder is what a crash leaves and the sweep
        removes), its MD5 computed as it is written; ``made`` holds the folders created so far."""
        dest = staging / name
        _make_once(dest.parent, made)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for uploads
        with os.fdopen(fd, "wb") as out:
            got, md5 = self._copy(source, out, size)
        return StoredFile(name, got, md5)

    # -- archives out ----------------------------------------------------------------------

    def stream_zip(self, entries: Iterable[tuple[str, Path]], compression: int = zipfile.ZIP_DEFLATED,
                   compresslevel: int | None = 1) -> Iterator[bytes]:
        """Yield a zip of ``(arcname, path)`` files as it is written (ZIP64 when needed).

        Members are deflated, as XNAT's are, except one whose first bytes do not shrink
        (:func:`_shrinks`): compressed images and random data are stored, which costs a CRC
        instead of a deflate that only grows them.
        """
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", compression, allowZip64=True, compresslevel=compresslevel) as zf:
            for arcname, path in entries:
                with open(path, "rb") as source:
                    info = zipfile.ZipInfo.from_file(path, safe_relpath(arcname), strict_timestamps=False)
                    chunk = source.read(CHUNK_SIZE)
                    deflate = compression == zipfile.ZIP_DEFLATED
                    info.compress_type = zipfile.ZIP_STORED if deflate and not _shrinks(chunk) else compression
                    # open(..., "w") ignores ZipFile's level; the private name is 3.10-3.13's (3.13 also has
                    # compress_level), which typeshed does not list
                    info._compresslevel = compresslevel  # type: ignore[attr-defined]
                    with zf.open(info, "w") as out:
                        while chunk:
                            out.write(chunk)
                            yield from sink.drain()
                            chunk = source.read(CHUNK_SIZE)
                yield from sink.drain()
        yield from sink.drain()

    def stream_targz(self, entries: Iterable[tuple[str, Path]], compresslevel: int = 1) -> Iterator[bytes]:
        """Yield a tar.gz of ``(arcname, path)`` files as it is written."""
        sink = _Sink()
        with gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=compresslevel) as gz:
            yield from self._tar_blocks(entries, gz, sink)
        yield from sink.drain()

    def stream_tar(self, entries: Iterable[tuple[str, Path]]) -> Iterator[bytes]:
        """Yield an uncompressed tar of ``(arcname, path)`` files as it is written."""
        sink = _Sink()
        yield from self._tar_blocks(entries, sink, sink)
        yield from sink.drain()

    @staticmethod
    def _tar_blocks(entries: Iterable[tuple[str, Path]], out: _Writable, sink: _Sink) -> Iterator[bytes]:
        # tarfile.addfile copies a whole member in one call; framing by hand lets us drain per chunk
        written = 0
        for arcname, path in entries:
            with open(path, "rb") as source:
                st = os.fstat(source.fileno())
                info = tarfile.TarInfo(safe_relpath(arcname))
                info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), 0o644
                header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
                out.write(header)
                copied = 0
                while copied < info.size and (chunk := source.read(min(CHUNK_SIZE, info.size - copied))):
                    out.write(chunk)
                    copied += len(chunk)
                    yield from sink.drain()
                if copied != info.size:
                    raise OSError(errno.EIO, f"{path} shrank while being archived")
                pad = -info.size % tarfile.BLOCKSIZE
                out.write(b"\0" * pad)
                written += len(header) + info.size + pad
            yield from sink.drain()
        end = 2 * tarfile.BLOCKSIZE
        out.write(b"\0" * (end + (-(written + end) % tarfile.RECORDSIZE)))


class _Writable(Protocol):
    """Where the tar framing writes: the sink itself or a gzip stream over it."""

    def write(self, data: bytes, /) -> int: ...


class _Sink:
    """A write-only buffer that the generators above empty after every chunk."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        if data:
            self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # part of the writable protocol zipfile types; it never closes a file it was given

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            yield data


#: How much of a member's start :func:`_shrinks` tries: a deflate of the whole first 64 KiB
#: would cost as much as deflating a small file, the very cost a stored member saves.
_SAMPLE_SIZE = 4096


def _shrinks(head: bytes) -> bool:
    """Whether deflate at level 1 makes the first :data:`_SAMPLE_SIZE` bytes of ``head`` smaller
    (a window of that size: nothing further back can match)."""
    sample = head[:_SAMPLE_SIZE]
    squeezer = zlib.compressobj(1, zlib.DEFLATED, -12)
    return len(squeezer.compress(sample)) + len(squeezer.flush()) < len(sample)


#: Bytes read first to recognise an archive (a tar's "ustar" magic ends at 262).
_HEAD_SIZE = 265


class _Body:
    """An upload body as the archive readers see it: the first bytes, read to recognise it,
    are handed out again; ``consumed`` counts what came off the stream (the archive's size so
    far); a failed read is :class:`IncompleteUpload` (through ``reader``)."""

    def __init__(self, stream: BinaryIO, reader: Callable[[BinaryIO, int], bytes]) -> None:
        self._stream, self._reader = stream, reader
        self._pending = b""
        self.consumed = 0

    def _pull(self, size: int) -> bytes:
        data = self._reader(self._stream, size)
        self.consumed += len(data)
        return data

    def peek(self, size: int) -> bytes:
        """Up to ``size`` first bytes (fewer only if the body is shorter), not consumed."""
        while len(self._pending) < size and (chunk := self._pull(size - len(self._pending))):
            self._pending += chunk
        return self._pending[:size]

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))
        data = self._pending or self._pull(size)
        self._pending = data[size:]  # a stream may hand over more than was asked for
        return data[:size]


class _Expanded:
    """A tar's decompressed bytes, held to :attr:`ExtractLimits` against the body read so far.

    Every expanded byte counts (headers and padding too, where a PAX header could hide a
    bomb), so a gzip bomb stops once it has expanded past what its compressed bytes so far
    allow, whatever its headers declare. A decompressor's complaint (bad data, a checksum that
    does not match, a stream cut short) is a corrupt archive: :class:`tarfile.ReadError`.
    """

    def __init__(self, source: BinaryIO, body: _Body, limits: ExtractLimits) -> None:
        self._source, self._body, self._limits = source, body, limits
        self.expanded = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._source.read(size)
        except IncompleteUpload:
            raise
        except (EOFError, zlib.error, lzma.LZMAError, OSError) as exc:  # gzip/bz2 signal bad data with OSError
            if is_disk_full(exc):
                raise
            raise tarfile.ReadError(f"{exc}") from exc
        self.expanded += len(data)
        self._limits.check_expansion(self._body.consumed, self.expanded)
        return data


def _decompressing(body: _Body, head: bytes) -> BinaryIO:
    """``body`` decompressed as its first bytes say (gzip, bzip2, xz), or as it is."""
    raw = cast(BinaryIO, body)  # it reads like a binary file, which is all the decompressors need
    if head[:2] == b"\x1f\x8b":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
    if head[:3] == b"BZh":
        return cast(BinaryIO, bz2.BZ2File(raw))
    if head[:6] == b"\xfd7zXZ\x00":
        return cast(BinaryIO, lzma.LZMAFile(raw))
    return raw


class _Names:
    """The member names of one archive so far: each once, none both a file and a folder."""

    def __init__(self) -> None:
        self._files: set[str] = set()
        self._folders: set[str] = set()

    def add(self, name: str) -> None:
        if name in self._files:
            raise ValueError(f"archive holds {name!r} twice")
        parents = _parents(name)
        clash = name if name in self._folders else next((p for p in parents if p in self._files), None)
        if clash is not None:
            raise ValueError(f"archive holds both a file and a folder named {clash!r}")
        self._files.add(name)
        self._folders.update(parents)


def _parents(name: str) -> list[str]:
    """``a/b/c`` -> ``["a/b", "a"]``."""
    found = []
    at = name.rfind("/")
    while at > 0:
        found.append(name[:at])
        at = name.rfind("/", 0, at)
    return found


def _tar_member_name(info: tarfile.TarInfo, base: str) -> str | None:
    """The safe name under ``base`` of a tar member that is a file; None for a folder."""
    if info.isdir() and _names_root(info.name):
        return None
    name = base + _member_name(info.name)
    if info.isdir():
        return None
    if not info.isfile():
        raise UnsafePath(f"archive member {info.name!r} is a link or special file")
    return name


class _Zip:
    """A spooled zip upload, read with the standard library."""

    def __init__(self, path: str) -> None:
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"corrupt zip archive: {exc}") from exc

    def __enter__(self) -> _Zip:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def members(self, base: str) -> list[tuple[zipfile.ZipInfo, str, int]]:
        """(member, safe name under base, size) of each file; directories skipped."""
        try:
            return self._members(base)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise ValueError(f"corrupt zip archive: {exc}") from exc

    def _members(self, base: str) -> list[tuple[zipfile.ZipInfo, str, int]]:
        found = []
        for info in self._zip.infolist():
            if info.is_dir() and _names_root(info.filename):
                continue
            name = base + _member_name(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if mode and not (stat.S_ISREG(mode) or stat.S_IFMT(mode) == 0):
                raise UnsafePath(f"archive member {info.filename!r} is a link or special file")
            if info.flag_bits & 0x1:
                raise ValueError(f"archive member {info.filename!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                          zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
                raise ValueError(f"archive member {info.filename!r} uses an unsupported compression")
            found.append((info, name, info.file_size))
        return found

    def open(self, member: zipfile.ZipInfo) -> BinaryIO:
        return cast(BinaryIO, self._zip.open(member))


def _names_root(name: str) -> bool:
    """Does a folder entry name the archive's root (``''``, ``.``, ``./``)?

    xnatpy's default ``upload_dir`` adds the folder itself under the name ``''`` (issue 15
    item 8): such an entry says nothing and is skipped; ``/`` stays refused as absolute.
    """
    return not name.startswith("/") and all(part in ("", ".") for part in name.split("/"))


def _member_name(name: str) -> str:
    try:
        return safe_relpath(name)
    except UnsafePath as exc:
        logger.info("refused an archive: %s", exc)
        raise UnsafePath(f"unsafe archive member: {exc}") from None


def _archive_kind(head: bytes, filename: str) -> str:
    """``"zip"`` or ``"tar"``: by the first bytes, else by the name; ValueError otherwise."""
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" or head[257:262] == b"ustar":
        return "tar"
    lower = filename.lower()
    if lower.endswith(".zip"):
        raise ValueError(f"{filename!r} is not a valid zip archive")
    if lower.endswith((".tar", ".tar.gz", ".tgz")):
        return "tar"  # an old (pre-POSIX) tar has no magic; tarfile decides
    raise ValueError(f"{filename!r} is not a zip, tar or tar.gz archive")
