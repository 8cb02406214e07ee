"""session.map on executors (threads, processes, Dask) against the embedded server over real HTTP,
and the pickling of sessions and objects that carries them to worker processes."""

from __future__ import annotations

import io
import json
import os
import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

import xnat
from xnat.exceptions import XNATValueError
from xnat.services import jobcredential, recipe, throttle
from xnat.services.mapresults import KEPT_ON_CLUSTER
from xnat.session import restore_session
from xnat.testing import XNATServer

PASSWORD = "pw-that-never-travels-42"


class SchemaCounter:
    """A WSGI wrapper counting the schema requests the server sees."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.schema_requests = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "/schemas" in environ.get("PATH_INFO", ""):
            self.schema_requests += 1
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


@pytest.fixture(scope="module")
def server() -> Iterator[XNATServer]:
    with XNATServer(populate="projects=1,subjects=20,experiments=10") as running:
        running.add_user("mapper", PASSWORD, admin=True)
        yield running


@pytest.fixture(scope="module")
def session(server: XNATServer) -> Iterator[Any]:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as connected:
        yield connected


def label(obj: Any) -> str:
    return str(obj.label)


def fail_on_odd(obj: Any) -> str:
    if int(obj.label[-1]) % 2:
        raise ValueError(f"odd {obj.label}")
    return str(obj.label)


def test_a_pickled_session_holds_a_token_and_never_the_password(session: Any) -> None:
    data = pickle.dumps(session)
    assert PASSWORD.encode() not in data
    assert session.recipe().credential == "token" and session.recipe().alias
    assert set(recipe.SessionRecipe.__attrs__) == set(recipe.SessionRecipe.__dataclass_fields__)
    restored = pickle.loads(data)
    assert restored is not session and restored.logged_in_user == "mapper"
    assert pickle.loads(pickle.dumps(session)) is restored  # one session per process
    assert sorted(restored.projects.keys()) == sorted(session.projects.keys())


def test_a_pickled_object_keeps_its_row_and_no_password(server: XNATServer, session: Any) -> None:
    experiment = next(iter(session.experiments.values()))
    data = pickle.dumps(experiment)
    assert PASSWORD.encode() not in data
    job = jobcredential.JobCredential([session])
    assert PASSWORD.encode() not in job.pack([experiment, session])  # what a map sends its workers
    copy = pickle.loads(data)
    assert type(copy).__xsi_type__ == type(experiment).__xsi_type__ and copy is not experiment
    server.app = recorder = InFlight(server.app)
    try:
        assert (copy.uri, copy.label) == (experiment.uri, experiment.label)
    finally:
        server.app = recorder.app
    assert recorder.paths == []  # the listing row answers: no request


def test_jsession_credential_on_request(server: XNATServer) -> None:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        with pytest.raises(XNATValueError, match="worker_credential"):
            own.worker_credential = "password"
            pickle.dumps(own)
        own.worker_credential = "jsession"
        data = pickle.dumps(own)
        assert PASSWORD.encode() not in data and own.jsession.encode() in data
        assert pickle.loads(data).jsession == own.jsession


def test_a_local_object_does_not_pickle(session: Any) -> None:
    with pytest.raises(TypeError, match="only an object read from a server"):
        pickle.dumps(session.classes.SubjectData())


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_executors_give_the_serial_results(session: Any, executor: str) -> None:
    serial = session.map(label, "experiment")
    assert len(serial) == 200
    assert session.map(label, "experiment", executor=executor, workers=2) == serial


def test_failures_recorded_per_object_and_a_second_run_does_no_work(session: Any, tmp_path: Path) -> None:
    log = tmp_path / "map.jsonl"
    project = next(iter(session.projects.values()))
    first = project.map(fail_on_odd, "experiment", executor="threads", workers=4, logfile=log)
    failed = [uri for uri, result in first.items() if isinstance(result, xnat.MappedFunctionFailed)]
    assert failed and len(failed) < len(first)
    assert "ValueError: odd" in first[failed[0]].reason
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len({line["uri"] for line in lines}) == len(first)
    calls: list[str] = []
    again = project.map(lambda obj: calls.append(obj.uri) or label(obj), "experiment", executor="threads", logfile=log)
    assert sorted(calls) == sorted(failed)  # only the failures run again
    calls.clear()
    project.map(lambda obj: calls.append(obj.uri) or label(obj), "experiment", executor="threads", logfile=log)
    assert calls == [] and all(not isinstance(r, xnat.MappedFunctionFailed) for r in again.values())
    table = again.to_pandas()
    assert list(table["uri"]) == list(again) and table["success"].all()


def test_bad_executor_and_unpicklable_function_fail_before_any_work(session: Any, tmp_path: Path) -> None:
    log = tmp_path / "map.jsonl"
    with pytest.raises(XNATValueError, match="'gpu'"):
        session.map(label, "experiment", executor="gpu", logfile=log)
    with pytest.raises(XNATValueError, match="workers must be a positive number"):
        session.map(label, "experiment", executor="threads", workers=0, logfile=log)
    with pytest.raises(XNATValueError, match="the function .*<lambda> cannot be sent"):
        session.map(lambda obj: 1, "experiment", executor="processes", logfile=log)
    assert not log.exists() or log.read_text() == ""


def die_once(obj: Any, marker: str) -> str:
    """Kills the worker process running it, the first time it meets the fifth experiment."""
    if obj.label.endswith("S00001_MR005") and not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return str(obj.label)


def test_dask_local_cluster_gives_the_serial_results_without_fetching_schemas(server: XNATServer, session: Any,
                                                                             tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    serial = session.map(label, "experiment")
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    counter = SchemaCounter(server.app)
    server.app = counter
    try:
        with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=2, dashboard_address=None,
                                      silence_logs=40) as cluster, distributed.Client(cluster) as client:
            results = session.map(label, "experiment", executor=client)
            server.app = in_flight = InFlight(counter.app)
            read = subject.map(read_document, "experiment", executor=client, max_requests=2)
            server.app = counter.app
            killed = session.map(die_once, "experiment", kwargs={"marker": str(tmp_path / "died")},
                                 executor=client, logfile=tmp_path / "map.jsonl")
            server.app = busy = BusyOnce(counter.app, after=3, retry_after=1.0)
            paused = subject.map(get_document, "experiment", executor=client)
            server.app = counter.app
            kept = session.map(fail_on_odd, "experiment", executor=client, gather=False)
            table = kept.to_dask().compute()
            gathered = session.map(fail_on_odd, "experiment", executor=client).to_dask(npartitions=4)
    finally:
        server.app = counter.app
    assert results == serial and len(results) == 200
    assert counter.schema_requests == 0
    assert len(read) == 10 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in read.values())
    assert in_flight.seen >= 10, in_flight.paths
    # a worker that dies mid-run: Dask runs its calls elsewhere, and the log records each object once
    assert len(killed) == 200 and dict(killed) == serial
    assert (tmp_path / "died").exists()
    lines = [json.loads(line) for line in (tmp_path / "map.jsonl").read_text().splitlines()]
    assert len(lines) == len({line["uri"] for line in lines}) == 200
    assert 1 <= in_flight.most <= 2
    # a 429 pauses every Dask worker (each reads the pause at most every DASK_REFRESH s, one
    # request per 50 ms: at most 2 more each; the 4 threads of 2 workers: 8 at most, 80 without)
    assert len(paused) == 10 and busy.seen == 11 and busy.during <= 8
    # gather=False: the caller holds which objects succeeded; the results stay on the cluster,
    # where the Dask DataFrame's partitions are made from them
    ok = {uri for uri, r in kept.items() if not isinstance(r, xnat.MappedFunctionFailed)}
    assert len(kept) == 200 and ok and all(kept[uri] is KEPT_ON_CLUSTER for uri in ok) and kept.futures
    assert len(table) == 200 and sorted(table["uri"]) == sorted(serial)
    assert {u: r for u, r in zip(table["uri"], table["result"]) if u in ok} == {u: serial[u] for u in ok}
    assert set(table.loc[~table["success"], "uri"]) == set(kept) - ok
    assert table.loc[~table["success"], "error"].str.startswith("ValueError: odd").all()
    frame = gathered.compute()
    assert gathered.npartitions == 4 and sorted(frame["uri"]) == sorted(serial)


class InFlight:
    """A WSGI wrapper that holds each object request a moment and records the most in flight at once."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.now = self.most = self.seen = 0
        self.paths: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "/experiments" not in environ.get("PATH_INFO", ""):
            return self.app(environ, start_response)
        with self.lock:
            self.paths.append(environ["PATH_INFO"])
            self.now += 1
            self.seen += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.01)  # widens the window in which requests overlap; no timing is asserted
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.now -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def read_document(obj: Any) -> str:
    return str(obj.fulldata["data_fields"].get("ID"))  # one GET of the object's document


