"""Entry point of one workload subprocess: ``python _child.py WORKLOAD_FILE PARAMS_JSON``.

It loads the workload module by file path (never through ``sys.path``, so nothing in this
repository can shadow the library under test), calls its ``client(params, probe)`` and
prints exactly one line ``BENCH-RESULT {json}`` on stdout. Any failure becomes
``{"error": "..."}`` so the harness can report the row as not available instead of crashing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback

MARKER = "BENCH-RESULT "


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    workload_file, params_json = sys.argv[1], sys.argv[2]
    params = json.loads(params_json)
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        probe = _load(os.path.join(here, "probe.py"), "_bench_probe")
        workload = _load(workload_file, "_bench_workload")
        result = workload.client(params, probe)
    except BaseException as error:  # report everything, a row must never crash the suite
        last = traceback.extract_tb(error.__traceback__)[-1:] if error.__traceback__ else []
        where = f" at {os.path.basename(last[0].filename)}:{last[0].lineno}" if last else ""
        result = {"error": f"{type(error).__name__}: {error}"[:400] + where}
    failures: dict[str, int] = {}
    for counter in getattr(sys.modules.get("_bench_probe"), "INSTALLED", []):
        for key, count in counter.failures.items():
            failures[key] = failures.get(key, 0) + count
    if failures:
        result["http_failures"] = failures
    lib = sys.modules.get("xnat")
    if lib is not None:
        result.setdefault("lib_version", getattr(lib, "__version__", "?"))
        result.setdefault("lib_file", getattr(lib, "__file__", "?"))
    sys.stdout.write(MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
