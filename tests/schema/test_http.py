"""connect() over real HTTP to the embedded server serving the real schema set."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import requests

import xnat
from xnat.schema import xsd
from xnat.schema.model import XNATSchemaWarning
from xnat.testing.runner import XNATServer

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def server(reference_schemas: Path):
    with XNATServer(schemas_dir=reference_schemas, users=("admin:admin:admin",)) as running:
        yield running


def _connect(server: XNATServer, monkeypatch: pytest.MonkeyPatch) -> tuple[object, list[str]]:
    sent: list[str] = []
    real_send = requests.Session.send

    def counting_send(self, request, **kwargs):
        sent.append(f"{request.method} {request.path_url}")
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting_send)
    with warnings.catch_warnings():
        warnings.simplefilter("error", XNATSchemaWarning)  # the real set builds cleanly
        session = xnat.connect(server.url, user="admin", password="admin", keepalive=False)
    monkeypatch.setattr(requests.Session, "send", real_send)
    return session, sent


def test_connect_cold_and_warm(server: XNATServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XNAT_CACHE_DIR", str(tmp_path))
    session, cold = _connect(server, monkeypatch)
    try:
        schema_requests = [line for line in cold if line.startswith("GET /xapi/schemas/")]
        assert len(schema_requests) == 17
        assert len(cold) <= 4 + 17, cold
        chain = [cls.__name__ for cls in session.classes.MrSessionData.__mro__ if "__xsi_type__" in cls.__dict__][:4]
        assert chain == ["MrSessionData", "ImageSessionData", "SubjectAssessorData", "ExperimentData"]
        assert session.classes.MrSessionData.xnat_session is session
        assert len(session.classes.lookup) == 517 + 1  # the schema types and the hand-written FileData
    finally:
        session.disconnect()

    monkeypatch.setattr(xsd, "read_schemas", lambda *a, **k: pytest.fail("parsed on a warm connect"))
    session, warm = _connect(server, monkeypatch)
    try:
        assert [line for line in warm if line.startswith("GET /xapi/schemas/")] == []
        assert len(warm) <= 4, warm
        assert "field_strength" in session.classes.MrSessionData.__fields__
    finally:
        session.disconnect()
