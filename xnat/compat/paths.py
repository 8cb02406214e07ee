"""The archive hierarchy as pyxnat names it, and pyxnat's path strings.

:data:`LEVELS` says, for each level (``projects``, ``subjects``, ... ``files``), which URL
segment it has, which listing columns hold its ID and label, which levels hang below it and
what data type ``create()`` gives it by default. :func:`routes` reads a selection string
such as ``/project/P/subjects/*/experiments/*MR*`` into ``(level, filter)`` steps:
singular and plural names are the same, a level without a filter means ``*``,
``in``/``out`` followed by ``resources`` is an assessor's input or output resources, and
``//level`` stands for every route down to that level (``//experiments``,
``/project/P//files``), as in pyxnat.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import XNATValueError

__all__ = ["LEVELS", "ROOT_CHILDREN", "Level", "level_name", "parse_path", "routes"]


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


#: the tree pyxnat expands ``//level`` along: each level under its own parent only (no
#: ``/projects/P/experiments`` shortcut), so that every route is a distinct path
_TREE: dict[str, tuple[str, ...]] = {
    "root": ("projects",),
    **{name: tuple(child for child in level.children if (name, child) != ("projects", "experiments"))
       for name, level in LEVELS.items()},
}


def parse_path(path: str) -> list[tuple[str, str]]:
    """``/project/P/subjects`` -> ``[("projects", "P"), ("subjects", "*")]`` (one route; see :func:`routes`)."""
    found = routes(path)
    if len(found) != 1:
        raise XNATValueError(f"select({path!r}) names {len(found)} routes through the archive, not one")
    return found[0]


def routes(path: str) -> list[list[tuple[str, str]]]:
    """Every route a selection string names: one, unless a ``//level`` step stands for
    every way down to that level (``/project/P//files``: project, subject, experiment,
    scan... resources)."""
    if not path.startswith("/") or path.startswith("///"):
        raise XNATValueError(f"select({path!r}): a path starts with '/' (or '//level') and names levels from the "
                             "top, e.g. '/projects/P/subjects/*'")
    found: list[list[tuple[str, str]]] = [[]]
    current = "root"
    for name, id_filter, deep in _steps(path):
        if deep:
            ways = _ways_down(current, name)
            if not ways:
                raise XNATValueError(f"select({path!r}): there are no {name} below "
                                     f"{'the top' if current == 'root' else current}")
            found = [route + [(level, "*") for level in way] + [(name, id_filter)] for route in found for way in ways]
        else:
            allowed = ROOT_CHILDREN if current == "root" else LEVELS[current].children
            if name not in allowed:
                expected = ", ".join(allowed) or "nothing (files are the last level)"
                raise XNATValueError(f"select({path!r}): {name} cannot come here; expected one of {expected}")
            found = [route + [(name, id_filter)] for route in found]
        current = name
    return found


def _steps(path: str) -> list[tuple[str, str, bool]]:
    """The ``(level, filter, deep)`` steps of a path; ``deep`` marks a level written after ``//``."""
    words = path[1:].split("/")
    steps: list[tuple[str, str, bool]] = []
    index, deep = 0, False
    while index < len(words):
        word = words[index]
        if not word:  # an empty word: the level after it is searched at any depth ('//level')
            if deep or index + 1 == len(words):
                if index + 1 == len(words) and not deep:
                    break  # a trailing slash
                raise XNATValueError(f"select({path!r}): '//' is followed by a level name")
            deep, index = True, index + 1
            continue
        if word in ("in", "out") and index + 1 < len(words) and words[index + 1].startswith("resource"):
            word, index = f"{word}_resources", index + 1
        name = level_name(word)
        following = words[index + 1] if index + 1 < len(words) else None
        if following is not None and following and not _is_level(following):
            steps.append((name, following, deep))
            index += 2
        else:
            steps.append((name, "*", deep))
            index += 1
        deep = False
    if not steps:
        raise XNATValueError(f"select({path!r}) names no level")
    return steps


def _ways_down(start: str, target: str) -> list[list[str]]:
    """The levels between ``start`` and ``target`` on each route down the tree (target not included)."""
    ways: list[list[str]] = []
    for child in _TREE.get(start, ()):
        if child == target:
            ways.append([])
        else:
            ways.extend([child, *way] for way in _ways_down(child, target))
    return ways


def _is_level(word: str) -> bool:
    if word in ("in", "out"):
        return True
    return word in LEVELS or word + "s" in LEVELS