def get_document(obj: Any) -> str:
    """One GET of the object's document, whatever a worker read before."""
    return str(obj.xnat_session.get_json(obj.uri, query={"format": "json"})["items"][0]["data_fields"]["ID"])


@pytest.mark.parametrize(("executor", "workers", "bound"), [("threads", 8, 2), ("processes", 2, 1)])
def test_max_requests_bounds_the_requests_in_flight(server: XNATServer, session: Any, executor: str,
                                                    workers: int, bound: int) -> None:
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    counter = InFlight(server.app)
    server.app = counter
    try:
        results = subject.map(read_document, "experiment", executor=executor, workers=workers, max_requests=bound)
    finally:
        server.app = counter.app
    assert len(results) == 10 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
    assert counter.seen >= 10 and 1 <= counter.most <= bound
    # the caller's session is left as it was: no gate in front of it afterwards
    assert not any(isinstance(a, throttle.GatedAdapter) for a in session.interface.adapters.values())


def test_bad_max_requests(session: Any) -> None:
    with pytest.raises(XNATValueError, match="max_requests must be a positive number"):
        session.map(label, "experiment", executor="threads", max_requests=0)
    with pytest.raises(XNATValueError, match="give executor= as well"):
        session.map(label, "experiment", max_requests=2)


def test_gather_false_needs_a_dask_client_and_no_logfile(session: Any, tmp_path: Path) -> None:
    with pytest.raises(XNATValueError, match="gather=False keeps the results on a Dask cluster"):
        session.map(label, "experiment", executor="threads", gather=False)
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=1, dashboard_address=None) as client:
        with pytest.raises(XNATValueError, match="use one or the other"):
            session.map(label, "experiment", executor=client, gather=False, logfile=tmp_path / "map.jsonl")
    assert not (tmp_path / "map.jsonl").exists()


