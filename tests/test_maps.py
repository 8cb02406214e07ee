"""The maps a reader relies on stay true: docs/architecture.rst and each package's docstring.

A map that names a module that is gone, or leaves out one that exists, sends the next
engineer the wrong way; these tests fail on both.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "xnat"
ARCHITECTURE = ROOT / "docs" / "architecture.rst"


def _packages() -> list[Path]:
    return sorted(init.parent for init in PACKAGE.rglob("__init__.py"))


def _dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def test_every_module_the_architecture_page_names_imports() -> None:
    named = set(re.findall(r":mod:`~?(xnat(?:\.\w+)*)`", ARCHITECTURE.read_text(encoding="utf-8")))
    assert len(named) > 40, "the page should name the modules it describes with :mod:"
    for name in sorted(named):
        importlib.import_module(name)  # an ImportError names the stale entry


def test_the_architecture_page_names_every_package_and_top_level_module() -> None:
    """The page is the top level's map (the package docstring is for users: ``help(xnat)``)."""
    named = set(re.findall(r"`~?(xnat(?:\.\w+)*)`", ARCHITECTURE.read_text(encoding="utf-8")))
    expected = [_dotted(package / "__init__.py").removesuffix(".__init__") for package in _packages()]
    expected += [f"xnat.{p.stem}" for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")]
    assert sorted(name for name in set(expected) if name not in named) == []


@pytest.mark.parametrize("package", _packages()[1:], ids=lambda p: _dotted(p / "x")[:-2])
def test_each_package_docstring_lists_its_modules(package: Path) -> None:
    """A package's docstring is its map: every module and subpackage in it is named there."""
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
    members = sorted(
        [p.stem for p in package.glob("*.py") if not p.stem.startswith("__")]
        + [p.name for p in package.iterdir() if (p / "__init__.py").is_file()]
    )
    unnamed = [name for name in members if not re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", doc)]
    assert unnamed == [], f"{_dotted(package / 'x')[:-2]}: its docstring does not name {unnamed}"
