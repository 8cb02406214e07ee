"""Site-level routes: build info, site configuration, version, and the schema files the server publishes."""

from __future__ import annotations

import json
import time

from werkzeug.wrappers import Response

from ..intervals import interval_text, seconds_of
from .base import Ctx, HTTPError, forbidden, json_response, text

# Site configuration properties a client may set (``POST /xapi/siteConfig``); the others are
# the server's own and read only. XNAT's SiteConfigPreferences (its /xapi/siteConfig map).
SETTABLE = {"adminEmail", "siteDescriptionType", "siteDescriptionText", "siteLoginLanding", "siteHome",
            "requireLogin", "enableCsrfToken", "sessionTimeout"}


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


def _site_config(ctx: Ctx) -> dict[str, object]:
    app = ctx.app
    return {"siteId": app.site_id, "siteUrl": app.site_url, "initialized": True,
            "requireLogin": not app.allow_anonymous, "adminEmail": "", "enableCsrfToken": True,
            "sessionTimeout": interval_text(app.auth.session_timeout),
            **ctx.backend.settings.all(), "inboxPath": str(app.data_dir / "inbox")}


def _store(ctx: Ctx, values: dict[str, object]) -> None:
    """Keep site properties; ``sessionTimeout`` is checked first (nothing is kept when it is not a
    duration) and applies to sessions from their next request on, as Tomcat's idle timeout does."""
    timeout = None
    if "sessionTimeout" in values:
        try:
            timeout = seconds_of(values["sessionTimeout"])
        except ValueError as error:
            raise HTTPError(400, f"sessionTimeout: {error}") from None
    ctx.backend.settings.set({k: v if isinstance(v, (bool, int)) else str(v) for k, v in values.items()})
    if timeout is not None:
        ctx.app.auth.session_timeout = timeout


def site_config(ctx: Ctx) -> Response:
    """``GET /xapi/siteConfig``: the site's properties (signed-in users); ``POST`` a JSON map
    of properties to set (admins), as XNAT's SiteConfigApi. Settings are kept in the store, so a
    restart on the same data folder reads them back (XNAT keeps its preferences in its database)."""
    if ctx.method == "GET":
        ctx.require_login()
        return json_response(_site_config(ctx))
    if ctx.method != "POST":
        raise HTTPError(405, "Method Not Allowed")
    if not ctx.backend.access.manages_site(ctx.user):
        raise forbidden()
    try:
        data = json.loads(ctx.request.get_data(cache=True) or b"null")
    except ValueError:
        raise HTTPError(400, "The site configuration must be sent as a JSON object") from None
    if not isinstance(data, dict):
        raise HTTPError(400, "The site configuration must be sent as a JSON object")
    unknown = sorted(set(data) - SETTABLE)
    if unknown:
        raise HTTPError(400, f"Not a settable site property: {', '.join(unknown)}")
    _store(ctx, data)
    return text("")


def site_config_property(ctx: Ctx, prop: str) -> Response:
    """``GET /xapi/siteConfig/{property}`` (its value as text); ``POST|PUT`` sets it (admins)."""
    if ctx.method in ("POST", "PUT"):
        if not ctx.backend.access.manages_site(ctx.user):
            raise forbidden()
        if prop not in SETTABLE:
            raise HTTPError(400, f"Not a settable site property: {prop}")
        _store(ctx, {prop: ctx.request.get_data(as_text=True).strip().strip('"')})
        return text("")
    if ctx.method != "GET":
        raise HTTPError(405, "Method Not Allowed")
    ctx.require_login()
    config = _site_config(ctx)
    if prop not in config:
        raise HTTPError(404, f"No site property named {prop}")
    value = config[prop]
    return text("true" if value is True else "false" if value is False else str(value))