class Busy(BaseAdapter):
    def __init__(self, statuses: list[int]) -> None:
        super().__init__()
        self.statuses = statuses
        self.sent = 0

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = self.statuses[min(self.sent, len(self.statuses) - 1)]
        response.headers["Retry-After"] = "0.5"
        response.raw = io.BytesIO(b"")
        self.sent += 1
        return response

    def close(self) -> None:
        pass


def test_busy_answers_are_waited_out_holding_the_lease() -> None:
    waits: list[float] = []
    gate = threading.BoundedSemaphore(1)
    inner = Busy([429, 503, 200])
    politeness = throttle.Politeness(gate, throttle.JobPause(throttle.LocalValue()))
    adapter = throttle.GatedAdapter(inner, politeness, sleep=waits.append)  # a sleep that does not sleep
    get = requests.Request("GET", "http://xnat.test/data/projects").prepare()
    assert adapter.send(get).status_code == 200 and waits == pytest.approx([0.5, 0.5], abs=0.1)
    assert gate.acquire(blocking=False)  # the lease was given back
    gate.release()
    post = requests.Request("POST", "http://xnat.test/data/projects").prepare()
    always = throttle.GatedAdapter(Busy([503]), throttle.Politeness(gate, politeness.pause), sleep=waits.append)
    assert always.send(post).status_code == 503 and always.inner.sent == 1  # not repeatable: handed back
    assert always.send(get).status_code == 503 and always.inner.sent == 1 + 1 + throttle.BACKOFF_TRIES


def test_a_busy_answer_pauses_every_session_of_the_job() -> None:
    pause = throttle.JobPause(throttle.LocalValue())
    told = throttle.GatedAdapter(Busy([429, 200]), throttle.Politeness(None, pause), sleep=lambda s: None)
    waits: list[float] = []
    other = throttle.GatedAdapter(Busy([200]), throttle.Politeness(None, pause), sleep=waits.append)
    get = requests.Request("GET", "http://xnat.test/data/projects").prepare()
    assert told.send(get).status_code == 200
    assert other.send(get).status_code == 200 and waits == pytest.approx([0.5], abs=0.1)  # it waited too
    stale = throttle.JobPause(throttle.LocalValue(), refresh=3600)
    assert stale.until() == 0.0
    stale.store.set(123.0)
    copy = pickle.loads(pickle.dumps(stale))  # what a worker receives reads the store afresh
    assert stale.until() == 0.0 and copy.until() == 123.0


