"""The configuration of a BIDS export: dcm2bids 3's file format, read and checked.

A lab's dcm2bids 3 configuration works as it is::

    {
      "search_method": "fnmatch",          # or "re"; dcm2bids' default is fnmatch
      "case_sensitive": true,
      "dup_method": "run",                 # two series for one description: run-1, run-2
      "descriptions": [
        {"datatype": "anat", "suffix": "T1w",
         "criteria": {"SeriesDescription": "*T1*", "EchoTime": {"lt": 0.05}},
         "custom_entities": "acq-se",
         "sidecar_changes": {"ProtocolName": "t1"}}
      ],
      "xnat": {"dicom_resource": "DICOM", "nifti_resource": "NIFTI", "duplicates": "error"}
    }

``criteria`` are matched against each sidecar dcm2niix writes, as dcm2bids does: a
string is a shell pattern (``fnmatch``) or, with ``"search_method": "re"``, a regular
expression matched at the start; a number is compared as a number; a list is matched item
by item; ``{"any": [...]}`` is any of its patterns; ``lt``, ``lte``, ``gt``, ``gte``,
``btw`` and ``btwe`` compare numbers. ``SidecarFilename`` matches the name dcm2niix gave.

``extractors`` (``{"SeriesDescription": ["task-(?P<task>[a-z]+)"]}``) find entity values
in sidecar fields with named groups; a bare name in ``custom_entities`` (``"task"``) takes
the value found (letters and digits kept), and is left out where none is found. A
description's ``id`` may be named in another's ``sidecar_changes`` (``"IntendedFor":
"rest"``): it becomes the files that description matched in the same session, as BIDS
URIs (``bids::sub-1/ses-1/func/...``) or, with ``"bids_uri": "relative"``, as paths
relative to the subject folder.

The ``xnat`` block is ours (dcm2bids ignores it): which scan resource holds the DICOM,
which one holds NIfTI to use instead of converting (e.g. from a pipeline), and whether two
series matching one description become ``run-`` entities (``"run"``, dcm2bids' way) or
an error (``"error"``). ``dcm2niixOptions`` is a string of dcm2niix flags, checked flag by
flag (:mod:`xnat.bids.options`). What this export does not do is refused with a clear
error rather than ignored: ``post_op`` (running commands named in a file) and dcm2bids'
``dup_method: "dup"`` (its names are not valid BIDS).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .entities import parse_entities
from .errors import BidsConfigError
from .options import parse_options

__all__ = ["Config", "Description", "load_config"]

_DATATYPES = ("anat", "func", "dwi", "fmap", "perf", "pet", "beh", "eeg", "ieeg", "meg", "micr", "nirs", "motion",
              "mrs")
_REFUSED = {
    "post_op": "post_op runs commands named in the configuration file; this export does not run them",
}
_OLD_NAMES = {"dataType": "datatype", "modalityLabel": "suffix", "customLabels": "custom_entities",
              "sidecarChanges": "sidecar_changes"}
_DESCRIPTION_KEYS = {"datatype", "suffix", "criteria", "custom_entities", "sidecar_changes", "id"}
_COMPARATORS = ("lt", "lte", "gt", "gte", "btw", "btwe", "any")


@dataclass(frozen=True)
class Description:
    """One entry of ``descriptions``: where the series it matches go."""

    index: int
    datatype: str
    suffix: str
    criteria: dict[str, Any]
    entities: dict[str, str] = field(default_factory=dict)
    sidecar_changes: dict[str, Any] = field(default_factory=dict)
    extracted: tuple[str, ...] = ()  #: entities whose values the extractors find
    id: str | None = None

    def __str__(self) -> str:
        return f"description {self.index} ({self.datatype}/{self.suffix})"


@dataclass(frozen=True)
class Config:
    """A checked configuration; ``digest`` changes whenever anything that shapes the output does."""

    descriptions: tuple[Description, ...]
    search_method: str = "fnmatch"
    case_sensitive: bool = True
    duplicates: str = "run"
    dicom_resource: str = "DICOM"
    nifti_resource: str | None = None
    digest: str = ""
    extractors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    bids_uri: str = "URI"
    dcm2niix_options: tuple[str, ...] = ()  #: checked flags from ``dcm2niixOptions``

    def matching(self, sidecar: dict[str, Any], filename: str) -> list[Description]:
        """The descriptions whose every criterion holds for ``sidecar`` (written as ``filename``)."""
        return [d for d in self.descriptions if all(
            self._holds(key, wanted, sidecar, filename) for key, wanted in d.criteria.items())]

    def extract(self, sidecar: dict[str, Any]) -> dict[str, str]:
        """Entity values the extractors find in ``sidecar`` (the first pattern to find one wins)."""
        found: dict[str, str] = {}
        for key, patterns in self.extractors.items():
            if key not in sidecar:
                continue
            text = sidecar[key] if isinstance(sidecar[key], str) else json.dumps(sidecar[key])
            for pattern in patterns:
                match = re.search(pattern, text)
                for name, value in (match.groupdict() if match else {}).items():
                    cleaned = re.sub(r"[^A-Za-z0-9]", "", value or "")
                    if cleaned and name not in found:
                        found[name] = cleaned
        return found

    def _holds(self, key: str, wanted: Any, sidecar: dict[str, Any], filename: str) -> bool:
        if key == "SidecarFilename":
            return self._matches(wanted, filename)
        if key not in sidecar:
            return False
        return self._matches(wanted, sidecar[key])

    def _matches(self, wanted: Any, value: Any) -> bool:
        if isinstance(wanted, dict):
            return _compare(wanted, value, self._matches)
        if isinstance(wanted, list):
            return isinstance(value, list) and len(value) == len(wanted) and all(
                self._matches(w, v) for w, v in zip(wanted, value))
        if isinstance(wanted, bool) or wanted is None:
            return bool(value == wanted)
        if isinstance(wanted, (int, float)):
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isclose(value, wanted)
        return self._pattern(str(wanted), value)

    def _pattern(self, pattern: str, value: Any) -> bool:
        text = value if isinstance(value, str) else json.dumps(value)
        if not self.case_sensitive:
            pattern, text = pattern.lower(), text.lower()
        if self.search_method == "re":
            return re.match(pattern, text) is not None
        return fnmatch.fnmatchcase(text, pattern)


def _compare(wanted: dict[str, Any], value: Any, match: Any) -> bool:
    (operator, operand), = wanted.items()  # checked by _check_criterion
    if operator == "any":
        return any(match(item, value) for item in operand)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if operator == "lt":
        return bool(value < operand)
    if operator == "lte":
        return bool(value <= operand)
    if operator == "gt":
        return bool(value > operand)
    if operator == "gte":
        return bool(value >= operand)
    low, high = operand
    return bool(low < value < high) if operator == "btw" else bool(low <= value <= high)


def load_config(source: str | os.PathLike[str] | dict[str, Any]) -> Config:
    """Read and check a configuration (a path to a JSON file, or the dict itself).

    :raises BidsConfigError: the file is missing or not JSON, or something in it is wrong
        (the message says which key of which description)
    """
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BidsConfigError(f"no configuration file at {path}") from None
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise BidsConfigError(f"the configuration {path} is not readable JSON: {error}") from None
    if not isinstance(data, dict):
        raise BidsConfigError("a configuration is a JSON object with a 'descriptions' list")
    return _config(data)


def _config(data: dict[str, Any]) -> Config:
    for key, why in _REFUSED.items():
        if data.get(key):
            raise BidsConfigError(f"the configuration's {key!r}: {why}")
    descriptions = data.get("descriptions")
    if not isinstance(descriptions, list) or not descriptions:
        raise BidsConfigError("the configuration needs a non-empty 'descriptions' list")
    search_method = data.get("search_method", "fnmatch")
    if search_method not in ("fnmatch", "re"):
        raise BidsConfigError(f"search_method is 'fnmatch' or 're', not {search_method!r}")
    case_sensitive = data.get("case_sensitive", True)
    if not isinstance(case_sensitive, bool):
        raise BidsConfigError(f"case_sensitive is true or false, not {case_sensitive!r}")
    extra = data.get("xnat", {})
    if not isinstance(extra, dict) or set(extra) - {"dicom_resource", "nifti_resource", "duplicates"}:
        raise BidsConfigError("the 'xnat' block takes dicom_resource, nifti_resource and duplicates only")
    duplicates = _duplicates(data.get("dup_method", "run"), extra.get("duplicates"))
    dicom_resource = extra.get("dicom_resource", "DICOM")
    nifti_resource = extra.get("nifti_resource")
    for name, value in (("dicom_resource", dicom_resource), ("nifti_resource", nifti_resource)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BidsConfigError(f"xnat.{name} is a resource label, not {value!r}")
    extractors = _extractors(data.get("extractors", {}))
    bids_uri = data.get("bids_uri", "URI")
    if bids_uri not in ("URI", "relative"):
        raise BidsConfigError(f"bids_uri is 'URI' or 'relative', not {bids_uri!r}")
    options = parse_options(data["dcm2niixOptions"]) if "dcm2niixOptions" in data else ()
    checked = tuple(_description(index, item, search_method) for index, item in enumerate(descriptions))
    _check_references(checked, extractors)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return Config(checked, search_method, case_sensitive, duplicates, dicom_resource, nifti_resource, digest,
                  extractors, bids_uri, options)


def _extractors(value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise BidsConfigError("extractors is an object: sidecar field -> list of regular expressions")
    found = {}
    for key, patterns in value.items():
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise BidsConfigError(f"extractors.{key} is a list of regular expressions")
        for pattern in patterns:
            try:
                compiled = re.compile(pattern)
            except re.error as error:
                raise BidsConfigError(f"extractors.{key}: {pattern!r} is not a regular expression: {error}") from None
            if not compiled.groupindex:
                raise BidsConfigError(f"extractors.{key}: {pattern!r} has no named group such as (?P<task>...)")
        found[str(key)] = tuple(patterns)
    return found


def _check_references(descriptions: tuple[Description, ...], extractors: dict[str, tuple[str, ...]]) -> None:
    """Every extracted entity has an extractor group; ids are unique."""
    groups = {name for patterns in extractors.values() for p in patterns for name in re.compile(p).groupindex}
    ids: set[str] = set()
    for description in descriptions:
        for name in description.extracted:
            if name not in groups:
                raise BidsConfigError(f"descriptions[{description.index}]: custom_entities {name!r} has no "
                                      f"extractor with a group (?P<{name}>...)")
        if description.id is not None:
            if description.id in ids:
                raise BidsConfigError(f"descriptions[{description.index}]: the id {description.id!r} is taken")
            ids.add(description.id)


def _duplicates(dup_method: Any, ours: Any) -> str:
    if dup_method == "dup":
        raise BidsConfigError("dup_method 'dup' writes names the BIDS validator rejects; use 'run' "
                              "(run- entities) or set xnat.duplicates to 'error'")
    if dup_method != "run":
        raise BidsConfigError(f"dup_method is 'run', not {dup_method!r}")
    if ours not in (None, "run", "error"):
        raise BidsConfigError(f"xnat.duplicates is 'run' or 'error', not {ours!r}")
    return str(ours or "run")


def _description(index: int, item: Any, search_method: str) -> Description:
    where = f"descriptions[{index}]"
    if not isinstance(item, dict):
        raise BidsConfigError(f"{where} is not an object")
    for old, new in _OLD_NAMES.items():
        if old in item:
            raise BidsConfigError(f"{where}: {old!r} is dcm2bids 2's name; dcm2bids 3 calls it {new!r}")
    unknown = set(item) - _DESCRIPTION_KEYS
    if unknown:
        raise BidsConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    datatype, suffix, criteria = item.get("datatype"), item.get("suffix"), item.get("criteria")
    if datatype not in _DATATYPES:
        raise BidsConfigError(f"{where}: datatype {datatype!r} is not a BIDS datatype ({', '.join(_DATATYPES)})")
    if not isinstance(suffix, str) or not re.fullmatch(r"[A-Za-z0-9]+", suffix):
        raise BidsConfigError(f"{where}: suffix {suffix!r} must be letters and digits (e.g. 'T1w')")
    if not isinstance(criteria, dict) or not criteria:
        raise BidsConfigError(f"{where}: criteria must be a non-empty object of sidecar fields")
    for key, wanted in criteria.items():
        _check_criterion(f"{where}.criteria.{key}", wanted, search_method)
    changes = item.get("sidecar_changes", {})
    if not isinstance(changes, dict):
        raise BidsConfigError(f"{where}: sidecar_changes must be an object")
    try:
        entities, extracted = parse_entities(item.get("custom_entities"))
    except BidsConfigError as error:
        raise BidsConfigError(f"{where}: {error}") from None
    identifier = item.get("id")
    if identifier is not None and (not isinstance(identifier, str) or not identifier):
        raise BidsConfigError(f"{where}: id is a name, not {identifier!r}")
    return Description(index, datatype, suffix, dict(criteria), entities, dict(changes), extracted, identifier)


def _check_criterion(where: str, wanted: Any, search_method: str) -> None:
    if isinstance(wanted, dict):
        if len(wanted) != 1 or next(iter(wanted)) not in _COMPARATORS:
            raise BidsConfigError(f"{where}: a comparison is one of {', '.join(_COMPARATORS)}, not {wanted!r}")
        operator, operand = next(iter(wanted.items()))
        if operator == "any":
            if not isinstance(operand, list) or not operand:
                raise BidsConfigError(f"{where}: 'any' takes a non-empty list of patterns")
            for item in operand:
                _check_criterion(where, item, search_method)
        elif operator in ("btw", "btwe"):
            if not (isinstance(operand, list) and len(operand) == 2 and all(_number(v) for v in operand)):
                raise BidsConfigError(f"{where}: {operator!r} takes two numbers, not {operand!r}")
        elif not _number(operand):
            raise BidsConfigError(f"{where}: {operator!r} takes a number, not {operand!r}")
    elif isinstance(wanted, list):
        for item in wanted:
            _check_criterion(where, item, search_method)
    elif isinstance(wanted, str) and search_method == "re":
        try:
            re.compile(wanted)
        except re.error as error:
            raise BidsConfigError(f"{where}: {wanted!r} is not a regular expression: {error}") from None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
