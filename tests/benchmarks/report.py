"""The benchmark table on stdout, and the same figures as JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, TextIO

from .results import IMPLS, Row


def _holds_text(row: Row) -> str:
    holds = row.holds
    if row.target is None:
        return ""
    return "n/a" if holds is None else ("yes" if holds else "NO")


def _ratio_text(row: Row) -> str:
    ratio = row.ratio
    if ratio is None or row.target is None:
        return "-"
    if row.target.against is None:
        return "-"
    return f"{ratio:.3f}x"


def _cpu_text(row: Row) -> str:
    return " ".join(f"{name}:{share:.0%}" for name, share in row.server_cpu.items())


def render_table(rows: list[Row], out: TextIO) -> None:
    """Write a fixed-width table; long n/a reasons go to numbered footnotes."""
    footnotes: list[str] = []
    header = ["figure", *IMPLS, "ratio", "target", "holds", "server CPU"]
    lines: list[list[str]] = []
    for row in rows:
        cells = []
        for name in IMPLS:
            cell = row.cells.get(name)
            if cell is None:
                cells.append("-")
            elif cell.value is None and cell.error:
                footnotes.append(f"{row.figure} / {name}: {cell.error}")
                cells.append(f"n/a [{len(footnotes)}]")
            elif cell.error:   # some runs failed: the median is of the others
                footnotes.append(f"{row.figure} / {name}, failed run: {cell.error}")
                cells.append(f"{cell.text(row.unit)} [{len(footnotes)}]")
            else:
                cells.append(cell.text(row.unit))
        target = row.target.describe(row.unit) if row.target else ""
        lines.append([row.figure, *cells, _ratio_text(row), target, _holds_text(row), _cpu_text(row)])
    widths = [max(len(header[i]), *(len(line[i]) for line in lines)) if lines else len(header[i])
              for i in range(len(header))]

    def emit(values: list[str]) -> None:
        out.write(" | ".join(value.ljust(width) for value, width in zip(values, widths)).rstrip() + "\n")

    emit(header)
    out.write("-+-".join("-" * width for width in widths) + "\n")
    for line in lines:
        emit(line)
    notes = [(row.figure, note) for row in rows for note in row.notes]
    if notes:
        out.write("\nnotes:\n")
        for figure, note in notes:
            out.write(f"  {figure}: {note}\n")
    if footnotes:
        out.write("\nnot available, or failed runs:\n")
        for index, text in enumerate(footnotes, 1):
            out.write(f"  [{index}] {text}\n")
    out.write("\nserver CPU = the server process's CPU time as a share of each client run's wall time.\n")


def render_failures(failures: dict[str, dict[str, list[str]]], out: TextIO) -> None:
    """The server's error answers each client met: what the server lacks for it (or a
    probe the client tolerates, such as xnatpy's GET /data/version)."""
    if not failures:
        return
    out.write("\nHTTP errors the clients met (request -> status [workloads]):\n")
    for impl, seen in failures.items():
        for key, where in seen.items():
            out.write(f"  {impl}: {key} [{', '.join(where)}]\n")


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    document = {
        "meta": {**meta, "python": platform.python_version(), "machine": platform.machine(),
                 "platform": platform.platform()},
        "rows": [row.to_json() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
