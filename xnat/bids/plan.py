"""Which converted series go where in one session: the configuration's descriptions applied.

Every series is matched against every description, as dcm2bids does. A series no
description matches, or more than one does, is listed as *unmatched* with the reason (it
is not written, and not silently dropped either). Series that land on the same name
become ``run-01``, ``run-02``, ... in acquisition order (``SeriesNumber``, then
``AcquisitionTime``, then the XNAT scan ID), or, when the configuration says
``"duplicates": "error"``, fail the session with a :class:`DuplicateMatchError`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import Config, Description
from .convert import Series
from .entities import bids_name, check_value
from .errors import BidsConfigError, DuplicateMatchError

__all__ = ["Candidate", "Placement", "SessionPlan", "plan_session", "sidecar_changes"]


@dataclass(frozen=True)
class Candidate:
    """One series of one XNAT scan, ready to be matched."""

    scan_id: str
    scan_type: str
    series: Series
    source: str  # "dicom" (converted here) or the label of the NIfTI resource it came from


@dataclass(frozen=True)
class Placement:
    """A series and the place it takes: ``relstem`` is ``anat/sub-1_ses-1_T1w`` (no extension)."""

    candidate: Candidate
    description: Description
    relstem: str


@dataclass
class SessionPlan:
    placements: list[Placement]
    unmatched: list[dict[str, str]]


def plan_session(candidates: Sequence[Candidate], config: Config, sub: str, ses: str) -> SessionPlan:
    """Match ``candidates`` to ``config``'s descriptions and name them for ``sub-<sub>/ses-<ses>``.

    :raises DuplicateMatchError: series share a name and the configuration asks for an error
    """
    chosen: list[tuple[Candidate, Description]] = []
    unmatched = []
    for candidate in candidates:
        found = config.matching(candidate.series.sidecar, candidate.series.stem.name)
        if len(found) == 1:
            chosen.append((candidate, found[0]))
            continue
        reason = "no description matches" if not found else \
            "several descriptions match: " + ", ".join(str(d) for d in found)
        unmatched.append({"scan_id": candidate.scan_id, "scan_type": candidate.scan_type,
                          "series": candidate.series.stem.name,
                          "SeriesDescription": str(candidate.series.sidecar.get("SeriesDescription", "")),
                          "reason": reason})
    groups: dict[tuple[str, str], list[tuple[Candidate, Description, dict[str, str]]]] = {}
    for candidate, description in chosen:
        entities = {"sub": sub, "ses": ses, **description.entities,
                    **_extracted(description, config.extract(candidate.series.sidecar))}
        groups.setdefault((description.datatype, bids_name(entities, description.suffix)), []).append(
            (candidate, description, entities))
    placements = []
    for (datatype, name), members in groups.items():
        if len(members) == 1:
            candidate, description, _ = members[0]
            placements.append(Placement(candidate, description, f"{datatype}/{name}"))
            continue
        placements.extend(_runs(datatype, name, members, config))
    return SessionPlan(sorted(placements, key=lambda p: p.relstem), unmatched)


def _extracted(description: Description, found: dict[str, str]) -> dict[str, str]:
    """The extracted entities the description asks for and a value was found for (a value
    that cannot be the entity's, a letter for ``run-``, counts as not found)."""
    values = {}
    for name in description.extracted:
        try:
            check_value(name, found.get(name, ""), "extracted")
        except BidsConfigError:
            continue
        values[name] = found[name]
    return values


def _runs(datatype: str, name: str, members: list[tuple[Candidate, Description, dict[str, str]]],
          config: Config) -> list[Placement]:
    scans = ", ".join(f"scan {c.scan_id} ({c.series.stem.name})" for c, _, _ in members)
    descriptions = {str(d) for _, d, _ in members}
    if config.duplicates == "error" or any("run" in entities for _, _, entities in members):
        why = "the configuration asks for an error" if config.duplicates == "error" else \
            "their run- entity is set already"
        raise DuplicateMatchError(f"{scans} all match {', '.join(sorted(descriptions))} as {name} and {why}; "
                                  "tell them apart with criteria or custom_entities")
    ordered = sorted(members, key=lambda member: _acquisition_order(member[0]))
    placements = []
    for number, (candidate, description, entities) in enumerate(ordered, 1):
        numbered = {**entities, "run": f"{number:02d}"}
        placements.append(Placement(candidate, description, f"{datatype}/{bids_name(numbered, description.suffix)}"))
    return placements


def sidecar_changes(placement: Placement, placements: Sequence[Placement], config: Config, sub: str,
                    ses: str) -> dict[str, Any]:
    """The description's ``sidecar_changes`` for one file, with description ids made into the
    images those descriptions matched in this session (BIDS URIs, or relative to the subject
    folder); an id that matched nothing here is left out, and a change left empty is dropped."""
    ids = {d.id for d in config.descriptions if d.id is not None}
    images: dict[str, list[str]] = {}
    for other in placements:
        if other.description.id is not None:
            extension = next(iter(other.candidate.series.files()))  # the image comes first
            relative = f"ses-{ses}/{other.relstem}{extension}"
            images.setdefault(other.description.id, []).append(
                f"bids::sub-{sub}/{relative}" if config.bids_uri == "URI" else relative)
    changes = {}
    for key, value in placement.description.sidecar_changes.items():
        items = value if isinstance(value, list) else [value]
        if not any(isinstance(item, str) and item in ids for item in items):
            changes[key] = value
            continue
        resolved = [found for item in items
                    for found in (images.get(item, []) if isinstance(item, str) and item in ids else [item])]
        if resolved:
            changes[key] = resolved
    return changes


def _acquisition_order(candidate: Candidate) -> tuple[Any, ...]:
    sidecar = candidate.series.sidecar
    number = sidecar.get("SeriesNumber")
    number = number if isinstance(number, (int, float)) and not isinstance(number, bool) else float("inf")
    scan = [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", candidate.scan_id)
            if part]
    return (number, str(sidecar.get("AcquisitionTime", "")), scan, candidate.series.stem.name)
