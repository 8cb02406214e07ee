"""The archive hierarchy as pyxnat names it, and pyxnat's path strings.

:data:`LEVELS` says, for each level (``projects``, ``subjects``, ... ``files``), which URL
segment it has, which listing columns hold its ID and label, which levels hang below it and
what data type ``create()`` gives it by default. :func:`parse_path` reads a selection string
such as ``/project/P/subjects/*/experiments/*MR*`` into ``(level, filter)`` steps:
singular and plural names are the same, a level without a filter means ``*``, and
``in``/``out`` followed by ``resources`` is an assessor's input or output resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import XNATValueError

__all__ = ["LEVELS", "ROOT_CHILDREN", "Level", "level_name", "parse_path"]


@dataclass(frozen=True)
class Level:
    """One level of the archive hierarchy."""

    name: str  #: the plural name, as pyxnat's collection methods spell it
    segment: str  #: the URL segment under the parent (``in/resources`` for ``in_resources``)
    id_column: str  #: the listing column holding the ID
    label_column: str  #: the listing column holding the label
    children: tuple[str, ...]  #: the levels below
    default_type: str | None  #: the xsi type ``create()`` uses when none is given


_RESOURCE_CHILDREN = ("files",)
LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("projects", "projects", "ID", "ID", ("subjects", "experiments", "resources"), "xnat:projectData"),
        Level("subjects", "subjects", "ID", "label", ("experiments", "resources"), "xnat:subjectData"),
        Level("experiments", "experiments", "ID", "label",
              ("scans", "assessors", "reconstructions", "resources"), "xnat:mrSessionData"),
        Level("scans", "scans", "ID", "ID", ("resources",), "xnat:mrScanData"),
        Level("assessors", "assessors", "ID", "label", ("resources", "in_resources", "out_resources"),
              "xnat:mrAssessorData"),
        Level("reconstructions", "reconstructions", "ID", "ID", ("in_resources", "out_resources"),
              "xnat:reconstructedImageData"),
        Level("resources", "resources", "xnat_abstractresource_id", "label", _RESOURCE_CHILDREN, None),
        Level("in_resources", "in/resources", "xnat_abstractresource_id", "label", _RESOURCE_CHILDREN, None),
        Level("out_resources", "out/resources", "xnat_abstractresource_id", "label", _RESOURCE_CHILDREN, None),
        Level("files", "files", "Name", "Name", (), None),
    )
}

#: what ``interface.select`` reaches directly (``/data/projects``, ``/data/subjects``, ``/data/experiments``)
ROOT_CHILDREN = ("projects", "subjects", "experiments")


def level_name(word: str) -> str:
    """The plural level name for ``project``, ``projects``, ``in_resource``..., else a clear error."""
    name = word if word.endswith("s") else word + "s"
    if name not in LEVELS:
        raise XNATValueError(f"{word!r} is not a level of the archive; use one of {', '.join(LEVELS)}")
    return name


def parse_path(path: str) -> list[tuple[str, str]]:
    """``/project/P/subjects`` -> ``[("projects", "P"), ("subjects", "*")]``."""
    if not path.startswith("/") or path.startswith("//"):
        raise XNATValueError(
            f"select({path!r}): a path starts with one '/' and names levels from the top, "
            "e.g. '/projects/P/subjects/*' ('//level' searches are not supported)"
        )
    words = [word for word in path.strip("/").split("/") if word]
    steps: list[tuple[str, str]] = []
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("in", "out") and index + 1 < len(words) and words[index + 1].startswith("resource"):
            word, index = f"{word}_resources", index + 1
        name = level_name(word)
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and _is_level(following):
            steps.append((name, "*"))
            index += 1
        else:
            steps.append((name, following or "*"))
            index += 2
    _check_order(path, [name for name, _ in steps])
    return steps


def _is_level(word: str) -> bool:
    if word in ("in", "out"):
        return True
    return word in LEVELS or word + "s" in LEVELS


def _check_order(path: str, names: list[str]) -> None:
    allowed: tuple[str, ...] = ROOT_CHILDREN
    for name in names:
        if name not in allowed:
            expected = ", ".join(allowed) or "nothing (files are the last level)"
            raise XNATValueError(f"select({path!r}): {name} cannot come here; expected one of {expected}")
        allowed = LEVELS[name].children
