"""``MappingLevel``: the levels of the archive a map, search or batch download visits.

A module of its own so that the behaviour mixins can name a level as a default argument
without loading the map machinery (executors, multiprocessing) when classes are built.
"""

from __future__ import annotations

import enum

__all__ = ["MappingLevel"]


class MappingLevel(str, enum.Enum):
    """The level of the objects a map visits."""

    CONNECTION = "connection"
    PROJECT = "project"
    PROJECT_RESOURCE = "project_resource"
    SUBJECT = "subject"
    SUBJECT_RESOURCE = "subject_resource"
    EXPERIMENT = "experiment"
    EXPERIMENT_RESOURCE = "experiment_resource"
    SCAN = "scan"
    SCAN_RESOURCE = "scan_resource"
