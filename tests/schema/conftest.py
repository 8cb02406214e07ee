"""Fixtures for the schema -> classes tests: the real schema set, a fake session."""

from __future__ import annotations

import json
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests

from xnat.exceptions import XNATResponseError
from xnat.schema.model import SchemaModel
from xnat.schema.xsd import read_schemas

CORE_FIRST = ("xnat", "xdat")


def entry_name(relative: Path) -> str:
    """The /xapi/schemas entry of a schema file: schemas/xnat/xnat.xsd -> 'xnat'."""
    parts = list(relative.with_suffix("").parts)
    if len(parts) == 2 and parts[0] == parts[1]:
        return parts[0]
    return "/".join(parts)


def collect_sources(folder: Path) -> list[tuple[str, bytes]]:
    """(entry, bytes) for every .xsd below ``folder``, core schemas first, as a server lists them."""
    sources = [(entry_name(p.relative_to(folder)), p.read_bytes()) for p in sorted(folder.rglob("*.xsd"))]
    return sorted(sources, key=lambda item: (item[0] not in CORE_FIRST, CORE_FIRST.index(item[0])
                                             if item[0] in CORE_FIRST else 0, item[0]))


@pytest.fixture(scope="session")
def real_sources(reference_schemas: Path) -> list[tuple[str, bytes]]:
    sources = collect_sources(reference_schemas)
    assert len(sources) == 17
    return sources


@pytest.fixture(scope="session")
def real_model(real_sources: list[tuple[str, bytes]]) -> SchemaModel:
    return read_schemas(real_sources)


@pytest.fixture(scope="session")
def real_classes(real_model: SchemaModel) -> Any:
    from xnat.classes.factory import build_classes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_classes(real_model, session=None)


def make_response(url: str, status: int, body: bytes, content_type: str = "text/xml") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.url = url
    response.headers["Content-Type"] = content_type
    response.request = requests.Request("GET", "http://xnat.test" + url).prepare()
    return response


class FakeSession:
    """Serves schema files the way XNAT does and counts the requests it gets."""

    def __init__(self, sources: list[tuple[str, bytes]], version: str = "1.8.10",
                 listing: Any = None, legacy: bool = False, fail: set[str] | None = None,
                 server: str | None = None, build: dict[str, str] | None = None) -> None:
        if server is not None:  # a real session has one; it turns on the loader's fast path
            self.server = server
        self.files = dict(sources)
        # A real session fetches both with one request at connect (buildInfo) and keeps them.
        self.xnat_version = version
        self.xnat_build_info = {"version": version, "commit": "abc123", **(build or {})}
        self.listing = [name for name, _ in sources] if listing is None else listing
        self.legacy = legacy
        self.fail = fail or set()
        self.requests: list[str] = []
        self._lock = threading.Lock()

    def get(self, path: str, format: str | None = None, query: Any = None, accepted_status: Any = None,
            timeout: Any = None, headers: Any = None) -> requests.Response:
        with self._lock:
            self.requests.append(path)
        response = self._answer(path)
        if response.status_code not in (accepted_status or [200]):
            raise XNATResponseError(f"GET {path} returned {response.status_code}", response=response)
        return response

    def get_json(self, path: str, query: Any = None) -> Any:
        return self.get(path, format="json").json()

    def _answer(self, path: str) -> requests.Response:
        if path == "/xapi/schemas" and not self.legacy:
            return make_response(path, 200, json.dumps(self.listing).encode(), "application/json")
        if path == "/schemas/xnat/xnat.xsd" and self.legacy:
            return make_response(path, 200, self.files["xnat"])
        entry = path.removeprefix("/xapi/schemas/")
        if path.startswith("/xapi/schemas/") and entry in self.files and entry not in self.fail:
            return make_response(path, 200, self.files[entry])
        if entry in self.fail:
            return make_response(path, 500, b"java.lang.IllegalStateException", "text/plain")
        return make_response(path, 404, b"not found", "text/plain")
