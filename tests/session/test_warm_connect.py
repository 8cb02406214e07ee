"""What a connect costs: requests counted at the server (never times), cold and warm schema cache."""

from __future__ import annotations

import pytest

import xnat


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNAT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("XNAT_SCHEMA_CACHE_MAX_AGE", raising=False)
    return tmp_path / "cache"


def _connect(server, **kwargs):
    return xnat.connect(server.url, user="admin", password="admin", keepalive=False, **kwargs)


def test_a_warm_connect_is_the_login_and_one_check(server, request_log, cache):
    with _connect(server):  # cold: fills the cache
        pass
    request_log.reset()
    with _connect(server) as session:
        made = [(method, path) for method, path, _ in request_log.requests]
        assert made == [("GET", "/data/JSESSION"), ("GET", "/xapi/siteConfig/buildInfo?format=json")]
        assert session.xnat_version == "1.8.10"  # kept from the check: no further request
        assert session.classes["xnat:projectData"] is session.classes.ProjectData
        assert len(request_log.requests) == 2


def test_a_cold_connect_reads_and_caches_the_schemas(server, request_log, cache):
    with _connect(server) as session:
        paths = [path for _, path, _ in request_log.requests]
        assert paths[:3] == ["/data/JSESSION", "/xapi/siteConfig/buildInfo?format=json", "/xapi/schemas"]
        assert all(path.startswith("/xapi/schemas/") for path in paths[3:]) and len(paths) > 3
        assert "xnat:mrSessionData" in session.classes
    assert list((cache / "schema-models" / "index").glob("*.json"))


def test_a_token_login_asks_who_the_token_belongs_to(server, request_log, cache):
    with _connect(server, no_parse_model=True) as session:
        token = session.get_json("/data/services/tokens/issue")
    request_log.reset()
    with xnat.connect(server.url, user=token["alias"], password=token["secret"], no_parse_model=True,
                      keepalive=False) as session:
        assert [path for _, path, _ in request_log.requests] == ["/data/JSESSION", "/data/auth"]
        assert session.logged_in_user == "admin"


def test_the_session_measures_its_round_trip(server, cache):
    from tests.benchmarks.proxy import DelayProxy

    with _connect(server, no_parse_model=True) as session:
        assert session.round_trip is not None and session.round_trip > 0
    port = int(server.url.rsplit(":", 1)[1])
    with DelayProxy("127.0.0.1", port, 0.05) as proxy:
        with xnat.connect(proxy.url, user="admin", password="admin", no_parse_model=True,
                          keepalive=False) as slow:
            slow.get("/data/projects", format="json")
            assert slow.round_trip >= 0.05  # every request was held 50 ms: the quickest too


def test_an_unpickled_session_logs_in_with_one_request(server, request_log, cache):
    import pickle

    with _connect(server, no_parse_model=True) as session:
        data = pickle.dumps(session)  # issues the job's alias token
        request_log.reset()
        worker = pickle.loads(data)
        try:
            # The recipe says whose the token is: the worker does not ask /data/auth.
            assert [path for _, path, _ in request_log.requests] == ["/data/JSESSION"]
            assert worker is not session and worker.logged_in_user == "admin"
            assert worker.get("/data/auth").text == "User 'admin' is logged in"
        finally:
            worker.disconnect()