class BusyOnce:
    """A WSGI wrapper: answers one experiment request 429 with Retry-After, then counts the
    requests that arrive while that pause lasts. Each request is held 50 ms, so that a worker
    cannot send a second one in the moment before the pause reaches it."""

    def __init__(self, app: Any, after: int, retry_after: float) -> None:
        self.app, self.after, self.retry_after = app, after, retry_after
        self.seen = self.during = 0
        self.paused_at: float | None = None
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "/experiments/" not in environ.get("PATH_INFO", ""):
            return self.app(environ, start_response)
        with self.lock:
            self.seen += 1
            now = time.monotonic()
            if self.paused_at is None and self.seen > self.after:
                self.paused_at = now
                start_response("429 Too Many Requests", [("Retry-After", str(self.retry_after)),
                                                         ("Content-Length", "0")])
                return [b""]
            if self.paused_at is not None and now < self.paused_at + self.retry_after:
                self.during += 1
        time.sleep(0.05)
        return list(self.app(environ, start_response))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_a_429_pauses_every_worker_of_the_job(server: XNATServer, session: Any, executor: str) -> None:
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    server.app = busy = BusyOnce(server.app, after=3, retry_after=1.0)
    try:
        results = subject.map(get_document, "experiment", executor=executor, workers=2)
    finally:
        server.app = busy.app
    assert len(results) == 10 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
    assert busy.paused_at is not None and busy.seen == 11  # the 429 was waited out and sent again
    # Without a shared pause the other worker goes on (about 20 requests in that second);
    # with it, only a request already on its way when the 429 was answered gets through.
    assert busy.during <= 1


def interrupt_at_third(obj: Any) -> str:
    if obj.label.endswith("3"):
        raise KeyboardInterrupt
    return str(obj.label)


def test_ctrl_c_cancels_pending_work_and_leaves_the_log_valid(session: Any, tmp_path: Path) -> None:
    log = tmp_path / "map.jsonl"
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    partial = subject.map(interrupt_at_third, "experiment", executor="threads", workers=1, logfile=log,
                          progress=True)
    assert 0 < len(partial) < 10 and None not in partial.values()
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {line["uri"] for line in lines} == set(partial)
    rest = subject.map(label, "experiment", executor="threads", logfile=log)
    assert len(rest) == 10
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len({line["uri"] for line in lines}) == 10  # each object recorded once


def test_an_invalid_token_fails_clearly_on_the_worker(session: Any) -> None:
    good = session.recipe()
    bad = recipe.SessionRecipe(**{**{name: getattr(good, name) for name in good.__attrs__}, "secret": "not-the-secret-7"})
    with pytest.raises(xnat.exceptions.XNATAuthError) as failure:
        restore_session(bad)  # what unpickling the session does on a worker
    assert "not-the-secret-7" not in str(failure.value) and good.server in str(failure.value)


def test_the_process_cache_is_keyed_by_server_user_and_credential(session: Any) -> None:
    first = pickle.loads(pickle.dumps(session))
    assert recipe.cached_session(session.recipe(), lambda r: None) is first
    other = recipe.SessionRecipe(**{**{n: getattr(session.recipe(), n) for n in recipe.SessionRecipe.__attrs__},
                                    "user": "someone-else"})
    built: list[Any] = []
    assert recipe.cached_session(other, lambda r: built.append(r) or first) is first and built == [other]
    recipe.clear_cache()
    assert not first.connected
    assert pickle.loads(pickle.dumps(session)) is not first  # rebuilt, logged in again


@pytest.mark.parametrize("executor", [None, "threads"])
def test_the_progress_bar_counts_done_failed_and_skipped(session: Any, tmp_path: Path, capsys: Any,
                                                         executor: str | None) -> None:
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    log = tmp_path / "map.jsonl"
    subject.map(label, "experiment", executor=executor, logfile=log, filter_function=xnat.FilterFunctions(
        experiment=lambda e: e.label.endswith(("1", "2", "3"))))
    capsys.readouterr()
    subject.map(fail_on_odd, "experiment", executor=executor, logfile=log, progress=True)
    err = capsys.readouterr().err
    assert "done 4 failed 3 skipped 3" in err  # 1-3 logged; of 4-10, 5, 7 and 9 fail
    subject.map(label, "experiment", executor=executor, logfile=log, progress=False)
    assert capsys.readouterr().err == ""


def test_copying_a_session_keeps_it_and_issues_no_token(server: XNATServer) -> None:
    import copy

    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        assert copy.copy(own) is own and copy.deepcopy({"s": own})["s"] is own
        assert own._recipe is None  # nothing was issued


