"""DICOM to NIfTI with dcm2niix, one series at a time.

The converter is the ``dcm2niix`` program the ``dcm2niix`` package ships (``pip install
"xnat[bids]"``), else one on ``PATH``. Each series is converted on its own into its own
folder, so that every file written is known to come from one XNAT scan, and one series that
dcm2niix cannot convert is reported while the others go on.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BidsToolMissing
from .options import BASE_OPTIONS

__all__ = ["ConversionFailed", "Series", "find_dcm2niix", "read_series", "run_dcm2niix"]

logger = logging.getLogger(__name__)

#: Extensions that travel with a NIfTI image (its sidecar and DWI gradient tables).
COMPANIONS = (".json", ".bval", ".bvec")
#: dcm2niix is given this long per series before it is stopped.
TIMEOUT = 1800.0


class ConversionFailed(Exception):
    """dcm2niix could not convert one series; ``str()`` says why (its own words, trimmed)."""


@dataclass(frozen=True)
class Series:
    """One image dcm2niix (or a pipeline) wrote: ``stem`` + ``.nii.gz``/``.nii`` and companions."""

    stem: Path
    image: Path
    sidecar: dict[str, Any]

    def files(self) -> dict[str, Path]:
        """extension -> path, the image first."""
        found = {".nii.gz" if self.image.name.endswith(".nii.gz") else ".nii": self.image}
        for extension in COMPANIONS:
            path = self.stem.with_name(self.stem.name + extension)
            if path.is_file():
                found[extension] = path
        return found


def find_dcm2niix() -> str:
    """The dcm2niix program to run.

    :raises BidsToolMissing: neither the ``dcm2niix`` package nor a dcm2niix on ``PATH``
    """
    try:
        import dcm2niix  # type: ignore[import-untyped]  # the PyPI package ships the binary beside its module; no types

        shipped = Path(getattr(dcm2niix, "bin", "") or "")
        if shipped.name and shipped.is_file() and os.access(shipped, os.X_OK):
            return str(shipped)
    except ImportError:
        pass
    found = shutil.which("dcm2niix")
    if found is None:
        raise BidsToolMissing('converting DICOM to NIfTI needs dcm2niix: pip install "xnat[bids]"')
    return found


def run_dcm2niix(program: str, dicom_dir: Path, out_dir: Path, name: str, timeout: float = TIMEOUT,
                 options: tuple[str, ...] = ()) -> list[Series]:
    """Convert the DICOM in ``dicom_dir`` into ``out_dir`` (files named ``name`` + dcm2niix's suffixes).

    ``options``: checked dcm2niix flags (:func:`xnat.bids.options.parse_options`); they
    come after the export's defaults, which they override, and before the output flags.

    :raises ConversionFailed: dcm2niix failed, timed out or wrote no image
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    # a list, never a shell: dcm2niix takes the last of a repeated flag, so the output flags are last
    command = [program, *BASE_OPTIONS, *options, "-f", name, "-o", str(out_dir), str(dicom_dir)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionFailed(f"dcm2niix took longer than {timeout:g} s") from None
    except OSError as error:
        raise ConversionFailed(f"dcm2niix could not run: {error}") from None
    series = read_series(out_dir)
    if done.returncode != 0 or not series:
        raise ConversionFailed(f"dcm2niix exited with status {done.returncode}{_reason(done)}")
    return series


def _reason(done: subprocess.CompletedProcess[bytes]) -> str:
    lines = (done.stderr + done.stdout).decode("utf-8", "replace").splitlines()
    errors = [line.strip() for line in lines if line.lower().startswith(("error", "warning: unable", "no valid"))]
    chosen = errors or [line.strip() for line in lines if line.strip()][-2:]
    text = " ".join(chosen)
    return f": {text[:300]}" if text else " and wrote no image"


def read_series(folder: Path) -> list[Series]:
    """Every NIfTI image in ``folder`` with its JSON sidecar (an empty one when there is none)."""
    found = []
    for image in sorted(folder.iterdir()):
        if image.name.endswith(".nii.gz"):
            stem = image.with_name(image.name[: -len(".nii.gz")])
        elif image.name.endswith(".nii"):
            stem = image.with_name(image.name[: -len(".nii")])
        else:
            continue
        sidecar_path = stem.with_name(stem.name + ".json")
        sidecar: dict[str, Any] = {}
        if sidecar_path.is_file():
            try:
                loaded = json.loads(sidecar_path.read_text(encoding="utf-8"))
                sidecar = loaded if isinstance(loaded, dict) else {}
            except (UnicodeDecodeError, ValueError):
                logger.warning("%s is not a JSON sidecar; matched as empty", sidecar_path)
        found.append(Series(stem, image, sidecar))
    return found
