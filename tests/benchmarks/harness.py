"""Orchestration: start the server, seed it, run each workload in fresh subprocesses.

``python -m tests.benchmarks [--quick] [--json FILE] [--strict] [--only a,b]``

Every measurement is one subprocess (``_child.py``) started with the interpreter of the
implementation measured: ours (this interpreter), xnatpy 0.8.1 (its own venv), pyxnat, or
the limit (raw ``requests`` + ``json``, curl). Runs alternate between implementations so
drift (CPU frequency, page cache) is shared, and the table reports medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import peers, report
from .results import Cell, Row
from .serverproc import Seed, Seeder, ServerError, ServerProcess, make_big_file, make_small_files
from .workloads import ALL as WORKLOADS

logger = logging.getLogger("tests.benchmarks")

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
CHILD = HERE / "_child.py"
MARKER = "BENCH-RESULT "
USER, PASSWORD = "admin", "admin"


@dataclass
class Config:
    """Sizes and repetitions of one suite run."""

    quick: bool
    reps: int
    subjects: int
    experiments_per_subject: int
    big_mb: int
    small_files: int
    small_kb: int
    slow_delay_s: float
    list_budget_s: float        # per-phase budget before a per-object loop is extrapolated
    run_timeout_s: float        # any single subprocess
    suite_budget_s: float       # the whole run; workloads past it are reported n/a
    slow_files: int = 500       # files of the small-file rows over the slow (20 ms) network

    @property
    def experiments(self) -> int:
        return self.subjects * self.experiments_per_subject


QUICK = Config(quick=True, reps=2, subjects=100, experiments_per_subject=20, big_mb=64, small_files=200,
               small_kb=16, slow_delay_s=0.020, list_budget_s=1.5, run_timeout_s=60, suite_budget_s=110,
               slow_files=100)
FULL = Config(quick=False, reps=5, subjects=500, experiments_per_subject=100, big_mb=1024, small_files=2000,
              small_kb=16, slow_delay_s=0.020, list_budget_s=10.0, run_timeout_s=300, suite_budget_s=1500,
              slow_files=500)

Params = dict[str, Any]


class Bench:
    """What a workload's ``measure(bench)`` uses: the server, the seed data, subprocess runs."""

    def __init__(self, cfg: Config, interpreters: dict[str, peers.Interpreter], server: ServerProcess,
                 seed: Seed, scratch: Path, schemas: Path | None) -> None:
        self.cfg = cfg
        self.interpreters = interpreters
        self.server = server
        self.seed = seed
        self.scratch = scratch
        self.schemas = schemas
        self.url = server.url
        self.user, self.password = USER, PASSWORD
        self.started = time.monotonic()
        #: impl -> "METHOD /path -> status" -> workloads where the server answered so
        self.http_failures: dict[str, dict[str, set[str]]] = {}

    def time_left(self) -> float:
        return self.cfg.suite_budget_s - (time.monotonic() - self.started)

    def tempdir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))

    def run(self, workload: str, impl: str, params: Params, env: dict[str, str] | None = None,
            timeout: float | None = None) -> dict[str, Any]:
        """One measurement in a fresh subprocess; always returns a dict (``error`` on failure)."""
        interp = self.interpreters[impl]
        if interp.error:
            return {"error": f"{impl} not available: {interp.error}"}
        if self.time_left() <= 0:
            return {"error": "suite time budget spent"}
        full = {"impl": impl, "url": self.url, "user": self.user, "password": self.password, **params}
        command = [*interp.command, str(CHILD), workload, json.dumps(full)]
        child_env = dict(os.environ)
        if interp.isolated:
            child_env.pop("PYTHONPATH", None)
        else:
            child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), child_env.get("PYTHONPATH")]))
        child_env.update(env or {})
        limit = min(timeout or self.cfg.run_timeout_s, max(self.time_left(), 5.0))
        cpu_before, start = self.server.cpu_seconds(), time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=limit, cwd=self.scratch,
                                  env=child_env)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {limit:.0f} s"}
        wall, cpu = time.perf_counter() - start, self.server.cpu_seconds() - cpu_before
        result = _parse(done)
        result.update(wall_s=wall, server_cpu_s=cpu)
        _check_library(impl, result)
        for key in result.get("http_failures", {}):
            self.http_failures.setdefault(impl, {}).setdefault(key, set()).add(Path(workload).stem)
        logger.debug("%s %s -> %s", Path(workload).stem, impl, result)
        return result

    def alternate(self, workload: str, impls: Iterable[str], params: Callable[[str, int], Params] | Params,
                  reps: int | None = None, env: Callable[[str, int], dict[str, str]] | None = None,
                  timeout: float | None = None) -> dict[str, list[dict[str, Any]]]:
        """``reps`` rounds, each running every implementation once, in turn."""
        impls = list(impls)
        out: dict[str, list[dict[str, Any]]] = {impl: [] for impl in impls}
        skip: set[str] = set()
        for rep in range(reps or self.cfg.reps):
            for impl in impls:
                if impl in skip:
                    continue
                p = params(impl, rep) if callable(params) else params
                result = self.run(workload, impl, p, env(impl, rep) if env else None, timeout)
                out[impl].append(result)
                # A missing implementation or an unbuilt call fails the same way every time:
                # do not spend the time budget repeating it.
                if rep == 0 and result.get("error") and ("not available" in result["error"]
                                                         or "budget" in result["error"]
                                                         or (impl == "ours" and _not_built(result["error"]))):
                    skip.add(impl)
        return out


