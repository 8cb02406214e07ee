"""dcm2bids' ``dcm2niixOptions``: a string of dcm2niix flags, split and checked against a whitelist.

``"dcm2niixOptions": "-b y -ba n -z n -m y -i y"`` is split as a shell would (``shlex``)
but never run by one: each flag must be one of dcm2niix's own options (``dcm2niix -h``)
with a value of the kind it takes, and the checked list is passed to ``subprocess`` as
arguments. The export's own flags come first (``-b y -ba y -z y``) so that the user's
override them; the output flags come last and are the export's:

* ``-o`` (output folder) and ``-br`` (reproin subfolder) are refused: each series is
  written into a staging folder of the export's choosing, then moved in whole;
* ``-f`` (file name pattern) is accepted and left out, with a log record: dcm2bids' own
  default options carry one (``-f '%3s_%f_%p_%t'``), and the final names come from the
  descriptions, so a lab's configuration keeps working; the intermediate name is
  ``scan<XNAT scan ID>`` (what ``SidecarFilename`` matches);
* options that write something other than NIfTI plus a JSON sidecar (``-b n``/``-b o``,
  ``-e``, ``-r``, ``-u``), write a defaults file (``-g``) or only print (``-h``,
  ``--version``, ``--xml``, ``--progress``) are refused.
"""

from __future__ import annotations

import logging
import re
import shlex

from .errors import BidsConfigError

__all__ = ["BASE_OPTIONS", "parse_options"]

logger = logging.getLogger(__name__)

#: What the export asks of dcm2niix unless the configuration says otherwise:
#: a BIDS sidecar, without patient names and dates, gzipped.
BASE_OPTIONS = ("-b", "y", "-ba", "y", "-z", "y")

_YES_NO = r"[yn]"
#: flag -> the values it takes (a regular expression over the whole value); None: no value
_ALLOWED: dict[str, str | None] = {
    "-a": _YES_NO,
    "-b": r"y",  # the matching needs the sidecar and the NIfTI: n and o are refused
    "-ba": r"[yno]",
    "-c": r".{0,24}",
    "-d": r"[0-9]",
    "-i": r"[yno]",
    "-l": r"[yno]",
    "-m": r"[yn012]",
    "-n": r"-?[0-9]+",
    "-p": r"[yno]",
    "-q": r"[yln]",
    "-s": _YES_NO,
    "-v": r"[yn012]",
    "-w": r"[012]",
    "-x": r"[yni]",
    "-z": r"[yoin3]",
    "--big-endian": r"[yno]",
    "--ignore_trigger_times": None,
    "--terse": None,
    **{f"-{level}": None for level in range(1, 10)},
}
_REFUSED = {
    "-o": "the export chooses where each series is written (a staging folder, then moved in whole)",
    "-br": "the export chooses where each series is written (a staging folder, then moved in whole)",
    "-e": "the export matches and lays out NIfTI images only",
    "-r": "the export converts; it does not rename DICOM files",
    "-u": "the export converts; an up-to-date check writes nothing",
    "-g": "a defaults file would change every later dcm2niix run on this machine",
    "-h": "help only prints",
    "--version": "the version only prints",
    "--xml": "Slicer's output is not a BIDS sidecar",
    "--progress": "Slicer's progress output is not needed",
}
_DROPPED = {"-f": "file names come from the descriptions (the intermediate name is scan<scan ID>)"}


def parse_options(text: object) -> tuple[str, ...]:
    """The checked dcm2niix arguments of ``text`` (``-f`` and its value left out).

    :raises BidsConfigError: not a string, not splittable, or a flag or value dcm2niix's
        whitelist does not take (the message names it)
    """
    if not isinstance(text, str):
        raise BidsConfigError(f"dcm2niixOptions is a string of dcm2niix flags (e.g. '-m y -i y'), not {text!r}")
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise BidsConfigError(f"dcm2niixOptions {text!r} cannot be split into flags: {error}") from None
    checked: list[str] = []
    position = 0
    while position < len(words):
        flag = words[position]
        value = words[position + 1] if position + 1 < len(words) else None
        if flag in _DROPPED:
            _need_value(flag, value)
            logger.info("dcm2niixOptions: %s %s left out: %s", flag, value, _DROPPED[flag])
            position += 2
            continue
        if flag in _REFUSED:
            raise BidsConfigError(f"dcm2niixOptions: {flag} is refused: {_REFUSED[flag]}")
        if flag not in _ALLOWED:
            raise BidsConfigError(f"dcm2niixOptions: {flag!r} is not a dcm2niix option this export takes "
                                  f"({', '.join(sorted(_ALLOWED))})")
        kind = _ALLOWED[flag]
        if kind is None:
            checked.append(flag)
            position += 1
            continue
        _need_value(flag, value)
        assert value is not None  # for mypy: _need_value raised otherwise
        if not re.fullmatch(kind, value):
            raise BidsConfigError(f"dcm2niixOptions: {flag} takes {_describe(flag, kind)}, not {value!r}")
        checked += [flag, value]
        position += 2
    return tuple(checked)


def _need_value(flag: str, value: str | None) -> None:
    if value is None or (value.startswith("-") and flag != "-n"):
        raise BidsConfigError(f"dcm2niixOptions: {flag} needs a value")


def _describe(flag: str, kind: str) -> str:
    if flag == "-c":
        return "a comment of up to 24 characters"
    if flag == "-n":
        return "a series CRC number"
    return "one of " + "/".join(re.findall(r"[a-z0-9]", kind.strip("[]"))) if kind.startswith("[") else kind