def test_a_worker_process_killed_mid_run_restarts_the_pool(session: Any, tmp_path: Path) -> None:
    serial = session.map(label, "experiment")
    log = tmp_path / "map.jsonl"
    results = session.map(die_once, "experiment", kwargs={"marker": str(tmp_path / "died")}, executor="processes",
                          workers=2, logfile=log)
    assert (tmp_path / "died").exists()  # a worker did die
    assert dict(results) == serial
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == len({line["uri"] for line in lines}) == 200 and all(line["success"] for line in lines)


def test_a_broken_executor_of_the_callers_own_fails_what_is_left_clearly(session: Any, tmp_path: Path) -> None:
    import concurrent.futures

    serial = session.map(label, "experiment")
    log = tmp_path / "map.jsonl"
    with concurrent.futures.ProcessPoolExecutor(2) as own:
        broken = session.map(die_once, "experiment", kwargs={"marker": str(tmp_path / "died")}, executor=own,
                             logfile=log)
    failed = {uri: r.reason for uri, r in broken.items() if isinstance(r, xnat.MappedFunctionFailed)}
    assert failed and all("worker process running it died" in reason for reason in failed.values())
    assert len(broken) == 200 and all(broken[uri] == serial[uri] for uri in broken if uri not in failed)
    rerun = session.map(label, "experiment", executor="processes", workers=2, logfile=log)
    assert dict(rerun) == serial  # the failures ran again; the others came from the log
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 200 + len(failed)  # each failure once, then its success once


def test_batches_keep_every_object_once_in_order() -> None:
    from xnat.services import executors

    for count, slots in [(200, 8), (5, 8), (1000, 2), (0, 3), (33, 8)]:
        items = [(str(i), i) for i in range(count)]
        cut = executors.batches(items, slots)
        assert [item for batch in cut for item in batch] == items
        assert all(1 <= len(batch) <= executors.MAX_BATCH for batch in cut)
        assert max(map(len, cut), default=0) - min(map(len, cut), default=0) <= 1


def test_a_token_refused_before_the_job_is_renewed_through_the_caller(server: XNATServer, tmp_path: Path) -> None:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        subject = next(iter(next(iter(own.projects.values())).subjects.values()))
        old = own.recipe()
        assert server.app.auth.invalidate_token(old.alias, old.secret)  # the token of an earlier job expired
        log = tmp_path / "map.jsonl"
        results = subject.map(get_document, "experiment", executor="processes", workers=2, logfile=log)
        assert len(results) == 10 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(lines) == len({line["uri"] for line in lines}) == 10
        assert own.recipe() is old  # the job issued its own fresh token; the session's recipe is left


class ExpireMidJob:
    """A WSGI wrapper: at the ``after``-th experiment request, the job's token expires and every
    server session but the caller's ends, so the workers must log in again mid-job."""

    def __init__(self, app: Any, after: int, token: Any, keep: str) -> None:
        self.app, self.after, self.token, self.keep = app, after, token, keep
        self.seen = 0
        self.sessions: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "/experiments/" in environ.get("PATH_INFO", ""):
            with self.lock:
                self.seen += 1
                cookie = environ.get("HTTP_COOKIE", "")
                self.sessions |= {part.split("=", 1)[1] for part in cookie.split("; ") if part.startswith("JSESSIONID=")}
                if self.seen == self.after:
                    self.app.auth.invalidate_token(self.token.alias, self.token.secret)
                    for sid in self.sessions - {self.keep}:
                        self.app.auth.end_session(sid)
        return self.app(environ, start_response)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


def test_a_token_that_expires_mid_job_is_renewed_and_each_object_recorded_once(server: XNATServer,
                                                                                tmp_path: Path) -> None:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        project = next(iter(own.projects.values()))
        server.app = hook = ExpireMidJob(server.app, after=20, token=own.recipe(), keep=own.jsession)
        log = tmp_path / "map.jsonl"
        try:
            results = project.map(get_document, "experiment", executor="processes", workers=2, logfile=log)
        finally:
            server.app = hook.app
        assert hook.seen > 200  # the objects refused mid-job went again
        assert len(results) == 200 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(lines) == len({line["uri"] for line in lines}) == 200


