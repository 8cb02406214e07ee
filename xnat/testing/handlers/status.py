"""An experiment's status: ``GET .../experiments/E/status`` and the status a write sets.

XNAT keeps a status in each experiment's meta data (``active``, ``quarantine``, ``locked``,
``obsolete``). Sources, all in ``NrgXnat/xnat-web``:

* ``ExperimentResource.represent``: the path ``.../status`` answers ``SecureResource.returnStatus``:
  the text ``quarantine`` when the item needs activation (any status but active), else ``active``.
* ``SecureResource.postSaveManageStatus``, run after a PUT saved the experiment: ``activate=true``,
  then ``quarantine=true``, then one of ``_lock``, ``_unlock`` (back to active), ``_obsolete``;
  each needs ``Permissions.canActivate`` (see ``backend/access.py``). xnatpy 0.8.1 sends
  ``PUT <experiment>?activate=true`` and ``?quarantine=true`` and reads ``GET <experiment>/status``.
* ``ExperimentResource.handlePut`` and ``PrearcSessionArchiver``: a project whose quarantine code
  is 1 quarantines what is saved or archived into it; the archiver also takes ``quarantine=true``.

XNAT answers 403 for a refused flag after the save went through; here the refusal comes first
and nothing is saved (a bad request loses nothing and changes nothing).
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from ..backend.archive import status_of
from .base import Ctx, HTTPError, forbidden, text
from .lookup import Node

# postSaveManageStatus's flags in the order it applies them; the last three exclude each other.
_FLAGS = (("activate", "active"), ("quarantine", "quarantine"))
_EXCLUSIVE = (("_lock", "locked"), ("_unlock", "active"), ("_obsolete", "obsolete"))
#: query keys of a write that set a status (never item fields)
STATUS_FLAGS = frozenset(flag for flag, _ in _FLAGS + _EXCLUSIVE)
REFUSED = "Specified user account has insufficient activation privileges for experiments in this project."


def status(ctx: Ctx, node: Node) -> Response:
    """``GET .../experiments/E/status`` (and an assessor's): ``active`` or ``quarantine``."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    return text("active" if status_of(node.row) == "active" else "quarantine")


def requested(ctx: Ctx, owner_project: str, url_project: str) -> str | None:
    """The status a write of an experiment leaves it in, or None to keep the one it has.

    ``owner_project`` decides who may set a status (403 before anything is saved);
    ``url_project`` is the project the write goes through, whose quarantine code counts.
    """
    chosen = [s for flag, s in _FLAGS if ctx.flag(flag)]
    chosen += [s for flag, s in _EXCLUSIVE if ctx.flag(flag)][:1]
    if chosen and not ctx.backend.access.can_activate(ctx.user, owner_project):
        raise forbidden(REFUSED)
    if ctx.backend.projects.setting(url_project, "quarantine_code") == "1":
        chosen.insert(0, "quarantine")
    return chosen[-1] if chosen else None


def on_archive(ctx: Ctx, project: str) -> str | None:
    """The status a session archived into ``project`` starts in: ``quarantine`` when the request
    asks for it (``quarantine=true``) or the project's quarantine code is 1, else None (active)."""
    if ctx.flag("quarantine") or ctx.backend.projects.setting(project, "quarantine_code") == "1":
        return "quarantine"
    return None
