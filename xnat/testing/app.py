"""``XNATApp``: the WSGI application of the embedded XNAT server.

It authenticates each request the way XNAT's guard does, folds the URL aliases
(``/REST`` = ``/data``, ``/data/archive/X`` = ``/data/X``), routes to the handler
modules in :mod:`xnat.testing.handlers`, and turns errors into XNAT's short
plain-text answers with the real status codes.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from . import csrf
from .auth import GUEST, Auth, User
from .backend import Backend
from .backend.populate import Populated
from .backend.populate import populate as _populate
from .handlers import (
    archive,
    config,
    importer,
    inbox,
    pipelines,
    prearchive,
    projects,
    search,
    search_run,
    search_saved,
    services,
    session,
    site,
    user_cache,
    users,
)
from .handlers.base import Ctx, HTTPError
from .handlers.deps import DataTypes, ExtractLimits, FileStore, is_disk_full
from .intervals import seconds_of
from .store import Store

logger = logging.getLogger(__name__)

__all__ = ["XNATApp"]

# Routes outside the archive hierarchy. The archive is walked segment by segment by
# handlers.archive because its shape (any level may hold resources/files) is recursive.
_URL_MAP = Map([
    Rule("/xapi/siteConfig/buildInfo", endpoint=site.build_info),
    Rule("/xapi/siteConfig/buildInfo/<prop>", endpoint=site.build_info_property),
    Rule("/xapi/siteConfig/uptime", endpoint=site.uptime),
    Rule("/xapi/siteConfig", endpoint=site.site_config),
    Rule("/xapi/siteConfig/<prop>", endpoint=site.site_config_property),
    Rule("/login", endpoint=session.form_login),
    Rule("/xapi/schemas", endpoint=site.schema_list),
    Rule("/xapi/schemas/datatypes", endpoint=site.datatype_list),
    Rule("/xapi/schemas/<path:entry>", endpoint=site.schema_entry),
    Rule("/schemas/<path:relpath>", endpoint=site.schema_file),
    Rule("/data/version", endpoint=site.version),
    Rule("/data/JSESSION", endpoint=session.jsession),
    Rule("/data/auth", endpoint=session.whoami),
    Rule("/data/services/auth", endpoint=session.services_auth),
    Rule("/data/services/tokens/issue", endpoint=session.token_issue),
    Rule("/data/services/tokens/issue/user/<login>", endpoint=session.token_issue_for),
    Rule("/data/services/tokens/validate/<alias>/<secret>", endpoint=session.token_validate),
    Rule("/data/services/tokens/invalidate/<alias>/<secret>", endpoint=session.token_invalidate),
    Rule("/data/users", endpoint=users.user_list),
    Rule("/data/search/elements", endpoint=search.elements),
    Rule("/data/search/elements/<element>", endpoint=search.element_fields),
    Rule("/data/search/saved", endpoint=search_saved.saved_list),
    Rule("/data/search/saved/<search_id>", endpoint=search_saved.saved_one),
    Rule("/data/search/saved/<search_id>/results", endpoint=search_saved.saved_results),
    Rule("/xapi/users", endpoint=users.xapi_user_list),
    Rule("/xapi/users/profiles", endpoint=users.xapi_profiles),
    Rule("/xapi/users/profile", endpoint=users.xapi_profile),
    Rule("/xapi/users/profile/<login>", endpoint=users.xapi_profile),
    Rule("/xapi/users/username", endpoint=users.xapi_username),
    Rule("/xapi/users/update", endpoint=users.xapi_user_update_own),
    Rule("/xapi/users/roles", endpoint=users.xapi_roles),
    Rule("/xapi/users/rolemap", endpoint=users.xapi_roles),
    Rule("/xapi/users/<login>", endpoint=users.xapi_user),
    Rule("/xapi/users/<login>/enabled", endpoint=users.xapi_user_enabled),
    Rule("/xapi/users/<login>/enabled/<flag>", endpoint=users.xapi_user_enabled),
    Rule("/xapi/users/<login>/verified", endpoint=users.xapi_user_verified),
    Rule("/xapi/users/<login>/verified/<flag>", endpoint=users.xapi_user_verified),
    Rule("/xapi/users/<login>/roles", endpoint=users.xapi_user_roles),
    Rule("/xapi/users/<login>/groups", endpoint=users.xapi_user_groups),
    Rule("/data/projects", endpoint=projects.collection),
    Rule("/data/projects/<project>", endpoint=projects.item),
    Rule("/data/projects/<project>/accessibility", endpoint=projects.accessibility),
    Rule("/data/projects/<project>/accessibility/<value>", endpoint=projects.accessibility),
    Rule("/data/projects/<project>/users", endpoint=projects.user_roles),
    Rule("/data/projects/<project>/pipelines", endpoint=projects.pipelines),
    Rule("/data/projects/<project>/archive_spec", endpoint=pipelines.archive_spec),
    Rule("/data/projects/<project>/config", endpoint=config.project_config),
    Rule("/data/projects/<project>/config/<tool>", endpoint=config.project_config),
    Rule("/data/projects/<project>/config/<tool>/<path:path>", endpoint=config.project_config),
    Rule("/data/config", endpoint=config.site_config),
    Rule("/data/config/<tool>", endpoint=config.site_config),
    Rule("/data/config/<tool>/<path:path>", endpoint=config.site_config),
    Rule("/data/projects/<project>/<any(prearchive_code,quarantine_code,current_arc):name>",
         endpoint=projects.setting),
    Rule("/data/projects/<project>/<any(prearchive_code,quarantine_code,current_arc):name>/<value>",
         endpoint=projects.setting),
    Rule("/data/projects/<project>/users/<group>/<login>", endpoint=projects.user_role),
    Rule("/data/projects/<project>/<path:rest>", endpoint=archive.under_project),
    Rule("/data/subjects", endpoint=archive.global_subjects),
    Rule("/data/subjects/<path:rest>", endpoint=archive.under_subjects),
    Rule("/data/experiments", endpoint=archive.global_experiments),
    Rule("/data/experiments/<path:rest>", endpoint=archive.under_experiments),
    # services: import, archive, prearchive operations, DICOM dump, catalog refresh
    Rule("/data/services/import", endpoint=importer.import_),
    Rule("/data/services/archive", endpoint=services.archive),
    Rule("/data/services/prearchive/move", endpoint=services.move),
    Rule("/data/services/prearchive/delete", endpoint=services.delete),
    Rule("/data/services/prearchive/rebuild", endpoint=services.rebuild),
    Rule("/data/services/dicomdump", endpoint=services.dicomdump),
    Rule("/data/services/refresh/catalog", endpoint=services.refresh_catalog),
    Rule("/data/services/workflows", endpoint=pipelines.workflows),
    Rule("/data/services/workflows/<pipeline>", endpoint=pipelines.workflows),
    Rule("/data/workflows", endpoint=pipelines.recorded_workflows),
    Rule("/data/workflows/<workflow>", endpoint=pipelines.recorded_workflows),
    Rule("/data/prearchive", endpoint=prearchive.root),
    Rule("/data/prearchive/projects", endpoint=prearchive.root),
    Rule("/data/prearchive/projects/<project>", endpoint=prearchive.project_sessions),
    Rule("/data/prearchive/projects/<project>/<timestamp>/<folder>", endpoint=prearchive.session_item),
    Rule("/data/prearchive/projects/<project>/<timestamp>/<folder>/<path:rest>", endpoint=prearchive.session_below),
    Rule("/data/scanners", endpoint=services.scanners),  # /data/archive/scanners, folded
    Rule("/data/scan_types", endpoint=services.scan_types),
    Rule("/data/user/cache/resources", endpoint=user_cache.resources),
    Rule("/data/user/cache/resources/<xname>", endpoint=user_cache.resource),
    Rule("/data/user/cache/resources/<xname>/files", endpoint=user_cache.resource),
    Rule("/data/user/cache/resources/<xname>/files/<path:path>", endpoint=user_cache.resource),
    Rule("/data/search", endpoint=search_run.search),
    Rule("/data/search/<search_id>", endpoint=search_saved.cached),
    Rule("/xapi/dicom/<request_id>", endpoint=inbox.request),
    Rule("/xapi/plugins", endpoint=services.plugins),
    Rule("/xapi/plugins/<plugin_id>", endpoint=services.plugin),
], strict_slashes=False, merge_slashes=False)


# Routes a client may call before it has a session (they check credentials themselves).
_OPEN = {session.services_auth, session.form_login}


def normalise_path(path: str) -> str:
    """Fold ``/REST`` onto ``/data`` and ``/data/archive/X`` onto ``/data/X``."""
    if path == "/REST" or path.startswith("/REST/"):
        path = "/data" + path[5:]
    if path.startswith("/data/archive/"):
        path = "/data/" + path[len("/data/archive/"):]
    if len(path) > 1:
        path = path.rstrip("/")
    return path


def parse_user(entry: str) -> tuple[str, str, bool]:
    """``"login:password"`` or ``"login:password:admin"`` -> (login, password, admin).

    The password may itself contain ``:``; only a final ``:admin`` is a flag.
    """
    login, sep, rest = entry.partition(":")
    if not sep or not login:
        raise ValueError(f"user {entry!r} must look like NAME:PASSWORD[:admin]")
    password, sep, flag = rest.rpartition(":")
    if sep and flag.lower() == "admin":
        return login, password, True
    return login, rest, False


class XNATApp:
    """The embedded XNAT server as a WSGI application.

    :param data_dir: folder holding ``xnat.db`` and the ``archive`` tree; persists across
        restarts. None: a temporary folder removed by :meth:`close`.
    :param schemas_dir: schema set to serve (None: the compact default set).
    :param users: ``"login:password"`` or ``"login:password:admin"`` entries created at start.
    :param allow_anonymous: let requests without credentials in as the guest user.
    :param site_id: prefix of server-made IDs (``XNAT_S00001``, ``XNAT_E00001``).
    :param version: what ``/xapi/siteConfig/buildInfo`` reports.
    :param session_timeout: seconds of inactivity before a JSESSIONID expires.
    :param site_url: the site URL written in item XML ``xsi:schemaLocation``.
    :param durable: fsync every uploaded file before it is catalogued. Off by default: a
        test server trades crash-safety for speed (writes stay atomic either way).
    :param extract_max_ratio: an archive uploaded with ``extract=true`` may expand to this
        many times its own size (but always to 16 MiB) ...
    :param extract_max_bytes: ... and never past this many bytes ...
    :param extract_max_files: ... nor hold more files than this; past any bound it is
        refused with 413 before anything is unpacked.
    :param search_timeout: seconds a search may run before it is stopped with 503.
    :param max_sessions_per_user: live sessions one login (the guest included) may hold;
        past it the least recently used one ends (see :class:`~xnat.testing.auth.Auth`).
    """

    def __init__(self, data_dir: str | Path | None = None, schemas_dir: str | Path | None = None,
                 users: Iterable[str] = ("admin:admin:admin",), allow_anonymous: bool = False,
                 site_id: str = "XNAT", version: str = "1.8.10", session_timeout: float = 900.0,
                 site_url: str = "http://localhost", durable: bool = False,
                 extract_max_ratio: float = ExtractLimits.max_ratio,
                 extract_max_bytes: int = ExtractLimits.max_bytes,
                 extract_max_files: int = ExtractLimits.max_files,
                 search_timeout: float = 60.0, max_sessions_per_user: int = 1000) -> None:
        self._tmp = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="xnat-app-")) if data_dir is None else Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir / "xnat.db")
        self.auth = Auth(self.store, session_timeout, max_sessions_per_user)
        #: every SQL statement and access decision of the handlers (see :mod:`xnat.testing.backend`)
        self.backend = Backend(self.store, site_id)
        stored_timeout = self.backend.settings.all().get("sessionTimeout")  # set through /xapi/siteConfig
        if stored_timeout is not None:
            self.auth.session_timeout = seconds_of(stored_timeout)
        limits = ExtractLimits(max_ratio=extract_max_ratio, max_bytes=extract_max_bytes,
                               max_files=extract_max_files)
        self.files = FileStore(self.data_dir / "archive", durable=durable, limits=limits)
        self.files.sweep_temp()  # what a crash left mid-upload; nothing uploads yet
        #: each user's upload space (/data/user/cache/resources), beside the archive
        self.user_cache = FileStore(self.data_dir / "user-cache", durable=durable, limits=limits)
        self.user_cache.sweep_temp()
        #: seconds a search may run (``POST /data/search``) before it answers 503
        self.search_timeout = float(search_timeout)
        self.datatypes = DataTypes.load(Path(schemas_dir) if schemas_dir is not None else None)
        self.allow_anonymous = allow_anonymous
        self.site_id = site_id
        self.version = version
        self.site_url = site_url.rstrip("/")
        self.started = time.time()
        for entry in users:
            login, password, admin = parse_user(entry)
            # XNAT's built-in administrator account is named "Admin Admin" (issue 15 item 9)
            names = {"firstname": "Admin", "lastname": "Admin"} if login == "admin" and admin else {}
            self.add_user(login, password, admin=admin, **names)

    # -- public API --------------------------------------------------------------------
    @property
    def session_timeout(self) -> float:
        """Seconds of inactivity before a session expires."""
        return self.auth.session_timeout

    def add_user(self, login: str, password: str, admin: bool = False, **fields: Any) -> None:
        """Create or replace a user (``firstname``, ``lastname``, ``email``, ``enabled``)."""
        self.auth.add_user(login, password, admin=admin, **fields)

    def add_token(self, login: str) -> tuple[str, str]:
        """Issue an alias token for ``login``; returns ``(alias, secret)``."""
        token = self.auth.issue_token(login)
        return str(token["alias"]), str(token["secret"])

    def set_project_access(self, project: str, login: str, role: str | None) -> None:
        """Give ``login`` a role (owner/member/collaborator) in ``project``; None removes it."""
        projects.set_role(self, project, login, role)

    def canonical_type(self, name: str) -> str:
        """The schema's spelling of an xsi type named in any case (``xnat:mrsessiondata``)."""
        return self.datatypes.canonical(name) or name

    def populate(self, spec: str | dict[str, int]) -> Populated:
        """Bulk-create data: ``"projects=1,subjects=200,experiments=100"`` (per parent); ``files=N``
        gives the first N sessions scans with DICOM files. Returns where those files came from, and which
        sessions hold them."""
        return _populate(self.store, self.backend.archive, spec, self.backend.resources, self.files)

    def __enter__(self) -> XNATApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; remove the data folder if it was a temporary one."""
        self.store.close()
        if self._tmp:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- WSGI --------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            # A body left unread (a refusal before the upload) is the HTTP handler's to read or
            # close on (xnat.testing.httpserve): after the answer, so the client gets it at once.
            response = self.handle(request)
        finally:
            self.store.release()  # bodies stream from disk, never from the database
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Authenticate, route and run one request.

        A delete refused for a full disk (507) runs once more after the store gives up
        its reserve: deleting is how space comes back, and its catalogue write needs a
        little room. The first run rolled back, so the second starts clean.
        """
        response = self._handle_once(request)
        if request.method != "DELETE":
            return response
        if response.status_code == 507 and self.store.free_reserve():
            response = self._handle_once(request)
        if response.status_code < 400:
            self.store.lay_reserve()  # put back once a delete made room (a stat when it is there)
        return response

    def _handle_once(self, request: Request) -> Response:
        new_session: str | None = None
        sid: str | None = None
        try:
            path = normalise_path(request.path)
            adapter = _URL_MAP.bind("localhost", path_info=path)
            try:
                endpoint, args = adapter.match(path, method=request.method)
            except HTTPException:
                endpoint, args = None, {}
            if endpoint in _OPEN:
                user = User(GUEST)
            else:  # the guard runs before routing: unknown URLs need credentials too
                user, sid, new_session = self._authenticate(request)
            if endpoint is None:
                raise HTTPError(404, "Not Found")
            params = self._params(request)
            self._check_csrf(request, params, sid if new_session is None else None)
            ctx = Ctx(self, request, user, path, params, session_id=new_session or sid)
            response: Response = endpoint(ctx, **args)
            new_session = ctx.new_session or new_session
            if ctx.ended_session:
                new_session = sid = None
        except HTTPError as err:
            response = Response(err.reason, status=err.status, mimetype="text/plain", headers=err.headers)
        except ClientDisconnected:
            response = Response("Incomplete request body", status=400, mimetype="text/plain")
        except (OSError, sqlite3.OperationalError) as exc:
            response = self._storage_error(request, exc)
        except HTTPException as exc:  # raised by werkzeug helpers (e.g. 416 from send_file)
            response = Response(exc.description or exc.name, status=exc.code or 400, mimetype="text/plain",
                                headers=[h for h in exc.get_headers() if h[0].lower() != "content-type"])
        except Exception:  # a bug: answer 500 like Tomcat, but never crash the server
            logger.exception("error handling %s %s", request.method, request.path)
            response = Response("Internal Server Error", status=500, mimetype="text/plain")
        self._session_cookies(response, new_session or sid)
        return response

    # -- helpers -----------------------------------------------------------------------
    @staticmethod
    def _storage_error(request: Request, exc: Exception) -> Response:
        """507 for a full disk, 400 for a name the file system refuses, else a logged 500."""
        if is_disk_full(exc) or (isinstance(exc, sqlite3.OperationalError) and "full" in str(exc)):
            logger.warning("disk full handling %s %s: %s", request.method, request.path, exc)
            return Response("Insufficient Storage: the server's disk is full; nothing was stored",
                            status=507, mimetype="text/plain")
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
            return Response("File name or path too long", status=400, mimetype="text/plain")
        logger.exception("error handling %s %s", request.method, request.path)
        return Response("Internal Server Error", status=500, mimetype="text/plain")

    def _check_csrf(self, request: Request, params: MultiDict[str, str], riding: str | None) -> None:
        """403 for a browser's write that rides session ``riding`` without its CSRF token
        (see :mod:`xnat.testing.csrf`; the site setting is read only for such a write)."""
        if not csrf.needs_token(request, riding is not None, enabled=True):
            return
        if self.backend.settings.all().get("enableCsrfToken", True) in (False, "false"):
            return
        assert riding is not None  # needs_token asked for a session
        if not csrf.token_ok(params.get("XNAT_CSRF"), self.auth.csrf_token(riding)):
            raise HTTPError(403, "Invalid submit value: a write from a browser session must carry the session's"
                                 " XNAT_CSRF token (GET /data/JSESSION?CSRF=true)")

    def _authenticate(self, request: Request) -> tuple[User, str | None, str | None]:
        """(user, existing session id, new session id) or 401, in XNAT's guard order."""
        sid = request.cookies.get("JSESSIONID")
        if sid:
            user = self.auth.session_user(sid)
            if user is not None:
                return user, sid, None
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            user = self.auth.check_password(auth.username or "", auth.password or "")
            if user is None:
                raise HTTPError(401, "Login attempt failed. Please try again.",
                                {"WWW-Authenticate": 'Basic realm="XNAT"'})
            return user, None, self.auth.new_session(user)
        if self._anonymous_allowed():
            return User(GUEST), None, None
        raise HTTPError(401, "Authentication required", {"WWW-Authenticate": 'Basic realm="XNAT"'})

    def _anonymous_allowed(self) -> bool:
        """The site's ``requireLogin`` set through ``/xapi/siteConfig`` (XNAT's guard reads it), else
        the ``allow_anonymous`` option (read only for a request that brings no credentials)."""
        stored = self.backend.settings.all().get("requireLogin")
        if stored is None:
            return self.allow_anonymous
        return stored in (False, "false")

    @staticmethod
    def _params(request: Request) -> MultiDict[str, str]:
        """Query parameters, plus urlencoded form fields (XNAT reads both)."""
        params = MultiDict(request.args)
        if request.mimetype == "application/x-www-form-urlencoded":
            for key, value in request.form.items(multi=True):
                params.add(key, value)
        return params

    def _session_cookies(self, response: Response, sid: str | None) -> None:
        if not sid:
            return
        expires = self.auth.session_expiry(sid)
        if expires is None:
            return
        response.set_cookie("JSESSIONID", sid, path="/", httponly=True)
        timeout_ms = int(self.auth.session_timeout * 1000)
        # Set by hand: the value is a quoted "<epoch-ms>,<timeout-ms>" pair as XNAT writes it.
        response.headers.add("Set-Cookie", f'SESSION_EXPIRATION_TIME="{int(time.time() * 1000)},{timeout_ms}"; Path=/')
