"""Fixtures for the object layer's tests: an embedded server and a logged-in session.

* ``populated``: a server with one project (PROJ001), 2 subjects, 2 MR sessions each and
  2 scans per session.
* ``session``: ``xnat.connect`` to ``populated`` as admin; disconnected afterwards.
* ``counter``: counts the HTTP requests a session sends (a requests response hook).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import xnat


class RequestCounter:
    """Counts (and keeps) the requests a session sends after :meth:`attach`."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def __call__(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.requests.append(f"{response.request.method} {response.request.path_url}")
        return response

    def attach(self, session: Any) -> RequestCounter:
        session.interface.hooks["response"].append(self)
        return self

    def reset(self) -> None:
        self.requests.clear()

    @property
    def count(self) -> int:
        return len(self.requests)


@pytest.fixture()
def populated(xnat_server_factory: Any) -> Any:
    return xnat_server_factory(users=["admin:admin:admin"], populate="projects=1,subjects=2,experiments=2,scans=2")


@pytest.fixture()
def session(populated: Any) -> Iterator[Any]:
    with xnat.connect(populated.url, user="admin", password="admin") as connection:
        yield connection


@pytest.fixture()
def counter(session: Any) -> RequestCounter:
    return RequestCounter().attach(session)
