"""The in-process transport adapter: the client's full requests code path, no socket."""

from __future__ import annotations

import hashlib
import io
import tracemalloc

import pytest
import requests
from werkzeug.wrappers import Request, Response

from xnat.testing.adapter import mount

BASE = "http://xnat.test"


@Request.application
def echo_app(request: Request) -> Response:
    """A small app that exercises what the adapter must carry both ways."""
    if request.path == "/login":
        response = Response("ok")
        response.set_cookie("JSESSIONID", "abc123", path="/")
        return response
    if request.path == "/whoami":
        return Response(request.cookies.get("JSESSIONID", "nobody"))
    if request.path == "/echo":
        data = request.get_data()
        return Response(
            f"{request.method} {request.args.get('q', '')} {len(data)} {hashlib.md5(data).hexdigest()}",
            headers={"X-Content-Type-Seen": request.content_type or ""},
        )
    if request.path == "/big":
        size = int(request.args["size"])
        chunk = b"x" * 65536

        def generate():
            for _ in range(size // len(chunk)):
                yield chunk

        return Response(generate(), headers={"Content-Length": str(size)})
    if request.path == "/redirect":
        return Response("", status=302, headers={"Location": f"{BASE}/whoami"})
    return Response("Not found", status=404)


@pytest.fixture()
def session() -> requests.Session:
    session = requests.Session()
    mount(session, echo_app, BASE)
    return session


def test_cookies_set_by_the_app_are_sent_back(session):
    assert session.get(f"{BASE}/login").text == "ok"
    assert session.cookies.get("JSESSIONID") == "abc123"
    assert session.get(f"{BASE}/whoami").text == "abc123"


def test_status_body_and_headers_round_trip(session):
    response = session.post(f"{BASE}/echo?q=hello", data=b"payload", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert response.text == f"POST hello 7 {hashlib.md5(b'payload').hexdigest()}"
    assert response.headers["X-Content-Type-Seen"] == "text/plain"
    assert session.get(f"{BASE}/missing").status_code == 404


def test_file_and_chunked_bodies_arrive_whole(session):
    data = bytes(range(256)) * 1000
    expected = hashlib.md5(data).hexdigest()
    assert session.put(f"{BASE}/echo", data=io.BytesIO(data)).text.endswith(expected)
    chunks = (data[i:i + 1000] for i in range(0, len(data), 1000))
    assert session.put(f"{BASE}/echo", data=chunks).text.endswith(expected)


def test_redirects_are_followed(session):
    session.get(f"{BASE}/login")
    response = session.get(f"{BASE}/redirect")
    assert response.text == "abc123"
    assert response.history[0].status_code == 302


def test_streamed_download_does_not_buffer_the_body(session):
    size = 32 * 1024 * 1024
    tracemalloc.start()
    try:
        with session.get(f"{BASE}/big?size={size}", stream=True) as response:
            received = sum(len(chunk) for chunk in response.iter_content(1024 * 1024))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < size / 4, f"peak {peak} bytes while streaming {size}"
