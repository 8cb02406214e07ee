"""The errors of a BIDS export, each an :class:`~xnat.exceptions.XNATValueError` or
:class:`~xnat.exceptions.XNATError`, so that the command line prints them as one line."""

from __future__ import annotations

from ..exceptions import XNATError, XNATValueError

__all__ = ["BidsConfigError", "BidsLabelError", "BidsTargetError", "BidsToolMissing", "DuplicateMatchError"]


class BidsConfigError(XNATValueError):
    """The configuration file is not a dcm2bids 3 configuration this export can follow."""


class BidsLabelError(XNATValueError):
    """An XNAT label cannot become a BIDS entity (no letters or digits, or two labels collide)."""


class BidsTargetError(XNATValueError):
    """The target folder holds something else than this project's BIDS export."""


class BidsToolMissing(XNATError):
    """A tool the export needs (dcm2niix) is not installed."""


class DuplicateMatchError(XNATValueError):
    """Two series match one description and the configuration asks for an error."""
