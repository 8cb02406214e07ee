"""When a write must carry XNAT's CSRF token, and whether it does.

XNAT (``SecureAction.isCsrfTokenOk``, called from its REST guard for requests that ride an
existing HTTP session; REST-NOTES §3) checks the token only when all of these hold:

* the site's ``enableCsrfToken`` is on (its default; ``/xapi/siteConfig``);
* the request rides a session (a ``JSESSIONID`` cookie), not Basic credentials;
* the client is a web browser: a blank User-Agent, a non-browser one (curl, python-requests,
  pyxnat, xnatpy...), one containing ``JAVA`` and the ``XNATDesktopClient`` are exempt. A browser
  is told by the ``Mozilla`` every browser's User-Agent starts with;
* the method is POST, PUT or DELETE; the token is the ``XNAT_CSRF`` query (or form) parameter,
  the one ``GET /data/JSESSION?CSRF=true`` hands out.

XNAT throws from its guard when the token is missing or wrong; this server answers 403 with
the reason (a refused write changes nothing).
"""

from __future__ import annotations

import hmac

from werkzeug.wrappers import Request

WRITES = ("POST", "PUT", "DELETE")
_EXEMPT = ("JAVA", "XNATDESKTOPCLIENT")


def is_browser(user_agent: str | None) -> bool:
    """Does this User-Agent name a web browser (the clients XNAT asks for a CSRF token)?"""
    agent = (user_agent or "").upper()
    return "MOZILLA" in agent and not any(word in agent for word in _EXEMPT)


def needs_token(request: Request, rides_session: bool, enabled: bool) -> bool:
    """Must this request carry the session's CSRF token?"""
    return (enabled and rides_session and request.method in WRITES
            and is_browser(request.headers.get("User-Agent")))


def token_ok(given: str | None, expected: str | None) -> bool:
    """Is ``given`` the session's token (compared in constant time)?"""
    return bool(given) and expected is not None and hmac.compare_digest(str(given), expected)
