"""TEMPORARY stand-ins for representations/datatypes/filestore until their modules land.

Delete this module once ``xnat.testing.representations``, ``datatypes`` and ``filestore`` exist.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ItemNode:
    xsi_type: str
    fields: dict[str, object]
    meta: dict[str, object] = field(default_factory=dict)
    children: list[tuple[str, list["ItemNode"]]] = field(default_factory=list)


def _item(node: ItemNode) -> dict[str, Any]:
    meta = dict(node.meta)
    meta["xsi:type"] = node.xsi_type
    meta.setdefault("isHistory", False)
    return {"meta": meta, "data_fields": {k: v for k, v in node.fields.items() if v is not None},
            "children": [{"field": name, "items": [_item(c) for c in items]} for name, items in node.children]}


def item_json(node: ItemNode) -> bytes:
    return json.dumps({"items": [_item(node)]}).encode()


def item_xml(node: ItemNode, datatypes: Any, site_url: str) -> bytes:
    return f'<{node.xsi_type} ID="{node.fields.get("ID", "")}"/>'.encode()


def parse_item_xml(body: bytes, datatypes: Any) -> ItemNode:
    from lxml import etree
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ValueError(str(exc)) from exc
    return ItemNode("xnat:" + etree.QName(root).localname, dict(root.attrib))


def render_table(rows, column_names, fmt, title=None, columns=None, total=True):
    rows = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(column_names)
        for r in rows:
            w.writerow([r.get(c, "") for c in column_names])
        return out.getvalue().encode(), "text/csv"
    rs: dict[str, Any] = {}
    if columns:
        rs["Columns"] = columns
    rs["Result"] = [{c: r.get(c, "") for c in column_names} for r in rows]
    if total:
        rs["totalRecords"] = str(len(rows))
    if title:
        rs["title"] = title
    return json.dumps({"ResultSet": rs}).encode(), "application/json"


class DataTypes:
    schema_entries: list[str] = []

    @classmethod
    def load(cls, schemas_dir=None):
        return cls()

    def schema_file(self, entry):
        return None

    def find_schema_file(self, relpath):
        return None

    def datatypes(self):
        return []

    def exists(self, t):
        return ":" in t

    _BASES = {"xnat:mrSessionData": "xnat:imageSessionData", "xnat:ctSessionData": "xnat:imageSessionData",
              "xnat:petSessionData": "xnat:imageSessionData", "xnat:imageSessionData": "xnat:subjectAssessorData",
              "xnat:subjectAssessorData": "xnat:experimentData", "xnat:qcAssessmentData": "xnat:imageAssessorData",
              "xnat:qcManualAssessorData": "xnat:imageAssessorData",
              "xnat:imageAssessorData": "xnat:derivedData", "xnat:derivedData": "xnat:experimentData",
              "xnat:mrScanData": "xnat:imageScanData", "xnat:ctScanData": "xnat:imageScanData",
              "xnat:petScanData": "xnat:imageScanData"}

    def is_a(self, t, base):
        while t:
            if t.lower() == base.lower():
                return True
            t = self._BASES.get(t)
        return False

    def field_type(self, t, path):
        return "xs:string"

    def coerce(self, t, path, value):
        return value

    def root_element(self, t):
        return t

    def namespaces(self):
        return {"xnat": "http://nrg.wustl.edu/xnat"}

    def schema_location(self, site_url):
        return ""


class UnsafePath(ValueError):
    pass


class IncompleteUpload(IOError):
    pass


@dataclass(frozen=True)
class StoredFile:
    path: str
    size: int
    md5: str


class FileStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def resource_dir(self, *parts):
        p = self.root.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def path_of(self, folder, relpath):
        if not relpath or relpath.startswith("/") or ".." in relpath.split("/") or "\\" in relpath or "\0" in relpath:
            raise UnsafePath(relpath)
        return Path(folder) / relpath

    def write(self, folder, relpath, stream, length=None):
        target = self.path_of(folder, relpath)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        md5, size = hashlib.md5(), 0
        with open(tmp, "wb") as out:
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    break
                md5.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if length is not None and size < length:
            tmp.unlink()
            raise IncompleteUpload(relpath)
        os.replace(tmp, target)
        return StoredFile(relpath, size, md5.hexdigest())

    def extract(self, folder, prefix, stream, filename, overwrite):
        raise UnsafePath("extract not available yet")

    def delete(self, folder, relpath=None):
        import shutil
        if relpath is None:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            self.path_of(folder, relpath).unlink(missing_ok=True)

    def stream_zip(self, entries):
        import zipfile
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, path in entries:
                zf.write(path, name)
        yield buf.getvalue()

    def stream_targz(self, entries):
        import tarfile
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tf:
            for name, path in entries:
                tf.add(path, name)
        yield buf.getvalue()
