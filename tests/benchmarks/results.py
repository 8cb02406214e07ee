"""Rows of the benchmark table: measured cells, targets, ratios and whether they hold."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

IMPLS = ("ours", "xnatpy", "pyxnat", "limit")


@dataclass
class Cell:
    """One implementation's figure: the median of its runs, or why there is none."""

    value: float | None
    runs: int = 0
    error: str | None = None
    note: str = ""

    def text(self, unit: str) -> str:
        if self.value is None:
            return f"n/a ({self.error})" if self.error else "-"
        return format_value(self.value, unit) + (f" {self.note}" if self.note else "")


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "KB":
        return f"{value:.2f} KB"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "x":
        return f"{value:.3f}x"
    if unit == "MB/s":
        return f"{value:.0f} MB/s"
    return f"{value:g} {unit}"


def summarize(results: list[dict[str, Any]], key: str, missing: str = "") -> Cell:
    """Median of ``key`` over successful runs; an error if no run produced it.

    ``missing`` prefixes the error (e.g. "not built yet" for our own rows).
    """
    for r in results:
        if r.get("error"):
            r["error"] = clean_error(r["error"])
    values = [r[key] for r in results if r.get("error") is None and isinstance(r.get(key), (int, float))]
    errors = [r["error"] for r in results if r.get("error")]
    if not results:
        return Cell(None, error="not run")
    if not values:
        error = errors[0] if errors else f"no {key!r} in the result"
        return Cell(None, error=f"{missing}: {error}" if missing else error)
    cell = Cell(statistics.median(values), runs=len(values))
    if errors:
        cell.note = f"({len(errors)} of {len(results)} runs failed)"
        cell.error = errors[0]
    return cell


def clean_error(text: str, limit: int = 240) -> str:
    """One line, whitespace collapsed, bounded: errors go in a table footnote."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Target:
    """``ours OP bound x against`` (a ratio) or ``ours OP bound`` (an absolute figure)."""

    op: str                      # "<=", "<", ">="
    bound: float
    against: str | None = None   # implementation the ratio is taken against; None = absolute

    def describe(self, unit: str) -> str:
        if self.against:
            return f"{self.op} {self.bound:g}x {self.against}"
        return f"{self.op} {format_value(self.bound, unit)}"

    def check(self, value: float) -> bool:
        return {"<=": value <= self.bound, "<": value < self.bound, ">=": value >= self.bound}[self.op]


@dataclass
class Row:
    """One figure of the table."""

    figure: str
    unit: str
    cells: dict[str, Cell]
    target: Target | None = None
    notes: list[str] = field(default_factory=list)
    server_cpu: dict[str, float] = field(default_factory=dict)   # impl -> server CPU share of its runs

    @property
    def ratio(self) -> float | None:
        if self.target is None:
            return None
        ours = self.cells.get("ours")
        if ours is None or ours.value is None:
            return None
        if self.target.against is None:
            return ours.value
        other = self.cells.get(self.target.against)
        if other is None or other.value is None or other.value == 0:
            return None
        return ours.value / other.value

    @property
    def holds(self) -> bool | None:
        ratio = self.ratio
        if self.target is None or ratio is None:
            return None
        return self.target.check(ratio)

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "unit": self.unit,
            "values": {name: cell.value for name, cell in self.cells.items()},
            "errors": {name: cell.error for name, cell in self.cells.items() if cell.error},
            "runs": {name: cell.runs for name, cell in self.cells.items()},
            "target": self.target.describe(self.unit) if self.target else None,
            "ratio": self.ratio,
            "holds": self.holds,
            "server_cpu_share": self.server_cpu,
            "notes": self.notes,
        }


def server_share(results: list[dict[str, Any]]) -> float | None:
    """Median share of the server's CPU time over the client's wall time, for successful runs."""
    shares = [r["server_cpu_s"] / r["wall_s"] for r in results
              if r.get("error") is None and r.get("wall_s") and "server_cpu_s" in r]
    return statistics.median(shares) if shares else None
