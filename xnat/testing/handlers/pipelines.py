"""What XNAT's pipeline engine answers, for a server that runs no pipelines.

* ``GET /data/projects/P/archive_spec``: the project's archive specification (``arc:project``,
  XNAT's ``ProjectArchive`` resource, read access): its ID, current archive folder, prearchive
  and quarantine codes, and the paths its data go to; no pipelines.
* ``GET /data/services/workflows/{pipeline}`` (``WorkflowsRestlet``): the workflows a pipeline
  ran, an empty table here. As XNAT: without a pipeline name the query it builds fails (404);
  with ``experiment=`` and the default ``display=LATEST`` there is no latest entry (404), and
  ``display=ALL`` answers the (empty) table. An experiment the user may not read is treated as
  one that does not exist, so the answer says nothing about it.
* ``GET /data/workflows`` and ``/data/workflows/{id}`` (``WorkflowResource``): no workflow is
  recorded, so the listing is empty and an item is 404; this server does not record the
  workflows a client PUTs (405 with the reason).
"""

from __future__ import annotations

from xml.etree import ElementTree

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError
from .listing import table
from .lookup import find_experiment, project_node, readable_rows
from .projects import SETTINGS

ARC = "http://nrg.wustl.edu/arc"
#: The columns of WorkflowsRestlet's table (its SQL's select list).
WORKFLOW_COLUMNS = ["label", "id", "externalid", "pipeline_name", "launch_time", "jobid", "status",
                    "current_step_launch_time", "current_step_id"]
#: The columns of a wrk:workflowData item search (display=ALL for one experiment).
WORKFLOW_ITEM_COLUMNS = ["wrk_workflowData_id", "ID", "ExternalID", "data_type", "pipeline_name", "launch_time",
                         "status", "current_step_id", "step_description", "percentageComplete"]


def archive_spec(ctx: Ctx, project: str) -> Response:
    """``GET /data/projects/P/archive_spec``: the project's ``arc:project`` document."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    node = project_node(ctx, project)  # 404 for a project the user cannot see, 403 when it cannot read it
    ElementTree.register_namespace("arc", ARC)
    root = ElementTree.Element(f"{{{ARC}}}project", {"id": node.key})
    for name, (default, _) in SETTINGS.items():
        stored = ctx.backend.projects.setting(node.key, name)
        root.set(name, stored if stored is not None else default)
    paths = ElementTree.SubElement(root, f"{{{ARC}}}paths")
    for element, folder in (("archivePath", ctx.app.files.root), ("prearchivePath", ctx.app.data_dir / "prearchive")):
        ElementTree.SubElement(paths, f"{{{ARC}}}{element}").text = f"{folder / node.key}/"
    body = ElementTree.tostring(root, encoding="unicode", xml_declaration=True)
    return Response(body, status=200, mimetype="text/xml")


def workflows(ctx: Ctx, pipeline: str | None = None) -> Response:
    """``GET /data/services/workflows[/{pipeline}]``: see the module docstring."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "Method Not Allowed")
    if not pipeline:
        raise HTTPError(404, "Unable to find workflow entry with pipeline_name null")
    experiment = _readable_experiment(ctx)
    if experiment is None:
        status = ctx.param("status")
        return table(ctx, [], WORKFLOW_COLUMNS, f"All {status} workflows", always=())
    if (ctx.param("display") or "LATEST").upper() == "LATEST":
        raise HTTPError(404, f"Unable to find workflow entry for pipeline {pipeline} and experiment.{experiment}")
    return table(ctx, [], WORKFLOW_ITEM_COLUMNS, "All workflows", always=())


def _readable_experiment(ctx: Ctx) -> str | None:
    """The ID of the ``experiment=`` (an ID, or a label in ``project=``) when the user may read it."""
    key = ctx.param("experiment")
    if not key:
        return None
    row = find_experiment(ctx, key, None) or (find_experiment(ctx, key, ctx.param("project"))
                                                if ctx.param("project") else None)
    if row is None or not readable_rows(ctx, "experiment", [row]):
        return None
    return str(row["id"])


def recorded_workflows(ctx: Ctx, workflow: str | None = None) -> Response:
    """``/data/workflows[/{id}]``: nothing recorded (see the module docstring)."""
    if ctx.method not in ("GET", "HEAD"):
        raise HTTPError(405, "This server records no workflows: a workflow cannot be stored here")
    if workflow is not None:
        raise HTTPError(404, f"No workflow {workflow}")
    return table(ctx, [], WORKFLOW_ITEM_COLUMNS, "Workflows", always=())
