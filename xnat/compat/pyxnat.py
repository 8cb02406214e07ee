"""pyxnat's public API on this library: change one import and a pyxnat script runs.

::

    from xnat.compat.pyxnat import Interface      # was: from pyxnat import Interface
    import xnat.compat.pyxnat as pyxnat           # was: import pyxnat

What is here: :class:`Interface` (:mod:`xnat.compat.interface`), the selected objects and
collections, :class:`JsonTable`, the search, and pyxnat's exception names
(:mod:`xnat.compat.errors`). ``xnat.compat.pyxnat.core.errors`` style paths are not kept:
import the names from here.
"""

from __future__ import annotations

from .errors import (
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)
from .interface import Interface
from .jsontable import JsonTable
from .objects import CObject, EObject
from .search import Search

__all__ = [
    "CObject",
    "DataError",
    "DatabaseError",
    "EObject",
    "Error",
    "IntegrityError",
    "Interface",
    "InterfaceError",
    "InternalError",
    "JsonTable",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Search",
]
