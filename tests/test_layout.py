"""The layout rules of the client, checked on the source with ``ast`` (no import needed).

* **No import cycles between client modules** (``xnat/`` outside ``xnat/testing/``). Every
  import statement counts: at module level, inside functions (a lazy import hides a cycle,
  it does not remove it) and under ``TYPE_CHECKING`` (an annotation is a dependency too,
  and ``typing.get_type_hints`` executes it). Relative imports are resolved against the
  importing module's package, and ``from pkg import name`` is an edge to the submodule
  ``pkg.name`` when there is one, else to ``pkg``. Importing ``pkg.mod`` also runs
  ``pkg/__init__.py``; that implicit edge is not counted, since every module would then
  depend on ``xnat/__init__.py``; instead package ``__init__`` modules are kept small
  (``xnat/__init__.py`` imports its layers inside ``connect()`` only).
* **No module reaches into another module's private names** (all of ``xnat/``, the
  embedded server included): no ``from m import _name``, no ``module._name`` through an
  imported module.
* **Login knows nothing of the session**: ``xnat/login.py`` imports neither
  ``xnat.session`` nor ``xnat.connection`` and accesses no private attribute at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "xnat"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources(include_testing: bool) -> dict[str, tuple[Path, ast.Module]]:
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        if not include_testing and (ROOT / "testing") in path.parents:
            continue
        found[_module_name(path)] = (path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return found


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def _imports(module: str, path: Path, tree: ast.Module, known: set[str]) -> list[tuple[str, str, int]]:
    """``(target module, imported name or "", line)`` of every import statement in ``tree``."""
    found: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, "", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _package_of(module, path).split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in known:
                    found.append((submodule, "", node.lineno))
                else:
                    found.append((source, alias.name, node.lineno))
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources(include_testing=False)
    known = set(sources)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for module, (path, tree) in sources.items():
        for target, _, _ in _imports(module, path, tree, known):
            while target and target not in known:  # import a.b.c of a non-module: the longest known prefix
                target = target.rpartition(".")[0]
            if target and target != module:
                graph[module].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as a cycle path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(_cycle_path(graph, set(component)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _cycle_path(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """One cycle through the component, found breadth-first from its first member."""
    start = min(members)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return paths[node] + [start]
            if target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return sorted(members)  # pragma: no cover - a component always has a cycle


def test_the_graph_sees_lazy_and_type_checking_imports() -> None:
    graph = _graph()
    assert "xnat.session" in graph["xnat"]  # imported inside connect() and under TYPE_CHECKING
    assert "xnat.connection" in graph["xnat.session"]
    assert "xnat.criteria" in graph["xnat.classes.properties"]


# Each layer, lowest first, as docs/architecture.rst draws them. A module may import its own
# layer and the layers before it, never one after it.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundations", ("xnat.version", "xnat.exceptions", "xnat.xmlsafe", "xnat.criteria", "xnat.collector")),
    ("connection", ("xnat.auth", "xnat.transport", "xnat.keepalive", "xnat.login", "xnat.connection")),
    ("transfers", ("xnat.transfer",)),
    ("schemas", ("xnat.schema",)),
    ("objects", ("xnat.classes", "xnat.core")),
    ("services", ("xnat.services", "xnat.prearchive", "xnat.users", "xnat.inspect", "xnat.search", "xnat.map",
                  "xnat.xnatbases", "xnat.bids")),
    ("session", ("xnat.session",)),
    ("entry", ("xnat", "xnat.demo", "xnat.cli", "xnat.compat")),
]


def _layer_of(module: str) -> int:
    best, found = -1, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), rank
    return found


def test_every_client_module_has_a_layer() -> None:
    assert [module for module in _graph() if _layer_of(module) < 0] == []


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = [
        f"{module} ({LAYERS[_layer_of(module)][0]}) imports {target} ({LAYERS[_layer_of(target)][0]})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer_of(target) > _layer_of(module)
    ]
    assert upward == []


def test_cycle_detection_names_the_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_no_import_cycles_between_client_modules() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_reaches() -> list[str]:
    sources = _sources(include_testing=True)
    known = set(sources)
    found = []
    for module, (path, tree) in sources.items():
        where = path.relative_to(ROOT.parent)
        for target, name, line in _imports(module, path, tree, known):
            if not (target == "xnat" or target.startswith("xnat.")):
                continue
            if _private(name) or any(_private(part) for part in target.split(".")):
                found.append(f"{where}:{line} imports {target}{'.' + name if name else ''}")
        modules = _module_aliases(module, path, tree, known)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and _private(node.attr) and isinstance(node.value, ast.Name)
                    and node.value.id in modules):
                found.append(f"{where}:{node.lineno} reaches {modules[node.value.id]}.{node.attr}")
    return found


def _module_aliases(module: str, path: Path, tree: ast.Module, known: set[str]) -> dict[str, str]:
    """Local names bound to an imported ``xnat`` module (``from . import login``, ``import xnat.x as y``)."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    aliases[alias.asname or alias.name.partition(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                for target, name, _ in _imports(module, path, ast.Module([node], []), known):
                    if not name and target.endswith("." + alias.name):
                        aliases[alias.asname or alias.name] = target
    return aliases


def test_no_module_imports_another_modules_private_names() -> None:
    reaches = _private_reaches()
    assert not reaches, "private names reached from another module:\n" + "\n".join(reaches)


def test_login_does_not_reach_into_the_session() -> None:
    path = ROOT / "login.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {target for target, _, _ in _imports("xnat.login", path, tree, set(_sources(False)))}
    assert not imported & {"xnat.session", "xnat.connection"}
    private = [f"line {node.lineno}: .{node.attr}" for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and _private(node.attr)]
    assert not private, "login.py accesses private attributes: " + ", ".join(private)


@pytest.mark.parametrize("alias", ["prearchive", "users", "inspect", "search"])
def test_xnatpy_paths_are_thin_aliases(alias: str) -> None:
    """xnatpy's documented module paths re-export the services layer and hold nothing else."""
    import importlib

    old = importlib.import_module(f"xnat.{alias}")
    new = importlib.import_module(f"xnat.services.{alias}")
    assert old.__all__ and all(getattr(old, name) is getattr(new, name) for name in old.__all__)
    tree = ast.parse((ROOT / f"{alias}.py").read_text(encoding="utf-8"))
    kinds = {type(node).__name__ for node in tree.body}
    assert kinds <= {"Expr", "ImportFrom", "Assign"}, kinds


def test_every_behaviour_module_is_in_the_one_registration_list() -> None:
    """Mixins are registered from one visible list, not by whichever import ran first."""
    from xnat.classes.registry import BEHAVIOUR_MODULES

    registering = set()
    for module, (_, tree) in _sources(include_testing=False).items():
        for node in ast.walk(tree):
            # ``@behaviour(t)`` and ``behaviour(t)(cls)`` both hold a call of the name ``behaviour``
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "behaviour":
                registering.add(module)
    registering.discard("xnat.classes.registry")
    assert registering == set(BEHAVIOUR_MODULES)


@pytest.mark.parametrize("alias", ["core", "map"])
def test_xnatpy_core_and_map_are_thin_aliases(alias: str) -> None:
    """``xnat.core`` and ``xnat.map`` only re-export names of the layers below them."""
    import importlib

    module = importlib.import_module(f"xnat.{alias}")
    assert module.__all__ and all(getattr(module, name).__module__ != module.__name__ for name in module.__all__)
    tree = ast.parse((ROOT / f"{alias}.py").read_text(encoding="utf-8"))
    assert {type(node).__name__ for node in tree.body} <= {"Expr", "ImportFrom", "Assign"}
