"""Fixtures for the embedded server's own tests.

* ``app``: a fresh :class:`XNATApp` on a temporary data folder (users admin/admin
  (admin), alice/alice, bob/bob).
* ``admin``, ``alice``, ``bob``, ``anon``: in-process ``werkzeug.test.Client`` wrappers
  that send that user's Basic credentials on every request.
* ``served``: the same app on 127.0.0.1:<free port> through a threaded werkzeug
  server with the runner's keep-alive handler, for real-HTTP clients (pyxnat, concurrency).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse

from xnat.testing.app import XNATApp
from xnat.testing.httpserve import KeepAliveHandler

USERS = ("admin:admin:admin", "alice:alice", "bob:bob")


class Api:
    """A werkzeug test client that authenticates as one user."""

    def __init__(self, app: XNATApp, auth: tuple[str, str] | None) -> None:
        self.app = app
        self.client = Client(app)
        self.auth = auth

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        if self.auth is not None:
            kwargs.setdefault("auth", self.auth)
        return self.client.open(url, method=method, **kwargs)

    def get(self, url: str, **kw: Any) -> TestResponse:
        return self.request("GET", url, **kw)

    def put(self, url: str, **kw: Any) -> TestResponse:
        return self.request("PUT", url, **kw)

    def post(self, url: str, **kw: Any) -> TestResponse:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> TestResponse:
        return self.request("DELETE", url, **kw)

    def rows(self, url: str) -> list[dict[str, str]]:
        """GET a listing as JSON and return its rows (asserting 200)."""
        r = self.get(url)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json["ResultSet"]["Result"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[XNATApp]:
    application = XNATApp(data_dir=tmp_path / "data", users=USERS, site_id="XNAT")
    yield application
    application.close()


@pytest.fixture
def admin(app: XNATApp) -> Api:
    return Api(app, ("admin", "admin"))


@pytest.fixture
def alice(app: XNATApp) -> Api:
    return Api(app, ("alice", "alice"))


@pytest.fixture
def bob(app: XNATApp) -> Api:
    return Api(app, ("bob", "bob"))


@pytest.fixture
def anon(app: XNATApp) -> Api:
    return Api(app, None)


@pytest.fixture
def session_tree(admin: Api) -> dict[str, str]:
    """Project P1 > subject S1 > MR session E1 > scan 1 with resource DICOM holding a/b.txt."""
    assert admin.put("/data/projects/P1?name=First").status_code == 201
    sid = admin.put("/data/projects/P1/subjects/S1?gender=male").text
    eid = admin.put("/data/projects/P1/subjects/S1/experiments/E1?xsiType=xnat:mrSessionData"
                    "&xnat:mrSessionData/date=2020-02-03").text
    assert admin.put(f"/data/experiments/{eid}/scans/1?xsiType=xnat:mrScanData&type=T1").status_code == 201
    r = admin.put(f"/data/experiments/{eid}/scans/1/resources/DICOM/files/a/b.txt?inbody=true", data=b"hello")
    assert r.status_code == 200, r.text
    return {"project": "P1", "subject": sid, "experiment": eid}


class _QuietKeepAliveHandler(KeepAliveHandler):
    """The runner's persistent HTTP/1.1 connections (as Tomcat keeps them), without access lines on stderr."""

    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # quiet test output
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, XNATApp]]:
    """(base URL, app) served over real HTTP on a free loopback port."""
    application = XNATApp(data_dir=tmp_path / "served", users=USERS)
    server = make_server("127.0.0.1", 0, application, threaded=True, request_handler=_QuietKeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", application
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        application.close()


# Search bundles as clients POST them to /data/search (shared by the search tests).
NS = 'xmlns:xdat="http://nrg.wustl.edu/security"'


def bundle(root: str, fields: list[tuple[str, str]], where: str = "") -> bytes:
    """A small bundle: (element, field_ID) columns and raw criteria XML."""
    columns = "".join(
        f"<xdat:search_field><xdat:element_name>{e}</xdat:element_name><xdat:field_ID>{f}</xdat:field_ID>"
        f"<xdat:sequence>{i}</xdat:sequence><xdat:type>xs:string</xdat:type><xdat:header>url</xdat:header>"
        "</xdat:search_field>" for i, (e, f) in enumerate(fields))
    return (f"<xdat:bundle {NS}><xdat:root_element_name>{root}</xdat:root_element_name>{columns}"
            f'<xdat:search_where method="AND">{where}</xdat:search_where></xdat:bundle>').encode()


def crit(field: str, op: str, value: str) -> str:
    op = op.replace("<", "&lt;").replace(">", "&gt;")
    return (f'<xdat:criteria override_value_formatting="0"><xdat:schema_field>{field}</xdat:schema_field>'
            f"<xdat:comparison_type>{op}</xdat:comparison_type><xdat:value>{value}</xdat:value></xdat:criteria>")
