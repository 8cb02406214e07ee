"""The sibling modules the handlers build on (datatypes, representations, filestore).

Imported in one place so handlers say ``from .deps import render_table`` and so on.
"""

from __future__ import annotations

from ..datatypes import DataTypes, coerce_value
from ..filestore import (
    ArchiveTooLarge,
    DuplicateFiles,
    ExtractLimits,
    FileStore,
    IncompleteUpload,
    StoredFile,
    UnsafePath,
    is_disk_full,
)
from ..representations import ItemNode, item_json, item_xml, parse_item_xml, render_table, table_json_encoded

__all__ = [
           "ArchiveTooLarge",
           "DataTypes",
           "DuplicateFiles",
           "ExtractLimits",
           "FileStore",
           "IncompleteUpload",
           "ItemNode",
           "StoredFile",
           "UnsafePath",
           "coerce_value",
           "is_disk_full",
           "item_json",
           "item_xml",
           "parse_item_xml",
           "render_table",
           "table_json_encoded",
]