def test_a_refused_jsession_fails_clearly_and_never_prompts(server: XNATServer, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("a prompt"))
    monkeypatch.setattr("getpass.getpass", lambda *a: pytest.fail("a password prompt"))
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        own.worker_credential = "jsession"
        subject = next(iter(next(iter(own.projects.values())).subjects.values()))
        server.app.auth.end_session(own.recipe().jsession)  # the session the workers would share ends
        log = tmp_path / "map.jsonl"
        results = subject.map(get_document, "experiment", executor="processes", workers=2, logfile=log)
    assert len(results) == 10 and all(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
    reason = next(iter(results.values())).reason
    assert "cannot be renewed" in reason and "worker_credential" in reason, reason
    assert len(log.read_text().splitlines()) == 10  # recorded as failures: a later run retries them


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    """A LocalCluster of 2 small worker processes, shared by the Dask tests below."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        yield client


def test_a_token_that_expires_mid_job_is_renewed_on_dask(server: XNATServer, dask_client: Any,
                                                         tmp_path: Path) -> None:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        project = next(iter(own.projects.values()))
        serial = project.map(label, "experiment")
        server.app = hook = ExpireMidJob(server.app, after=20, token=own.recipe(), keep=own.jsession)
        log = tmp_path / "map.jsonl"
        try:
            results = project.map(get_document, "experiment", executor=dask_client, logfile=log)
        finally:
            server.app = hook.app
        assert hook.seen > 200  # the objects refused mid-job went again
        assert len(results) == 200 and not any(isinstance(r, xnat.MappedFunctionFailed) for r in results.values())
        assert set(results) == set(serial)
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(lines) == len({line["uri"] for line in lines}) == 200


def test_objects_whose_token_was_not_renewed_are_failed_rows_of_to_dask(server: XNATServer,
                                                                         dask_client: Any) -> None:
    with xnat.connect(server.url, user="mapper", password=PASSWORD, keepalive=False) as own:
        own.worker_credential = "jsession"
        subjects = list(next(iter(own.projects.values())).subjects.values())
        kept = subjects[0].map(get_document, "experiment", executor=dask_client, gather=False)
        server.app.auth.end_session(own.recipe().jsession)  # the session the workers share ends between the maps
        refused = subjects[1].map(get_document, "experiment", executor=dask_client, gather=False)
    assert len(kept) == 10 and all(r is KEPT_ON_CLUSTER for r in kept.values())
    assert len(refused) == 10 and all(isinstance(r, xnat.MappedFunctionFailed) for r in refused.values())
    table = refused.to_dask().compute()
    assert sorted(table["uri"]) == sorted(refused) and not table["success"].any()
    assert table["error"].str.contains("cannot be renewed").all()
    assert len(kept.to_dask().compute()) == 10


def die_holding_the_lease(obj: Any, marker: str) -> bool:
    """The first call takes the job's only request lease and kills its worker process, as a
    worker dying mid-request does; every other call answers whether the lease can be had (a
    bounded wait: without its release, none can)."""
    gated = next(a for a in obj.xnat_session.interface.adapters.values() if isinstance(a, throttle.GatedAdapter))
    gate = gated.politeness.gate
    if not os.path.exists(marker):
        Path(marker).touch()
        gate.acquire()
        os._exit(1)
    if not gate.acquire(timeout=10):
        return False
    gate.release()
    return True


def test_a_lease_held_by_a_worker_process_that_dies_is_released(session: Any, tmp_path: Path) -> None:
    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    results = subject.map(die_holding_the_lease, "experiment", kwargs={"marker": str(tmp_path / "died")},
                          executor="processes", workers=2, max_requests=1)
    assert (tmp_path / "died").exists()  # a worker did die holding the lease
    assert len(results) == 10 and all(result is True for result in results.values()), results


def test_a_lease_held_by_a_dask_worker_that_dies_expires(session: Any, tmp_path: Path) -> None:
    """Dask's Semaphore gives a dead worker's lease back after its lease timeout (shortened here)."""
    distributed = pytest.importorskip("distributed")
    import dask

    subject = next(iter(next(iter(session.projects.values())).subjects.values()))
    with dask.config.set({"distributed.scheduler.locks.lease-timeout": "2s",
                          "distributed.scheduler.locks.lease-validation-interval": "0.2s"}), \
            distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None,
                                     silence_logs=40) as cluster, distributed.Client(cluster) as client:
        results = subject.map(die_holding_the_lease, "experiment", kwargs={"marker": str(tmp_path / "died")},
                              executor=client, max_requests=1)
    assert (tmp_path / "died").exists()  # a worker did die holding the lease
    assert len(results) == 10 and all(result is True for result in results.values()), results
