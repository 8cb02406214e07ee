"""Client checks that no test guarded: each can be broken by one edit, and a test here then fails.

* ``Retry-After`` is not obeyed (``xnat.transport.make_retry``: a server's header could ask for
  any wait, beyond every bound the caller chose): a 503 with ``Retry-After: 3600`` is retried
  with the client's own short backoff.
* Chained ``listing.filter(...).filter(...)`` keeps every criterion, the earlier ones included.
* ``tabulate(filter=...)`` narrows the table, on top of the listing's own filters.

Each was checked by breaking it (honouring ``Retry-After``; dropping the earlier filters; dropping
``filter=``) and seeing the test here fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Response

import xnat
from xnat.testing.runner import XNATServer

from .loopback import FakeXNAT, Loopback


def test_retry_after_is_not_obeyed(monkeypatch):
    answers = iter([Response("busy", status=503, headers={"Retry-After": "3600"})])
    app = FakeXNAT({"/data/busy": lambda request: next(answers, Response("ready"))})
    waits: list[float] = []
    with Loopback(app) as server:
        with xnat.connect(server.url, user="admin", password="admin", no_parse_model=True,
                          keepalive=False) as session:
            # Record the waits instead of waiting: a test that obeys the header must not take an hour.
            monkeypatch.setattr("urllib3.util.retry.time.sleep", waits.append)
            response = session.get("/data/busy")
            monkeypatch.undo()
    assert response.text == "ready"
    assert max(waits, default=0.0) < 60, waits


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A project with one subject and the experiments MR1, MR2 (MR sessions) and CT1 (a CT session)."""
    with XNATServer(data_dir=tmp_path_factory.mktemp("guards"), users=["admin:admin:admin"]) as server:
        with xnat.connect(server.url, user="admin", password="admin", keepalive=False) as session:
            session.put("/data/projects/P")
            session.put("/data/projects/P/subjects/S")
            for label, kind in (("MR1", "xnat:mrSessionData"), ("MR2", "xnat:mrSessionData"),
                                ("CT1", "xnat:ctSessionData")):
                session.put(f"/data/projects/P/subjects/S/experiments/{label}", query={"xsiType": kind})
            yield session.projects["P"]


def labels(listing: Any) -> list[str]:
    return sorted(experiment.label for experiment in listing.values())


def test_chained_filters_keep_every_criterion(project):
    everything = project.experiments
    assert labels(everything) == ["CT1", "MR1", "MR2"]
    mr = everything.filter(xsiType="xnat:mrSessionData")
    assert labels(mr) == ["MR1", "MR2"]
    assert labels(everything.filter(label="*1")) == ["CT1", "MR1"]
    assert labels(mr.filter(label="*1")) == ["MR1"]  # both criteria, not only the last
    assert labels(mr.filter({"label": "*2"})) == ["MR2"]
    assert labels(everything) == ["CT1", "MR1", "MR2"]  # filtering never narrows the original


def test_tabulate_filter_narrows_the_table(project):
    table = project.experiments.tabulate(columns=["label"], filter={"xsiType": "xnat:ctSessionData"})
    assert [row.label for row in table] == ["CT1"]
    mr = project.experiments.filter(xsiType="xnat:mrSessionData")
    assert [row["label"] for row in mr.tabulate_dict(columns=["label"], filter={"label": "*2"})] == ["MR2"]
    assert sorted(row.label for row in mr.tabulate(columns=["label"])) == ["MR1", "MR2"]
    assert mr.tabulate_csv(columns=["label"], filter={"label": "MR1"}).splitlines() == ["label", "MR1"]
