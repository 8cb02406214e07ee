"""Site-level routes: build info, version, and the schema files the server publishes."""

from __future__ import annotations

import time

from werkzeug.wrappers import Response

from .base import Ctx, HTTPError, json_response, text


def build_info(ctx: Ctx) -> Response:
    """``GET /xapi/siteConfig/buildInfo``: a JSON map of strings (xnatpy reads ``version``)."""
    return json_response(_build(ctx))


def _build(ctx: Ctx) -> dict[str, str]:
    app = ctx.app
    return {
        "version": app.version,
        "buildNumber": "1",
        "buildDate": "Thu Jan 01 00:00:00 UTC 2026",
        "commit": "xnat-emulator",
        "sha": "0000000",
        "Implementation-Version": app.version,
        "Application-Name": "XNAT",
    }


def build_info_property(ctx: Ctx, prop: str) -> Response:
    """``GET /xapi/siteConfig/buildInfo/{property}``: one value as text."""
    info = _build(ctx)
    if prop not in info:
        raise HTTPError(404, f"No build property named {prop}")
    return text(info[prop])


def uptime(ctx: Ctx) -> Response:
    """``GET /xapi/siteConfig/uptime``."""
    seconds = int(time.time() - ctx.app.started)
    return json_response({"seconds": seconds % 60, "minutes": seconds // 60 % 60,
                          "hours": seconds // 3600 % 24, "days": seconds // 86400})


def version(ctx: Ctx) -> Response:
    """``GET /data/version``: not routed on 1.7+ servers, so 404 (clients then ask buildInfo)."""
    raise HTTPError(404, "Not Found")


def schema_list(ctx: Ctx) -> Response:
    """``GET /xapi/schemas``: the schema entries (``xnat``, ``xdat/display``, ...)."""
    return json_response(list(ctx.app.datatypes.schema_entries))


def datatype_list(ctx: Ctx) -> Response:
    """``GET /xapi/schemas/datatypes``: every element type the server knows."""
    return json_response(sorted(ctx.app.datatypes.datatypes()))


def schema_entry(ctx: Ctx, entry: str) -> Response:
    """``GET /xapi/schemas/{entry}`` and ``/xapi/schemas/{dir}/{name}``: the XSD document."""
    path = ctx.app.datatypes.schema_file(entry.removesuffix(".xsd"))
    if path is None:
        raise HTTPError(404, f"No schema named {entry}")
    return Response(path.read_bytes(), mimetype="application/xml")


def schema_file(ctx: Ctx, relpath: str) -> Response:
    """``GET /schemas/xnat/xnat.xsd`` (1.6 style) and ``/schemas/xnat.xsd`` (item XML links)."""
    path = ctx.app.datatypes.find_schema_file(relpath)
    if path is None:
        raise HTTPError(404, f"No schema file {relpath}")
    return Response(path.read_bytes(), mimetype="application/xml")