def _not_built(error: str) -> bool:
    """An error that means our call does not exist yet (the row reports it as such)."""
    return error.startswith(("AttributeError", "ImportError", "ModuleNotFoundError", "NotImplementedError",
                             "TypeError"))


def _parse(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError:
                break
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {"error": f"exit {done.returncode}, no result: {' / '.join(tail)[:300]}"}


def _check_library(impl: str, result: dict[str, Any]) -> None:
    """Refuse a run that imported the wrong ``xnat`` (ours vs xnatpy share the name)."""
    version = result.get("lib_version")
    if version is None or result.get("error"):
        return
    if impl == "xnatpy" and version != peers.XNATPY_VERSION:
        result["error"] = f"xnatpy run imported xnat {version} from {result.get('lib_file')}"
    if impl == "ours" and version == peers.XNATPY_VERSION:
        result["error"] = f"our run imported xnatpy from {result.get('lib_file')}"


# -- setup ---------------------------------------------------------------------------------

def _schemas_dir() -> tuple[Path | None, str]:
    reference = os.environ.get("XNAT_REFERENCE")
    if not reference:
        return None, "XNAT_REFERENCE unset: the server serves its compact built-in schema set"
    schemas = Path(reference) / "schemas"
    if not schemas.is_dir():
        raise SystemExit(f"XNAT_REFERENCE={reference} has no schemas/ folder")
    return schemas, f"schemas: {schemas} ({len(list(schemas.rglob('*.xsd')))} files)"


def _seed(server_url: str, cfg: Config, scratch: Path, names: set[str]) -> Seed:
    """Create what the selected workloads need; failures are recorded, not raised."""
    seed = Seed()
    seeder = Seeder(server_url, USER, PASSWORD)
    steps: list[tuple[str, Callable[[], None]]] = []
    if {"listing", "pyxnat_select"} & set(names):
        def listing() -> None:
            seed.list_project, seed.list_count = seeder.listing_project()
        steps.append(("listing project", listing))
    if names & {"download", "transfer_dir"}:
        steps.append(("hierarchy", lambda: seeder.hierarchy(seed)))
    if "download" in names:
        def big() -> None:
            local = scratch / "seed-big.bin"
            make_big_file(local, cfg.big_mb << 20)
            try:
                seeder.big_file(seed, local)
            finally:
                local.unlink(missing_ok=True)
        steps.append(("big file", big))
    if "transfer_dir" in names:
        def small() -> None:
            folder = scratch / "small-files"
            make_small_files(folder, cfg.small_files, cfg.small_kb << 10)
            seed.small_dir = str(folder)
            seeder.small_files(seed, folder)
            slow = scratch / "slow-files"
            make_small_files(slow, cfg.slow_files, cfg.small_kb << 10)
            seed.slow_dir = str(slow)
            seed.slow_count = seeder.small_files(seed, slow, seed.slow_resource)
        steps.append(("small files", small))
    for label, step in steps:
        try:
            step()
        except Exception as error:  # the workloads that need it report n/a with this reason
            seed.errors.append(f"seeding {label}: {error}")
            logger.warning("seeding %s failed: %s", label, error)
            if label == "hierarchy":
                break
    return seed


def _compile_ours() -> None:
    """Give our package its bytecode, as an installed one has (the peers' venvs have theirs).

    A source checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise compile every
    module in every measured process. The ``__pycache__`` folders are git-ignored and Python
    checks them against the sources, so a stale one is never used.
    """
    import compileall

    if not compileall.compile_dir(str(REPO_ROOT / "xnat"), quiet=1):
        logger.warning("compiling our package failed; its runs include compiling it")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes (CI)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a measured row misses its target")
    parser.add_argument("--only", metavar="A,B", help=f"run only these workloads ({', '.join(WORKLOADS)})")
    parser.add_argument("--reps", type=int, help="repetitions per implementation (default: 3 quick, 5 full)")
    parser.add_argument("--no-install", action="store_true", help="do not create the xnatpy venv (xnatpy rows n/a)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (server data, logs)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every run on stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="[bench] %(message)s")
    cfg = QUICK if args.quick else FULL
    if args.reps:
        cfg.reps = max(1, args.reps)
    names = list(WORKLOADS) if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        print(f"unknown workload(s): {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    schemas, schemas_note = _schemas_dir()
    logger.info(schemas_note)
    interpreters = peers.all_interpreters(install=not args.no_install)
    for interp in interpreters.values():
        if interp.error:
            logger.warning("%s: %s", interp.name, interp.error)
    scratch = Path(tempfile.mkdtemp(prefix="xnat-bench-"))
    _compile_ours()
    populate = f"projects=1,subjects={cfg.subjects},experiments={cfg.experiments_per_subject}" \
        if {"listing", "pyxnat_select"} & set(names) else None
    server = ServerProcess(sys.executable, scratch / "server-data", populate, schemas, USER, PASSWORD,
                           REPO_ROOT, scratch / "server.log")
    started = time.monotonic()
    rows: list[Row] = []
    failures: dict[str, dict[str, list[str]]] = {}
    try:
        try:
            server.start(timeout=600)
        except ServerError as error:
            print(f"cannot start the embedded server: {error}", file=sys.stderr)
            return 2
        logger.info("server %s (setup %.1f s); seeding", server.url, time.monotonic() - started)
        seed = _seed(server.url, cfg, scratch, set(names))
        bench = Bench(cfg, interpreters, server, seed, scratch, schemas)
        for name in names:
            logger.info("workload %s", name)
            rows += _run_workload(name, bench)
        failures = {impl: {key: sorted(where) for key, where in sorted(seen.items())}
                    for impl, seen in bench.http_failures.items()}
    finally:
        server.stop()
        if args.keep:
            logger.info("scratch kept: %s", scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    mode = "quick" if cfg.quick else "full"
    print(f"\nxnat benchmark ({mode}, {cfg.reps} reps, medians; {schemas_note}; {elapsed:.0f} s)\n")
    report.render_table(rows, sys.stdout)
    report.render_failures(failures, sys.stdout)
    if args.json:
        report.write_json(args.json, rows, {"mode": mode, "reps": cfg.reps, "seconds": elapsed,
                                            "schemas": str(schemas) if schemas else None,
                                            "sizes": cfg.__dict__,
                                            "http_errors_seen": failures})
    missed = [row.figure for row in rows if row.holds is False]
    if missed and args.strict:
        print(f"\n{len(missed)} figure(s) miss their target: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


def _run_workload(name: str, bench: Bench) -> list[Row]:
    module = WORKLOADS[name]
    try:
        return module.measure(bench)
    except Exception as error:  # a broken workload is reported, the others still run
        logger.exception("workload %s failed", name)
        return [Row(figure, unit, {"ours": Cell(None, error=f"harness error: {error}")})
                for figure, unit in module.FIGURES]
