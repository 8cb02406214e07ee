"""The interpreters the suite drives: ours, xnatpy 0.8.1 (own venv), pyxnat 1.6.4, the limit.

xnatpy imports as ``xnat`` too, so it lives in a virtual environment the suite creates
itself under ``$XDG_CACHE_HOME/xnat-bench/xnat-0.8.1`` (default ``~/.cache``); pyxnat gets
one beside it (``pyxnat-1.6.4``) with the packages its ``Interface()`` imports. Peer
interpreters run with ``-I`` (isolated: no PYTHONPATH, no script folder on sys.path) so
our package can never shadow them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

XNATPY_VERSION = "0.8.1"
PYXNAT_VERSION = "1.6.4"


@dataclass
class Interpreter:
    """How to start a workload subprocess for one implementation."""

    name: str
    command: list[str]           # python executable and flags
    isolated: bool               # True: never put the repository on PYTHONPATH
    error: str | None = None     # why it is not available


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "xnat-bench"


def _version_of(python: str, module: str, isolated: bool) -> str | None:
    flags = ["-I"] if isolated else []
    try:
        out = subprocess.run([python, *flags, "-c", f"import {module}; print({module}.__version__)"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _venv(name: str, module: str, version: str, packages: list[str], install: bool) -> Interpreter:
    """An interpreter from a venv under the cache root, created on first use (pip, bounded)."""
    venv = cache_root() / f"{module}-{version}"
    python = venv / "bin" / "python"
    if python.exists() and _version_of(str(python), module, True) == version:
        return Interpreter(name, [str(python), "-I"], True)
    if not install:
        return Interpreter(name, [], True, error=f"no venv at {venv} (run without --no-install to create it)")
    logger.info("creating %s (pip install %s)", venv, " ".join(packages))
    try:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True,
                       timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], check=True,
                       capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", "") or ""
        return Interpreter(name, [], True, error=f"cannot install {' '.join(packages)}: {error} {detail[-300:]}")
    found = _version_of(str(python), module, True)
    if found != version:
        return Interpreter(name, [], True, error=f"venv {venv} imports {module} {found}, not {version}")
    return Interpreter(name, [str(python), "-I"], True)


def xnatpy(install: bool = True) -> Interpreter:
    """xnatpy 0.8.1 in its own venv (it imports as ``xnat``, like ours)."""
    return _venv("xnatpy", "xnat", XNATPY_VERSION, [f"xnat=={XNATPY_VERSION}"], install)


def pyxnat(install: bool = True) -> Interpreter:
    """pyxnat 1.6.4 in its own venv, with what its ``Interface()`` imports.

    ``Interface()`` imports every module of ``pyxnat.core.derivatives``, which need
    nibabel, numpy and pandas although pyxnat does not declare them; a pyxnat user has
    them installed, so the venv does too.
    """
    return _venv("pyxnat", "pyxnat", PYXNAT_VERSION, [f"pyxnat=={PYXNAT_VERSION}", "nibabel", "pandas"], install)


def all_interpreters(install: bool = True) -> dict[str, Interpreter]:
    """ours, xnatpy, pyxnat and the limit (raw requests/curl run in the main interpreter)."""
    return {
        "ours": Interpreter("ours", [sys.executable], False),
        "xnatpy": xnatpy(install),
        "pyxnat": pyxnat(install),
        "limit": Interpreter("limit", [sys.executable], False),
    }
