"""Mutation testing of the modules that decide access, paths, tokens, credentials and extraction.

Not part of CI (a run takes from minutes to hours): run it by hand, see CONTRIBUTING.rst,
section "Mutation testing"::

    pip install "mutmut==3.8.1"
    python -m tests.mutation.run                     # every module below
    python -m tests.mutation.run client              # the client's five, or: server
    python -m tests.mutation.run xnat/transfer/paths.py xnat/login.py
    python -m tests.mutation.run xnat/login.py --only 'xnat.login.x__login_following*'

`mutmut <https://mutmut.readthedocs.io>`_ changes one thing at a time in a module (a
comparison, a constant, a boolean, a returned value) and runs the tests that reach it; a
mutant that no test notices (*survived*) is a decision no test guards. The run happens in a
temporary copy of the work tree (mutmut writes its ``mutants/`` folder there, never here),
with a ``[tool.mutmut]`` section made from :data:`MODULES`; the counts and the surviving
mutants are printed at the end, and ``--keep`` leaves the copy for ``mutmut show <name>``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Each module that makes a security decision, with the tests that judge it.
MODULES: dict[str, tuple[str, list[str]]] = {
    # client: credentials, login, archive extraction, local paths
    "xnat/auth.py": ("client", ["tests/session/test_auth.py", "tests/security/test_client_credentials.py"]),
    "xnat/login.py": ("client", ["tests/session", "tests/security/test_client_credentials.py",
                                 "tests/security/test_client_context_redirect.py",
                                 "tests/security/test_client_login_flow.py"]),
    "xnat/transfer/unzip.py": ("client", ["tests/transfer/test_unzip.py", "tests/classes/test_zipdir.py",
                                          "tests/security/test_client_limits.py",
                                          "tests/security/test_client_unzip.py",
                                          "tests/security/test_client_link_checks.py"]),
    # link_on_the_way also decides the embedded server's containment: its store tests judge it too
    "xnat/transfer/paths.py": ("client", ["tests/transfer/test_paths.py", "tests/transfer/test_unzip.py",
                                          "tests/security/test_client_limits.py",
                                          "tests/security/test_client_paths.py",
                                          "tests/security/test_client_link_checks.py",
                                          "tests/security/test_server_store.py",
                                          "tests/security/test_server_streaming.py",
                                          "tests/testing/test_filestore.py"]),
    "xnat/transfer/entryfiles.py": ("client", ["tests/transfer/test_entryfiles.py", "tests/transfer/test_unzip.py",
                                               "tests/security/test_client_unzip.py"]),
    # server: who may do what, where files go, sessions and tokens
    "xnat/testing/backend/access.py": ("server", ["tests/testing/test_access.py", "tests/security"]),
    # the file store and the server's auth: only the tests that reach them (the grid goes
    # through both, but judges access, which the rows above already mutate), so a run is minutes
    "xnat/testing/filestore.py": ("server", ["tests/testing/test_filestore.py", "tests/testing/test_files_transfer.py",
                                             "tests/security/test_server_robustness.py",
                                             "tests/security/test_regressions.py",
                                             "tests/security/test_server_store.py",
                                             "tests/security/test_server_streaming.py"]),
    "xnat/testing/auth.py": ("server", ["tests/testing/test_auth.py", "tests/testing/test_access.py",
                                        "tests/security/test_server_robustness.py",
                                        "tests/security/test_regressions.py",
                                        "tests/security/test_server_accounts.py",
                                        "tests/security/test_server_session_end.py"]),
}


def chosen(names: list[str]) -> list[str]:
    if not names:
        return list(MODULES)
    picked: list[str] = []
    for name in names:
        if name in ("client", "server"):
            picked += [module for module, (side, _) in MODULES.items() if side == name]
        elif name in MODULES:
            picked.append(name)
        else:
            raise SystemExit(f"unknown module {name!r}: choose from client, server, {', '.join(MODULES)}")
    return list(dict.fromkeys(picked))


def config(modules: list[str]) -> str:
    tests = sorted({test for module in modules for test in MODULES[module][1]})
    listed = ", ".join(f'"{item}"' for item in modules)
    selection = ", ".join(f'"{item}"' for item in tests)
    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["xnat"]\n'
        f"only_mutate = [{listed}]\n"
        f"pytest_add_cli_args_test_selection = [{selection}]\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
    )


def copy_tree(target: Path) -> None:
    """The tracked and new (not ignored) files of the work tree, nothing else."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            destination = target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="client, server, or module paths (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (for mutmut show)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--only", action="append", default=[], metavar="PATTERN",
                        help="run only the mutants whose names match (mutmut's wildcards, e.g."
                             " 'xnat.login.x__login_following*'); repeatable")
    args = parser.parse_args(argv)
    modules = chosen(args.modules)
    work = Path(tempfile.mkdtemp(prefix="xnat-mutation-"))
    try:
        copy_tree(work)
        with open(work / "pyproject.toml", "a", encoding="utf-8") as stream:
            stream.write(config(modules))
        mutmut = [sys.executable, "-m", "mutmut"]
        run = subprocess.run([*mutmut, "run", "--max-children", str(args.jobs), *args.only], cwd=work)
        results = subprocess.run([*mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True)
        lines = [line.strip() for line in results.stdout.splitlines() if ":" in line]
        counts: dict[str, int] = {}
        for line in lines:
            status = line.rsplit(":", 1)[1].strip()
            counts[status] = counts.get(status, 0) + 1
        print("\nmutants by status:", ", ".join(f"{status} {count}" for status, count in sorted(counts.items())))
        for line in lines:
            if line.endswith(("survived", "no tests")):
                print("  ", line)
        if args.keep:
            print(f"\nThe copy is kept in {work}: cd there and run 'python -m mutmut show <name>'")
        return run.returncode
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
