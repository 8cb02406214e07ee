"""Local names for files whose names come from a server.

A name in a zip entry, a file listing or a URL is data from the network. Before it
touches the local file system it is checked and cleaned here:

* a path that is absolute (``/x``, ``C:\\x``, ``\\\\host\\x``) or that climbs out with
  ``..`` is **refused** (:class:`~xnat.exceptions.XNATIOError`): silently dropping the
  ``..`` would put the file somewhere the archive did not mean;
* each component loses control characters and characters no common file system accepts
  (``<>:"|?*``, slash and backslash), Windows device names (``CON``, ``NUL``...) get a ``_``,
  trailing dots and spaces go, and a component longer than 255 bytes is shortened
  keeping its extension;
* a path deeper than :data:`MAX_DEPTH` folders is refused: no archive of XNAT's comes near
  it, and creating thousands of nested folders would exhaust the stack and the file
  system's path length.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ..exceptions import XNATIOError

__all__ = ["MAX_DEPTH", "link_on_the_way", "local_path", "safe_component", "safe_relpath", "temp_name"]

# A slash would make one component many: inside a component it is data, like the rest.
_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')
_RESERVED = re.compile(r"(?i)^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$")
_DRIVE = re.compile(r"^[A-Za-z]:(/|$)")
MAX_COMPONENT_BYTES = 255
#: The most components a server-given path may have.
MAX_DEPTH = 128


def safe_component(name: str) -> str:
    """One path component made safe for any common local file system."""
    cleaned = _BAD_CHARS.sub("_", name).rstrip(" .")
    if not cleaned:
        cleaned = "_"
    if _RESERVED.match(cleaned):
        cleaned = "_" + cleaned
    if len(cleaned.encode("utf-8")) > MAX_COMPONENT_BYTES:
        cleaned = _shorten(cleaned)
    return cleaned


def _shorten(name: str) -> str:
    # Keep the extension and make the name unique with a hash of the original.
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext.encode("utf-8")) > 32:
        stem, ext = name, ""
    tag = "~" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    suffix = (("." + ext) if ext else "")
    budget = MAX_COMPONENT_BYTES - len((tag + suffix).encode("utf-8"))
    stem_bytes = stem.encode("utf-8")[:budget]
    return stem_bytes.decode("utf-8", "ignore") + tag + suffix


def safe_relpath(name: str) -> PurePosixPath:
    """A server-given relative path, checked and cleaned, as a relative POSIX path.

    Raises :class:`XNATIOError` for an absolute path, a drive, or a ``..`` component;
    empty and ``.`` components are dropped. A name that is empty after that is refused too.
    """
    text = name.replace("\\", "/")
    if text.startswith("/") or _DRIVE.match(text):
        raise XNATIOError(f"Refused the server-given path {name!r}: it is absolute")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise XNATIOError(f"Refused the server-given path {name!r}: it climbs out of the target with '..'")
    if not parts:
        raise XNATIOError(f"Refused the server-given path {name!r}: it names no file")
    if len(parts) > MAX_DEPTH:
        raise XNATIOError(f"Refused the server-given path {name[:100]!r}...: it is {len(parts)} folders deep "
                          f"(at most {MAX_DEPTH})")
    return PurePosixPath(*[safe_component(part) for part in parts])


def local_path(root: str | os.PathLike[str], name: str) -> Path:
    """Where the server-given relative ``name`` goes under ``root`` (always inside it)."""
    base = Path(root)
    parts = safe_relpath(name).parts
    path = base.joinpath(*parts)
    # Belt and braces: whatever the cleaning did, the result must stay under root. Only a link
    # below root can lead elsewhere, so the folders are resolved only when one is on the way.
    if link_on_the_way(base, parts[:-1]):
        resolved_root = os.path.realpath(base)
        if os.path.commonpath([resolved_root, os.path.realpath(path.parent)]) != resolved_root:
            raise XNATIOError(f"Refused the server-given path {name!r}: it leads outside {base}")
    return path


def link_on_the_way(base: str | os.PathLike[str], names: Iterable[str], clean: set[str] | None = None) -> bool:
    """Whether a link (or a Windows junction) may lie on the way from ``base`` down ``names``
    (the last included), so that only then a path needs resolving to be judged.

    One ``lstat`` per name that exists; the first missing one ends the walk (nothing below it
    exists to lead elsewhere). A name that cannot be examined counts as a link: the full check
    decides. Folders found free of links go into ``clean`` (when given) and are not examined
    again. A download into a new folder thus costs one system call here instead of a
    ``realpath`` of the root and of the folder (a call per component of each) for every file;
    the embedded server checks its stored files the same way.
    """
    here = os.fspath(base)
    for name in names:
        here = os.path.join(here, name)
        if clean is not None and here in clean:
            continue
        try:
            info = os.lstat(here)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:
            return True
        if stat.S_ISLNK(info.st_mode) or getattr(info, "st_file_attributes", 0) & _REPARSE_POINT:
            return True
        if clean is not None and stat.S_ISDIR(info.st_mode):
            clean.add(here)
    return False


#: Windows marks links and junctions with this attribute (``stat.FILE_ATTRIBUTE_REPARSE_POINT``).
_REPARSE_POINT = 0x400


def temp_name(target: Path) -> str:
    """The prefix of a temporary file beside ``target``: hidden, and clearly partial."""
    # Cut by bytes, not characters: the whole temporary name must fit in 255 bytes.
    return "." + target.name.encode("utf-8")[:200].decode("utf-8", "ignore") + "."
