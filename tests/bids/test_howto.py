"""The BIDS how-to's worked example runs as a reader pastes it, and prints what the page shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "howto" / "bids.rst"


@pytest.mark.reference
def test_the_worked_example_runs(reference: Path, needs_dcm2niix: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    text = PAGE.read_text(encoding="utf-8")
    (block,) = re.findall(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text)
    monkeypatch.chdir(tmp_path)  # the example writes config.json where it runs
    exec(compile("\n".join(line[3:] for line in block.splitlines()), str(PAGE), "exec"), {})
    printed = capsys.readouterr().out
    assert "1 sessions converted, 0 unchanged, 0 failed; 2 files in the dataset" in printed
    assert "scan 4 (SAG LOCALIZER) scan4: no description matches" in printed
    assert "scan 4 (SAG LOCALIZER) scan4: no description matches" in text
