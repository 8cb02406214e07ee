"""BIDS: an XNAT project exported as a BIDS dataset, and derivatives put back (the ``xnat[bids]`` extra).

DICOM is converted by dcm2niix (the ``dcm2niix`` package ships it); which series go where
is said in dcm2bids 3's configuration format, matched here rather than by running
dcm2bids, so that each file stays linked to its XNAT scan, a session is moved into the
dataset in whole, NIfTI already on the server can stand in for a conversion, and the work
runs per session on the executors of ``map`` (``docs/howto/bids.rst`` says more).

======================================  ==================================================
module                                  what it holds
======================================  ==================================================
:mod:`xnat.bids.config`                 dcm2bids 3 configuration: read, checked, matched against sidecars
:mod:`xnat.bids.options`                ``dcm2niixOptions`` split and checked against dcm2niix's flags
:mod:`xnat.bids.entities`               labels sanitised into ``sub-``/``ses-``; BIDS names from entities
:mod:`xnat.bids.convert`                dcm2niix found and run on one series
:mod:`xnat.bids.plan`                   a session's series matched to descriptions; ``run-`` or an error for duplicates
:mod:`xnat.bids.participants`           ``participants.tsv`` in BIDS' names (sex, age, handedness) and its sidecar
:mod:`xnat.bids.layout`                 the target checked; dataset-level files; a session moved in whole
:mod:`xnat.bids.state`                  per-session records and digests: the incremental state
:mod:`xnat.bids.mapping`                ``code/xnat/mapping.tsv``: every file linked to its XNAT IDs
:mod:`xnat.bids.worker`                 one session exported, on a worker
:mod:`xnat.bids.export`                 ``export_bids``: the walk, the executors, the report
:mod:`xnat.bids.derivatives`            ``upload_derivatives``: a derivatives folder back as XNAT resources
:mod:`xnat.bids.behaviour`              ``export_bids`` on projects, subjects and image sessions
:mod:`xnat.bids.errors`                 the errors of this package
======================================  ==================================================

It sits at the services layer: it uses the object, transfer and services layers, and only
the command line imports it (generated classes get :mod:`xnat.bids.behaviour` through the
registry's list of behaviour modules).
"""

from typing import TYPE_CHECKING, Any

from .errors import BidsConfigError, BidsLabelError, BidsTargetError, BidsToolMissing, DuplicateMatchError

if TYPE_CHECKING:
    from .config import Config, Description, load_config

# Every session imports this package (its behaviour module is registered with the classes):
# the configuration reader is loaded when first named, not at connect.
_LAZY = {"Config", "Description", "load_config"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "BidsConfigError",
    "BidsLabelError",
    "BidsTargetError",
    "BidsToolMissing",
    "Config",
    "Description",
    "DuplicateMatchError",
    "load_config",
]
