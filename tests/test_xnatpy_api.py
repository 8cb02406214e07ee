"""Every class, function, method and attribute that xnatpy's API reference documents exists at
its documented path, and every documented parameter name is accepted.

The reference is xnatpy's "Code reference" page as stored beside the XNAT reference data
(``../shared/seeds/``); the page is read as text, so a new page is checked without edits
here. What "documented" means on that page:

* ``class xnat.mod.Name(params)``: a class at ``xnat.mod``; its parameters are its
  constructor's;
* ``xnat.mod.name(params)``: a function at ``xnat.mod``;
* inside a class: ``name(params)`` a method, ``name`` alone on its line (followed by its
  description) or ``NAME = value`` an attribute.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_CLASS = re.compile(r"^class (xnat(?:\.\w+)*)\.(\w+)\((.*)\)$")
_FUNCTION = re.compile(r"^(xnat(?:\.\w+)*)\.(\w+)\((.*)\)$")
_METHOD = re.compile(r"^(\w+)\((.*)\)$")
_ATTRIBUTE = re.compile(r"^(\w+)(?: = .*)?$")
# Documented parameters we decline, each with its reason (docs/howto/migrating.rst says the same).
DECLINED = {
    # The page itself says "You should NOT try use this class directly, it should only be
    # created by xnat.connect"; our constructor takes the transport and resolved credentials
    # that connect() builds, and the keep-alive starts after login, not in a constructor.
    "xnat.session.XNATSession: no parameter 'user'",
    "xnat.session.XNATSession: no parameter 'password'",
    "xnat.session.XNATSession: no parameter 'keepalive'",
    "xnat.session.XNATSession: no parameter 'logged_in_user'",
}
# Words the page sets alone on a line that are not members: admonitions and section words.
_NOT_MEMBERS = {"Note", "Warning", "Parameters", "Returns", "Bases"}


@dataclass
class Documented:
    module: str
    name: str
    params: list[str] | None = None  # None: not callable (an attribute)
    members: list[Documented] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.module}.{self.name}"


def _param_names(text: str) -> list[str]:
    names = []
    for part in text.split(","):
        name = part.strip().split("=")[0].strip()
        if name and name != "self":
            names.append(name)
    return names


def parse_reference(text: str) -> list[Documented]:
    """The classes and functions of the page, each class with its members."""
    found: list[Documented] = []
    current: Documented | None = None
    skip = False
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        if skip:  # the type or value named after "Returns:" / "Return type:" is no member
            skip = False
            continue
        skip = line in ("Returns:", "Return type:")
        if line.endswith((" Module", " Package")):
            current = None
        elif match := _CLASS.match(line):
            current = Documented(match[1], match[2], _param_names(match[3]))
            found.append(current)
        elif match := _FUNCTION.match(line):
            found.append(Documented(match[1], match[2], _param_names(match[3])))
            current = None
        elif current is not None and (match := _METHOD.match(line)):
            current.members.append(Documented(str(current), match[1], _param_names(match[2])))
        elif current is not None and (match := _ATTRIBUTE.match(line)) and match[1] not in _NOT_MEMBERS:
            current.members.append(Documented(str(current), match[1]))
    return found


@pytest.fixture(scope="module")
def documented(reference: Path) -> list[Documented]:
    seeds = reference.parent / "seeds"
    pages = [path for path in sorted(seeds.glob("*.txt")) if path.read_text(encoding="utf-8").startswith("Code reference")]
    if not pages:
        pytest.fail(f"no 'Code reference' page of xnatpy in {seeds}")
    return parse_reference(pages[0].read_text(encoding="utf-8"))


def _resolve(item: Documented) -> Any:
    return getattr(importlib.import_module(item.module), item.name)


def _missing_params(target: Any, params: list[str]) -> list[str]:
    parameters = inspect.signature(target).parameters.values()
    accepted = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        accepted.add("**kwargs")
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        accepted.add("*args")
    return [name for name in params if name.lstrip("*") not in accepted and name not in accepted]


def _member(owner: type, name: str) -> Any:
    """``owner``'s attribute ``name``, or an attribute its instances set in an ``__init__`` of its MRO."""
    try:
        return inspect.getattr_static(owner, name)
    except AttributeError:
        for cls in owner.__mro__:
            try:
                source = inspect.getsource(cls.__init__) if "__init__" in vars(cls) else ""
            except (TypeError, OSError):  # a builtin base (object): no source, no attributes
                continue
            if re.search(rf"self\.{name}\s*(:[^=]+)?=", source):
                return None
        raise


def _check(item: Documented, owner: Any = None) -> list[str]:
    """What is missing of one documented item (``owner``: the class holding a member)."""
    try:
        target = _resolve(item) if owner is None else _member(owner, item.name)
    except (ImportError, AttributeError):
        return [f"{item} is missing"]
    problems = []
    if item.params is not None:
        if isinstance(target, (staticmethod, classmethod)):
            target = target.__func__
        if not callable(target):
            return [f"{item} is not callable"]
        problems += [f"{item}: no parameter {name!r}" for name in _missing_params(target, item.params)]
    for member in item.members:
        problems += _check(member, target)
    return problems


def test_the_page_is_read(documented: list[Documented]) -> None:
    """The parser sees what the page documents (a guard against a parser that finds nothing)."""
    names = {str(item) for item in documented}
    assert {"xnat.connect", "xnat.session.XNATSession", "xnat.xnatbases.AbstractResource",
            "xnat.prearchive.PrearchiveSession", "xnat.users.Users"} <= names
    members = sum(len(item.members) for item in documented)
    assert len(documented) >= 20 and members >= 100


def test_every_documented_name_and_parameter_exists(documented: list[Documented]) -> None:
    problems = [problem for item in documented for problem in _check(item) if problem not in DECLINED]
    assert problems == [], f"{len(problems)} missing:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", ["XNATSession", "MappingLevel", "FilterFunctions", "MappedFunctionFailed",
                                  "connect", "exceptions"])
def test_xnatpy_package_exports(name: str) -> None:
    import xnat

    assert name in xnat.__all__ and getattr(xnat, name) is not None


def test_an_unknown_package_attribute_is_an_attribute_error() -> None:
    import xnat

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        xnat.nope
