"""Every item the server writes as XML is accepted back unchanged (issue 15 item 3).

Over every archive data type of the real schema set: a document with a value in every
simple field and one item in every child list the server keeps whole (provenance,
investigator, validation, contrasts...) is created, read as XML, PUT back and read again:
the two reads are identical, and nothing the first document set is lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from xnat.testing.app import XNATApp
from xnat.testing.datatypes import DataTypes, FieldDef
from xnat.testing.representations import ItemNode, item_xml, parse_item_xml

AUTH = ("admin", "admin")
SESSION = "/data/projects/P1/subjects/S1/experiments/SESS"
# A value of each builtin type, written as XNAT writes it (so the first read is not a reformatting).
SAMPLES = {"xs:string": "v", "xs:integer": "3", "xs:int": "3", "xs:long": "3", "xs:short": "3",
           "xs:nonNegativeInteger": "3", "xs:positiveInteger": "3", "xs:float": "1.5", "xs:double": "1.5",
           "xs:decimal": "1.5", "xs:boolean": "true", "xs:date": "2020-01-02", "xs:time": "10:11:12",
           "xs:dateTime": "2020-01-02T10:11:12", "xs:anyURI": "http://example.org/x"}
# Fields the URL decides (identity, hierarchy) and children kept in tables of their own,
# written through their own URLs.
IDENTITY = {"ID", "id", "project", "label", "subject_ID", "imageSession_ID", "image_session_ID", "date"}
OWN_URLS = {"scans/scan", "reconstructions/reconstructedImage", "assessors/assessor", "experiments/experiment",
            "resources/resource", "sharing/share", "fields/field", "file", "in/file", "out/file", "studyProtocol"}


def _fill(types: DataTypes, node: ItemNode, fields: list[FieldDef], prefix: str, depth: int) -> None:
    """A sample value in every simple field; one item (one level deep) in every child list."""
    for found in fields:
        path = prefix + found.name
        if not prefix and found.name in IDENTITY:
            continue
        if types.is_child(found):
            child_type = types.child_type(found)
            if depth or path in OWN_URLS or not (types.exists(child_type) or types.describes(child_type)):
                continue
            concrete = [t for t in types.subtypes(child_type) if types.fields_of(t)]
            if not types.fields_of(child_type) and concrete:  # an abstract type: its first concrete one
                child_type = concrete[0]
            item = ItemNode(child_type, {})
            text_type = types.text_type(child_type)
            if text_type:
                item.fields[found.name] = SAMPLES.get(types.builtin(text_type), "v")
            _fill(types, item, types.fields_of(child_type), "", depth + 1)
            if item.fields or item.children:
                node.children.append((path, [item]))
        elif found.nested is not None:
            if found.nested.text_type:
                node.fields[path] = SAMPLES.get(types.builtin(found.nested.text_type), "v")
            _fill(types, node, list(found.nested.fields.values()), path + "/", depth)
        elif types.builtin(found.xs_type or "xs:string") in SAMPLES:
            node.fields[path] = SAMPLES[types.builtin(found.xs_type or "xs:string")]


def _urls(types: DataTypes) -> list[tuple[str, str]]:
    """(data type, URL) of one item of every archive data type."""
    def name(xsi_type: str) -> str:
        return xsi_type.replace(":", "_")
    subjects = dict.fromkeys(["xnat:subjectData", *types.subtypes("xnat:subjectData")])
    urls = [(t, f"/data/projects/P1/subjects/S_{name(t)}") for t in subjects]
    urls += [(t, f"/data/projects/P1/subjects/S1/experiments/E_{name(t)}")
             for t in types.subtypes("xnat:subjectAssessorData") if not types.is_a(t, "xnat:imageAssessorData")]
    urls += [(t, f"{SESSION}/assessors/A_{name(t)}")
             for t in dict.fromkeys(["xnat:imageAssessorData", *types.subtypes("xnat:imageAssessorData")])]
    urls += [(t, f"{SESSION}/scans/{i}")
             for i, t in enumerate(dict.fromkeys(["xnat:imageScanData", *types.subtypes("xnat:imageScanData")]))]
    urls += [("xnat:reconstructedImageData", f"{SESSION}/reconstructions/R1"), ("xnat:projectData", "/data/projects/P2")]
    return urls


@pytest.fixture(scope="module")
def served(reference_schemas: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[XNATApp, Client]]:
    app = XNATApp(data_dir=tmp_path_factory.mktemp("rt") / "data", schemas_dir=reference_schemas,
                  users=("admin:admin:admin",))
    client = Client(app)
    for url in ("/data/projects/P1", "/data/projects/P1/subjects/S1", f"{SESSION}?xsiType=xnat:mrSessionData"):
        assert client.put(url, auth=AUTH).status_code == 201
    yield app, client
    app.close()


def _kept(sent: ItemNode, back: ItemNode) -> list[str]:
    """What ``sent`` set that ``back`` lacks (values compared as text)."""
    lost = [k for k, v in sent.fields.items() if str(back.fields.get(k, "")).lower() != str(v).lower()]
    for path, items in sent.children:
        got = back.child_items(path)
        if not got:
            lost.append(path)
        else:
            lost += [f"{path}/{k}" for k in _kept(items[0], got[0])]
    return lost


def test_every_archive_type_round_trips(served: tuple[XNATApp, Client]) -> None:
    app, client = served
    types = app.datatypes
    failures: list[Any] = []
    urls = _urls(types)
    assert len(urls) > 100  # the whole real set, not a handful
    for xsi_type, url in urls:
        sent = ItemNode(xsi_type, {})
        _fill(types, sent, types.fields_of(xsi_type), "", 0)
        created = client.put(url, data=item_xml(sent, types, app.site_url), content_type="text/xml", auth=AUTH)
        if created.status_code != 201:
            failures.append((xsi_type, "create", created.status_code, created.get_data(as_text=True)[:200]))
            continue
        first = client.get(f"{url}?format=xml", auth=AUTH).get_data()
        lost = _kept(sent, parse_item_xml(first, types))
        put_back = client.put(url, data=first, content_type="text/xml", auth=AUTH)
        second = client.get(f"{url}?format=xml", auth=AUTH).get_data()
        if lost or put_back.status_code != 200 or first != second:
            failures.append((xsi_type, lost, put_back.status_code, put_back.get_data(as_text=True)[:200]))
    assert not failures


def test_the_cases_the_issue_names(served: tuple[XNATApp, Client]) -> None:
    """A project with aliases, an xnat:mrAssessorData, provenance in a reconstruction."""
    _app, client = served
    assert client.put("/data/projects/PA?alias=PA_ONE,PA_TWO", auth=AUTH).status_code == 201
    assessor = f"{SESSION}/assessors/MRA?xsiType=xnat:mrAssessorData"
    assert client.put(assessor, auth=AUTH).status_code == 201
    prov = ('<xnat:ReconstructedImage xmlns:xnat="http://nrg.wustl.edu/xnat" xmlns:prov="http://www.nbirn.net/prov"'
            ' ID="RP"><xnat:provenance><prov:processStep><prov:program version="1">bet</prov:program>'
            '<prov:timestamp>2020-01-02T10:11:12</prov:timestamp></prov:processStep><prov:processStep>'
            '<prov:program>fast</prov:program><prov:timestamp>2020-01-03T10:11:12</prov:timestamp>'
            '</prov:processStep></xnat:provenance></xnat:ReconstructedImage>')
    recon = f"{SESSION}/reconstructions/RP"
    assert client.put(recon, data=prov, content_type="text/xml", auth=AUTH).status_code == 201
    for url in ("/data/projects/PA", assessor.split("?")[0], recon):
        first = client.get(f"{url}?format=xml", auth=AUTH).get_data()
        put_back = client.put(url, data=first, content_type="text/xml", auth=AUTH)
        assert put_back.status_code == 200, (url, put_back.get_data(as_text=True))
        assert client.get(f"{url}?format=xml", auth=AUTH).get_data() == first
    text = client.get(f"{recon}?format=xml", auth=AUTH).get_data(as_text=True)
    assert text.count("<prov:processStep>") == 2 and ">bet<" in text and ">fast<" in text
    project = client.get("/data/projects/PA?format=xml", auth=AUTH).get_data(as_text=True)
    assert "PA_ONE" in project and "PA_TWO" in project
