"""Creating objects on the server: ``classes.MrSessionData(parent=subject, label="MR1")``.

Order matters so that nothing is half-created:

1. the parent's type is checked against where the data type lives (a scan under an image
   session, a subject under a project, ...);
2. every field given is converted and checked against the schema, locally;
3. the server is asked whether the label (or ID) is taken, for that one label only
   (``GET <project>/experiments/<label>``), never by listing the whole project;
4. one ``PUT <container>/<label>?xsiType=<type>&req_format=qs&<type>/<field>=<value>...``.

A label that exists raises :class:`~xnat.exceptions.XNATObjectAlreadyExistsError`,
before any write. The new object joins the session's identity map and the parent's
listings are refreshed on their next use.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import XNATObjectAlreadyExistsError, XNATResponseError, XNATValueError

#: An :class:`~xnat.classes.base.XNATBaseObject`; named, not imported (base imports this module).
XNATObject = Any

__all__ = ["assign_fields", "container_for", "create_on_server", "kind_of"]

# Data types by where they live, most specific first; resolved through the class MRO.
_KINDS = (
    ("xnat:projectData", "project"),
    ("xnat:subjectData", "subject"),
    ("xnat:imageScanData", "scan"),
    ("xnat:reconstructedImageData", "reconstruction"),
    ("xnat:abstractResource", "resource"),
    ("xnat:subjectAssessorData", "experiment"),
    ("xnat:imageAssessorData", "assessor"),
    ("xnat:derivedData", "assessor"),
    ("xnat:experimentData", "experiment"),
)
# kind -> (collection segment, the parent kinds allowed, the field naming it)
_PLACES = {
    "project": ("projects", ("session",), "ID"),
    "subject": ("subjects", ("project",), "label"),
    "experiment": ("experiments", ("subject",), "label"),
    "assessor": ("assessors", ("experiment",), "label"),
    "scan": ("scans", ("experiment",), "ID"),
    "reconstruction": ("reconstructions", ("experiment",), "ID"),
    "resource": ("resources", ("project", "subject", "experiment", "assessor", "scan", "reconstruction"), "label"),
}


def kind_of(obj_or_class: Any) -> str | None:
    """``project``, ``subject``, ``experiment``, ``assessor``, ``scan``, ``reconstruction``,
    ``resource``, ``file`` or ``None``, from the xsi types of the class and its bases."""
    cls = obj_or_class if isinstance(obj_or_class, type) else type(obj_or_class)
    if getattr(cls, "__xsi_type__", "") == "xnat:fileData":
        return "file"
    types = {getattr(base, "__xsi_type__", None) for base in cls.__mro__}
    if "xnat:subjectAssessorData" in types and "xnat:imageAssessorData" not in types:
        return "experiment"
    for xsi_type, kind in _KINDS:
        if xsi_type in types:
            return kind
    return None


def _parent_kind(parent: Any) -> str:
    if hasattr(parent, "create_object") and hasattr(parent, "classes"):
        return "session"
    return kind_of(parent) or type(parent).__name__


def container_for(cls: type, parent: Any) -> tuple[str, str, str]:
    """``(container uri, kind, key field)`` for a new ``cls`` under ``parent``; checks the parent."""
    kind = kind_of(cls)
    if kind is None or kind not in _PLACES:
        raise XNATValueError(f"{cls.__name__} ({getattr(cls, '__xsi_type__', '?')}) cannot be created "
                             "with parent=: it is not a project, subject, experiment, scan, assessor, "
                             "reconstruction or resource")
    collection, allowed, key_field = _PLACES[kind]
    parent_kind = _parent_kind(parent)
    if kind == "scan" or kind == "reconstruction" or kind == "assessor":
        allowed_ok = parent_kind == "experiment" and _is_image_session(parent)
    else:
        allowed_ok = parent_kind in allowed
    if not allowed_ok:
        wanted = "an image session" if kind in ("scan", "reconstruction", "assessor") else " or ".join(allowed)
        raise XNATValueError(f"{cls.__name__} needs a parent that is {wanted}, not "
                             f"{type(parent).__name__}: {kind}s live under {wanted}s in XNAT")
    if parent_kind == "session":
        return "/data/projects", kind, key_field
    if getattr(parent, "_mode", None) != "bound":
        raise XNATValueError(f"the parent {parent!r} is not stored on the server; create it first")
    parent._session()
    if kind == "experiment":
        project = parent._get_field("project")
        return f"/data/projects/{project}/subjects/{parent.id}/experiments", kind, key_field
    return f"{parent.uri}/{collection}", kind, key_field


def _is_image_session(parent: Any) -> bool:
    return any(getattr(b, "__xsi_type__", None) == "xnat:imageSessionData" for b in type(parent).__mro__)


def create_on_server(obj: XNATObject, parent: Any, fields: dict[str, Any]) -> None:
    """Create ``obj`` under ``parent`` with ``fields`` (see the module docstring)."""
    from .listing import XNATListing

    if isinstance(parent, XNATListing):  # xnatpy accepts the listing the object goes in
        parent = parent.parent if parent.parent is not None else obj.xnat_session
    cls = type(obj)
    container, kind, key_field = container_for(cls, parent)
    session = parent if _parent_kind(parent) == "session" else parent._session()
    obj.xnat_session = session
    fields = dict(fields)
    key = fields.pop("id", None) if key_field == "ID" else fields.get("label")
    if key_field == "ID" and key is None:
        key = fields.pop("ID", None)
    if key is None or str(key) == "":
        name = "id" if key_field == "ID" else "label"
        raise XNATValueError(f"creating a {cls.__name__} needs {name}=... (its {name} in XNAT)")
    key = str(key)
    if "/" in key or key in (".", ".."):
        raise XNATValueError(f"{key!r} is not a valid {key_field} for a {cls.__name__}")
    # 2. every field checked locally (the object is still local, so nothing is sent).
    assign_fields(obj, fields)
    pending = dict(obj._datafields)
    if key_field == "ID":
        pending["ID"] = key
    # 3. is the key taken?
    _refuse_existing(session, cls, parent, kind, container, key)
    # 4. one PUT.
    query = {"xsiType": cls.__xsi_type__, "req_format": "qs"}
    query.update({f"{cls.__xsi_type__}/{name}": text for name, text in pending.items() if name != "label"})
    if "label" in pending:
        query[f"{cls.__xsi_type__}/label"] = pending["label"]
    try:
        response = session.put(f"{container}/{key}", query=query)
    except XNATResponseError as error:
        if error.status_code == 409:
            raise XNATObjectAlreadyExistsError(
                f"a {kind} {key!r} already exists in {container} (the server said: {error})") from None
        raise
    new_id = response.text.strip() or key
    ident = key if key_field == "ID" else new_id
    obj._uri = f"{container}/{ident}"
    obj._id = new_id if kind != "resource" else None
    obj._mode = "bound"
    obj._parent = parent if _parent_kind(parent) != "session" else None
    row = {name: str(text) for name, text in pending.items()}
    if kind != "resource":
        row.setdefault("ID", new_id)
    obj._row = row
    obj._datafields = {}
    register = getattr(session, "_register_new", None)
    if register is not None:
        register(obj, parent)


def assign_fields(obj: XNATObject, fields: dict[str, Any]) -> None:
    """Set each of ``fields`` on ``obj``; a name that cannot be set raises XNATValueError naming it."""
    for name, value in fields.items():
        try:
            setattr(obj, name, value)
        except AttributeError as error:  # a read-only name: a listing, a computed value
            raise XNATValueError(f"{type(obj).__name__}.{name} cannot be given a value ({error}): it is read "
                                 "from the server; create or change what it lists once the object exists") from None


def _refuse_existing(session: Any, cls: type, parent: Any, kind: str, container: str, key: str) -> None:
    """XNATObjectAlreadyExistsError when ``key`` is taken; one request for that key only."""
    if kind == "experiment" or kind == "assessor":
        project = parent._get_field("project") if kind == "experiment" else None
        probe = f"/data/projects/{project}/experiments/{key}" if project else f"{container}/{key}"
    elif kind == "resource":
        # A resource item GET answers with its catalog (not JSON) on real servers: look for
        # the label in the parent's (short) resource listing instead.
        rows = session.get_json(container, query={"columns": "label"})["ResultSet"]["Result"]
        if any(row.get("label") == key for row in rows):
            raise XNATObjectAlreadyExistsError(
                f"a resource labelled {key!r} already exists in {container}: use it, or choose another label")
        return
    else:
        probe = f"{container}/{key}"
    response = session.get(probe, format="json", accepted_status=[200, 404, 403])
    if response.status_code == 200:
        raise XNATObjectAlreadyExistsError(
            f"a {kind} named {key!r} already exists at {probe}: choose another "
            f"{'ID' if kind in ('project', 'scan', 'reconstruction') else 'label'}, or use the existing one"
        )
