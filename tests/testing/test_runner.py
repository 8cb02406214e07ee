"""XNATServer, the pytest fixtures and the in-process adapter around the app."""

from __future__ import annotations

import requests

from xnat.testing.adapter import mount
from xnat.testing.app import XNATApp
from xnat.testing.runner import XNATServer


def test_restart_keeps_port_and_data(tmp_path):
    with XNATServer(data_dir=tmp_path, users=["admin:admin:admin"]) as server:
        url = server.url
        assert requests.put(f"{url}/data/projects/P1", auth=("admin", "admin"), timeout=10).status_code in (200, 201)
        server.restart()
        assert server.url == url
        listing = requests.get(f"{url}/data/projects?format=json", auth=("admin", "admin"), timeout=10).json()
        assert [row["ID"] for row in listing["ResultSet"]["Result"]] == ["P1"]
        server.stop()
        assert not server.running
        try:
            requests.get(f"{url}/data/projects", timeout=2)
        except requests.ConnectionError:
            pass
        else:  # pragma: no cover - the port must be closed while stopped
            raise AssertionError("a stopped server still answered")
        server.start()
        assert requests.get(f"{url}/data/projects", auth=("admin", "admin"), timeout=10).status_code == 200
    assert tmp_path.exists(), "a data folder the caller gave is never removed"


def test_temporary_data_is_removed_on_close():
    server = XNATServer().start()
    data_dir = server.data_dir
    assert data_dir.exists()
    server.close()
    assert not data_dir.exists()


def test_fixture_gives_a_running_server_with_an_admin(xnat_server):
    response = requests.get(f"{xnat_server.url}/data/auth", auth=("admin", "admin"), timeout=10)
    assert response.status_code == 200
    assert "User 'admin' is logged in" in response.text


def test_factory_takes_options(xnat_server_factory):
    server = xnat_server_factory(users=["bob:pw"], populate="projects=2,subjects=1,experiments=1")
    listing = requests.get(f"{server.url}/data/projects?format=json", auth=("bob", "pw"), timeout=10)
    assert listing.status_code == 200


def test_in_process_adapter_serves_the_app(tmp_path):
    app = XNATApp(data_dir=tmp_path, users=["admin:admin:admin"])
    try:
        session = requests.Session()
        mount(session, app, "http://xnat.test")
        jsession = session.get("http://xnat.test/data/JSESSION", auth=("admin", "admin"))
        assert jsession.status_code == 200
        assert session.cookies.get("JSESSIONID") == jsession.text.strip()
        # The cookie alone now authenticates, as on a real server.
        assert session.put("http://xnat.test/data/projects/INPROC").status_code in (200, 201)
        rows = session.get("http://xnat.test/data/projects?format=json").json()["ResultSet"]["Result"]
        assert [row["ID"] for row in rows] == ["INPROC"]
    finally:
        app.close()
