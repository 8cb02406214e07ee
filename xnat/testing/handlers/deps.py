"""The sibling modules the handlers build on (datatypes, representations, filestore).

Imported in one place so handlers say ``from .deps import render_table`` and so on.
"""

from __future__ import annotations

try:  # pragma: no cover - switched off once the modules land
    from ..representations import ItemNode, item_json, item_xml, parse_item_xml, render_table
except ImportError:  # pragma: no cover
    from ._fallback import ItemNode, item_json, item_xml, parse_item_xml, render_table  # type: ignore

try:  # pragma: no cover
    from ..datatypes import DataTypes
except ImportError:  # pragma: no cover
    from ._fallback import DataTypes  # type: ignore

try:  # pragma: no cover
    from ..filestore import FileStore, IncompleteUpload, StoredFile, UnsafePath
except ImportError:  # pragma: no cover
    from ._fallback import FileStore, IncompleteUpload, StoredFile, UnsafePath  # type: ignore

__all__ = ["ItemNode", "item_json", "item_xml", "parse_item_xml", "render_table", "DataTypes",
           "FileStore", "IncompleteUpload", "StoredFile", "UnsafePath"]
