"""The server's answers against real XNAT recordings: same keys, value types and nesting."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xnat.testing.app import XNATApp

from .conftest import Api

REC = Path("responses/recorded")


def _js_object_keys(text: str) -> set[str]:
    """Keys of a recorded JavaScript object literal (``key: 'v'`` / ``'a/b': 'v'``)."""
    return set(re.findall(r"^\s*'?([\w:/]+)'?\s*:", text, re.M))


@pytest.fixture
def real(tmp_path: Path, reference_schemas: Path):
    """An app serving the real XNAT schema set, with a session holding a scan and a file."""
    app = XNATApp(data_dir=tmp_path, schemas_dir=reference_schemas)
    api = Api(app, ("admin", "admin"))
    api.put("/data/projects/PIPELINETEST")
    api.put("/data/projects/PIPELINETEST/subjects/S03")
    eid = api.put("/data/projects/PIPELINETEST/subjects/S03/experiments/S03_MR2?xsiType=xnat:mrSessionData"
                  "&xnat:mrSessionData/fieldStrength=1.5&xnat:mrSessionData/date=2000-01-01").text
    api.put(f"/data/experiments/{eid}/scans/9?xsiType=xnat:mrScanData&type=t1mpr")
    api.put(f"/data/experiments/{eid}/scans/9/resources/BIDS?format=BIDS&content=BIDS")
    api.put(f"/data/experiments/{eid}/scans/9/resources/BIDS/files/x.json?inbody=true", data=b"{}")
    yield api, eid
    app.close()


def test_subject_rows_match_recording(real, reference: Path) -> None:
    api, _ = real
    recorded = _js_object_keys((reference / REC / "brainlife-warehouse/GET_data_projects_P_subjects.Result-row.js-object.txt").read_text())
    row = api.rows("/data/projects/PIPELINETEST/subjects")[0]
    assert set(row) == recorded
    assert all(isinstance(v, str) for v in row.values())


def test_experiment_rows_match_recording(real, reference: Path) -> None:
    api, _ = real
    recorded = _js_object_keys((reference / REC / "brainlife-warehouse/GET_data_projects_P_subjects_S_experiments.Result-row.js-object.txt").read_text())
    row = api.rows("/data/projects/PIPELINETEST/subjects/S03/experiments")[0]
    assert set(row) == recorded
    assert row["xnat:subjectassessordata/id"] == row["ID"]


def test_scan_rows_match_recording(real, reference: Path) -> None:
    api, eid = real
    recorded = _js_object_keys((reference / REC / "brainlife-warehouse/GET_data_experiments_E_scans.Result-row.js-object.txt").read_text())
    row = api.rows(f"/data/experiments/{eid}/scans")[0]
    assert set(row) == recorded
    assert row["URI"] == f"/data/experiments/{eid}/scans/9"


def _shape(item: dict) -> dict:
    """Keys of an item: meta keys, and per child field the shape of its first item."""
    return {"meta": set(item["meta"]),
            "children": {c["field"]: _shape(c["items"][0]) for c in item["children"] if c["items"]}}


def test_scan_item_json_matches_recording(real, reference: Path) -> None:
    api, eid = real
    recorded = json.loads((reference / REC / "brainlife-warehouse/GET_data_experiments_E_scans_9_format-json.items-array.json").read_text())[0]
    ours = api.get(f"/data/experiments/{eid}/scans/9?format=json").json["items"][0]
    assert set(ours) == set(recorded) == {"meta", "data_fields", "children"}
    assert {"isHistory", "xsi:type", "start_date", "create_event_id"} <= set(ours["meta"])
    assert ours["meta"]["xsi:type"] == recorded["meta"]["xsi:type"]
    for key in ("ID", "type", "xnat_imagescandata_id", "image_session_ID", "project"):
        assert type(ours["data_fields"][key]) is type(recorded["data_fields"][key]), key
    ours_file = next(c for c in ours["children"] if c["field"] == "file")["items"][0]
    rec_file = next(c for c in recorded["children"] if c["field"] == "file")["items"][0]
    for key in ("file_count", "xnat_abstractresource_id", "format", "label", "URI", "file_size", "content"):
        assert type(ours_file["data_fields"][key]) is type(rec_file["data_fields"][key]), key
    assert ours_file["meta"]["xsi:type"] == rec_file["meta"]["xsi:type"] == "xnat:resourceCatalog"


def test_session_item_json_matches_recording(real, reference: Path) -> None:
    api, eid = real
    recorded = json.loads((reference / REC / "xnatpy-tests/GET_data_experiments_E_format-json.response.json").read_text())
    ours = api.get(f"/data/experiments/{eid}?format=json").json
    assert set(ours) == set(recorded) == {"items"}
    rec_item, our_item = recorded["items"][0], ours["items"][0]
    assert set(rec_item["meta"]) <= set(our_item["meta"])
    for key in ("ID", "id", "label", "project", "subject_ID", "date", "fieldStrength"):
        assert type(our_item["data_fields"][key]) is type(rec_item["data_fields"][key]), key
