"""BIDS entities: XNAT labels made into entity values, and file names built from entities.

A BIDS label is ASCII letters and digits only (``[0-9a-zA-Z]+``). :func:`sanitise` drops
every other character (``Sub_01-A`` becomes ``Sub01A``) and refuses a label left empty,
so that a name never silently changes meaning. Entities are written in the order the BIDS
specification lists them, whatever order a configuration gives them in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .errors import BidsConfigError, BidsLabelError

__all__ = ["ENTITY_ORDER", "bids_name", "check_value", "parse_entities", "sanitise"]

#: The entities of BIDS 1.10, in the order they appear in a file name.
ENTITY_ORDER: tuple[str, ...] = (
    "sub", "ses", "sample", "task", "tracksys", "acq", "nuc", "voi", "ce", "trc", "stain", "rec", "dir", "run",
    "mod", "echo", "flip", "inv", "mt", "part", "proc", "hemi", "space", "split", "recording", "chunk", "seg",
    "res", "den", "label", "desc",
)
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")
_INDEX_ENTITIES = frozenset({"run", "echo", "flip", "inv", "split", "chunk"})


def sanitise(label: str, entity: str) -> str:
    """``label`` as the value of ``entity`` (``sub``, ``ses``, ...): letters and digits only.

    :raises BidsLabelError: nothing is left once the other characters are dropped
    """
    value = _NOT_ALNUM.sub("", str(label))
    if not value:
        raise BidsLabelError(f"the label {label!r} cannot become a BIDS {entity}- entity: "
                             "it has no ASCII letters or digits")
    return value


def parse_entities(custom: str | Iterable[str] | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """dcm2bids' ``custom_entities`` (``"acq-highres_rec-norm"`` or a list): the fixed ``key-value``
    entities, and the bare entity names whose values the configuration's ``extractors`` find.

    :raises BidsConfigError: an item names an unknown entity, sets ``sub``/``ses`` (those come
        from XNAT), or has a value that is not a BIDS label
    """
    if custom is None:
        return {}, ()
    items = custom.split("_") if isinstance(custom, str) else list(custom)
    fixed: dict[str, str] = {}
    extracted: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise BidsConfigError(f"custom_entities holds {item!r}: each item is 'key-value' or an entity name")
        key, sep, value = item.partition("-")
        if key not in ENTITY_ORDER:
            raise BidsConfigError(f"custom_entities item {item!r}: {key!r} is not a BIDS entity "
                                  f"({', '.join(ENTITY_ORDER)})")
        if key in ("sub", "ses"):
            raise BidsConfigError(f"custom_entities item {item!r}: sub- and ses- come from the XNAT labels")
        if not sep:
            extracted.append(key)
            continue
        check_value(key, value, f"custom_entities item {item!r}")
        fixed[key] = value
    return fixed, tuple(extracted)


def check_value(key: str, value: str, where: str) -> None:
    """:raises BidsConfigError: ``value`` cannot be the value of entity ``key``"""
    if not value or _NOT_ALNUM.search(value) or (key in _INDEX_ENTITIES and not value.isdigit()):
        kind = "a number" if key in _INDEX_ENTITIES else "letters and digits only"
        raise BidsConfigError(f"{where}: the value of {key}- must be {kind}, not {value!r}")


def bids_name(entities: Mapping[str, str], suffix: str) -> str:
    """``sub-01_ses-1_acq-x_T1w`` from entities (any order) and a suffix, without extension."""
    unknown = set(entities) - set(ENTITY_ORDER)
    if unknown:
        raise BidsConfigError(f"unknown BIDS entities: {', '.join(sorted(unknown))}")
    parts = [f"{key}-{entities[key]}" for key in ENTITY_ORDER if entities.get(key)]
    return "_".join(parts + [suffix])
