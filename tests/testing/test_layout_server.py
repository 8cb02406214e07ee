"""The embedded server's layout: SQL only in the store modules, handlers only parse, call and render.

The handlers (``xnat/testing/handlers/``) reach storage through the backend
(``xnat/testing/backend/``), ``auth`` and ``prearchive_store``; ``store`` is the connection
and transaction layer. A SQL statement, or a call that runs one, anywhere else fails here
with its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import xnat.testing

PACKAGE_DIR = Path(xnat.testing.__file__).parent
# Modules allowed to hold SQL, relative to xnat/testing/ (a trailing "/" names a whole folder).
STORE_MODULES = ("store.py", "auth.py", "prearchive_store.py", "backend/")
# The opening of a statement, as this project writes SQL (keywords in capitals): a keyword and
# what must follow it, so that prose ("DELETE an object", "INSERT_DATE") is not taken for SQL.
SQL_START = re.compile(r"""^\s*(
      SELECT\s
    | INSERT\s+(OR\s+[A-Z]+\s+)?INTO\s
    | REPLACE\s+INTO\s
    | UPDATE\s+\w+\s+SET\s
    | DELETE\s+FROM\s
    | (CREATE|DROP)\s+(TEMP\s+|UNIQUE\s+)?(TABLE|INDEX|VIEW|TRIGGER)\s
    | ALTER\s+TABLE\s
    | WITH\s+(RECURSIVE\s+)?\w+(\s*\([^)]*\))?\s+AS\s*\(
    | PRAGMA\s
    | (BEGIN|COMMIT|ROLLBACK|VACUUM)\b\s*(IMMEDIATE|EXCLUSIVE|DEFERRED|TRANSACTION)?\s*;?\s*$
)""", re.VERBOSE)
SQL_CALLS = {"execute", "executemany", "executescript"}


def _is_store_module(relpath: str) -> bool:
    return any(relpath == name or (name.endswith("/") and relpath.startswith(name)) for name in STORE_MODULES)


def sql_sites(source: str) -> list[tuple[int, str]]:
    """(line, what) of every SQL string constant and every call that runs SQL in ``source``."""
    found = []
    tree = ast.parse(source)
    parts_of_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.JoinedStr):  # f"UPDATE {table} SET ...": read with a stand-in for each {...}
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts_of_fstrings:
            text = node.value
        if text is not None and SQL_START.match(text):
            found.append((node.lineno, f"SQL text {text.strip()[:40]!r}"))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
            found.append((node.lineno, f".{node.func.attr}(...) call"))
    return found


def test_the_scanner_finds_sql_text_and_calls():
    source = ('rows = store.all("SELECT * FROM projects")\n'
              'conn.execute(f"UPDATE {table} SET x=?", (1,))\n'
              'conn.execute("BEGIN IMMEDIATE")\n'
              'title = "Selected projects"  # prose, not SQL\n'
              'key = "INSERT_DATE"\n')
    assert sorted(line for line, _ in sql_sites(source)) == [1, 2, 2, 3, 3]


def test_the_scanner_leaves_prose_alone():
    source = ('def delete():\n    """DELETE an object (unshare it first)."""\n'
              'reason = "UPDATE failed: the label is in use"\n'
              'keys = ("INSERT_DATE", "SELECTED")\n')
    assert sql_sites(source) == []


def test_no_sql_outside_the_store_modules():
    offenders = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relpath = path.relative_to(PACKAGE_DIR).as_posix()
        if _is_store_module(relpath):
            continue
        for line, what in sql_sites(path.read_text(encoding="utf-8")):
            offenders.append(f"xnat/testing/{relpath}:{line}: {what}")
    assert not offenders, "SQL outside the server's store modules (move it into xnat/testing/backend/):\n" + \
        "\n".join(offenders)


def test_the_store_modules_exist():
    for name in STORE_MODULES:
        assert (PACKAGE_DIR / name).exists(), f"{name} is listed as a store module but does not exist"


def test_handlers_reach_storage_through_the_backend():
    """No handler touches the store object directly (``ctx.app.store`` / ``app.store``)."""
    offenders = []
    for path in sorted((PACKAGE_DIR / "handlers").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "store":
                offenders.append(f"xnat/testing/handlers/{path.name}:{node.lineno}")
    assert not offenders, "handlers use the store directly:\n" + "\n".join(offenders)


def test_handler_package_map_lists_every_module():
    import xnat.testing.handlers as handlers

    documented = set(re.findall(r"^\* ``(\w+)``", handlers.__doc__ or "", re.M))
    on_disk = {p.stem for p in (PACKAGE_DIR / "handlers").glob("*.py") if p.name != "__init__.py"}
    assert documented == on_disk, f"missing: {sorted(on_disk - documented)}, stale: {sorted(documented - on_disk)}"
