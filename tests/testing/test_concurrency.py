"""8 clients x 200 mixed reads and writes over real HTTP: no errors, no lost rows, DB intact."""

from __future__ import annotations

import threading

import requests

from xnat.testing.app import XNATApp

CLIENTS = 8
REQUESTS = 200


def _client_work(url: str, n: int, errors: list[str]) -> None:
    """One client: per round, a subject, a session, an upload and four reads (7 requests)."""
    http = requests.Session()
    http.auth = ("admin", "admin")
    done = 0
    i = 0
    try:
        while done < REQUESTS:
            base = f"{url}/data/projects/P/subjects/C{n}_S{i}"
            steps = [
                ("PUT", base, {}),
                ("PUT", f"{base}/experiments/C{n}_E{i}", {"params": {"xsiType": "xnat:mrSessionData"}}),
                ("PUT", f"{base}/experiments/C{n}_E{i}/resources/R/files/f{i}.txt",
                 {"params": {"inbody": "true"}, "data": f"client {n} file {i}".encode()}),
                ("GET", f"{url}/data/projects/P/subjects", {}),
                ("GET", f"{base}/experiments/C{n}_E{i}", {"params": {"format": "json"}}),
                ("GET", f"{base}/experiments/C{n}_E{i}/resources/R/files/f{i}.txt", {}),
                ("GET", f"{url}/data/experiments", {"params": {"project": "P", "columns": "ID,label"}}),
            ]
            for method, target, kwargs in steps:
                if done >= REQUESTS:
                    break
                r = http.request(method, target, timeout=60, **kwargs)
                done += 1
                if r.status_code not in (200, 201):
                    errors.append(f"{method} {target} -> {r.status_code} {r.text[:100]}")
                elif method == "GET" and target.endswith(".txt") and r.content != f"client {n} file {i}".encode():
                    errors.append(f"wrong bytes for {target}")
            i += 1
    except Exception as exc:  # collected, so the main thread reports it
        errors.append(f"client {n}: {exc!r}")
    finally:
        http.close()


def test_eight_clients_mixed_reads_and_writes(served: tuple[str, XNATApp]) -> None:
    url, app = served
    assert requests.put(f"{url}/data/projects/P", auth=("admin", "admin"), timeout=30).status_code == 201
    errors: list[str] = []
    threads = [threading.Thread(target=_client_work, args=(url, n, errors)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors, errors[:5]

    # 200 requests per client = 28 full rounds of 7 plus 4 requests (subject, session, file, 1 read)
    rounds, extra = divmod(REQUESTS, 7)
    per_client_subjects = rounds + (1 if extra >= 1 else 0)
    per_client_sessions = rounds + (1 if extra >= 2 else 0)
    per_client_files = rounds + (1 if extra >= 3 else 0)
    store = app.store
    assert store.one("SELECT COUNT(*) FROM subjects")[0] == CLIENTS * per_client_subjects
    assert store.one("SELECT COUNT(*) FROM experiments")[0] == CLIENTS * per_client_sessions
    assert store.one("SELECT COUNT(*) FROM files")[0] == CLIENTS * per_client_files
    ids = [r[0] for r in store.all("SELECT id FROM subjects")]
    assert len(set(ids)) == len(ids)  # server-made IDs never collide
    listed = requests.get(f"{url}/data/projects/P/subjects", auth=("admin", "admin"), timeout=30).json()
    assert int(listed["ResultSet"]["totalRecords"]) == CLIENTS * per_client_subjects
    assert store.integrity_check() == "ok"
