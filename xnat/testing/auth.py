"""Users, passwords, HTTP sessions and alias tokens of the embedded server.

Behaviour follows XNAT's guard (REST-NOTES §3): an existing ``JSESSIONID`` session
first, then HTTP Basic (a password or an ``alias:secret`` token), then anonymous only
when the site allows it. Sessions live in memory (like a servlet container's) and
expire after ``session_timeout`` seconds of inactivity. Project roles and what they
allow are decided in :mod:`xnat.testing.backend.access`.

The session table stays small however clients behave. It is kept in order of last use,
so the expired sessions are always at its front and each new session drops them in O(1)
amortised time. A client that never sends the cookie back (Basic auth on every request,
or repeated anonymous ``GET /data/JSESSION``) still gets a session per request, as a
servlet container gives it, but each login holds at most ``max_sessions_per_user`` of
them: past that its least recently used session ends. That is XNAT's own rule (its
"concurrent sessions per user" site setting, enforced by Spring Security by expiring the
oldest session), and it keeps every session that is in use alive, where reusing one
session for all Basic-auth requests of a user would share one cookie between clients.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from .store import Store

logger = logging.getLogger(__name__)

ROLES = ("owner", "member", "collaborator")
ACCESSIBILITY = ("private", "protected", "public")
GUEST = "guest"
_PBKDF2_ROUNDS = 20_000
TOKEN_LIFETIME = 48 * 3600.0


@dataclass(frozen=True)
class User:
    """The user a request runs as; ``login == "guest"`` for anonymous requests."""

    login: str
    admin: bool = False

    @property
    def is_guest(self) -> bool:
        return self.login == GUEST


def _hash(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), _PBKDF2_ROUNDS).hex()


class Auth:
    """Credential checks, the session table and token issue/validation."""

    def __init__(self, store: Store, session_timeout: float = 900.0, max_sessions_per_user: int = 1000) -> None:
        if max_sessions_per_user < 1:
            raise ValueError("max_sessions_per_user must be at least 1")
        self.store = store
        self.session_timeout = float(session_timeout)
        self.max_sessions_per_user = max_sessions_per_user
        # sid -> (login, expiry), least recently used first. The timeout changes rarely (the
        # sessionTimeout preference), so expiries rise along the order and the expired ones sit
        # at the front; each use still checks its own session's expiry.
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._by_login: dict[str, OrderedDict[str, None]] = {}  # login -> its sids, LRU first
        self._lock = threading.Lock()
        # A verified (login, password) pair is remembered by digest: pbkdf2 on every
        # Basic-auth request would make the server CPU bound under concurrent clients.
        self._verified: dict[str, str] = {}
        # sid -> the session's CSRF token (XNAT keeps one per HTTP session, set at login)
        self._csrf: dict[str, str] = {}
        self._add_verified_column()

    def _add_verified_column(self) -> None:
        """``verified`` (XNAT's e-mail verification flag), added to a store made before it."""
        if "verified" in {r[1] for r in self.store.all("PRAGMA table_info(users)")}:
            return  # a read only: a restart on a full disk writes nothing
        with self.store.transaction() as conn:
            conn.execute("ALTER TABLE users ADD COLUMN verified INTEGER NOT NULL DEFAULT 1")

    # -- users ---------------------------------------------------------------------
    def add_user(self, login: str, password: str, admin: bool = False, firstname: str = "",
                 lastname: str = "", email: str = "", enabled: bool = True) -> None:
        """Create or replace a user."""
        if not login or ":" in login or login == GUEST:
            raise ValueError(f"invalid login name {login!r}")
        stored = self.store.one("SELECT * FROM users WHERE login=?", (login,))
        wanted = (int(admin), firstname, lastname, email, int(enabled))
        if stored is not None and tuple(stored[k] for k in ("admin", "firstname", "lastname", "email", "enabled")) \
                == wanted and hmac.compare_digest(_hash(password, stored["salt"]), stored["pwhash"]):
            return  # unchanged: a restart writes nothing (it must start on a full disk)
        salt = secrets.token_hex(8)
        with self.store.transaction() as conn:
            row = conn.execute("SELECT xdat_user_id FROM users WHERE login=?", (login,)).fetchone()
            uid = row["xdat_user_id"] if row else self.store.next_value(conn, "xdat_user_id")
            conn.execute(
                "INSERT OR REPLACE INTO users(login, xdat_user_id, salt, pwhash, admin, firstname,"
                " lastname, email, enabled) VALUES(?,?,?,?,?,?,?,?,?)",
                (login, uid, salt, _hash(password, salt), int(admin), firstname, lastname, email,
                 int(enabled)))
        with self._lock:
            self._verified.pop(login, None)

    def update_user(self, login: str, password: str | None = None, **fields: object) -> None:
        """Change an existing account: ``firstname``, ``lastname``, ``email``, ``enabled``, ``admin``,
        ``verified`` (only those given) and, when given, its password. KeyError for an unknown login."""
        flags = ("enabled", "admin", "verified")
        columns = {"firstname", "lastname", "email", *flags}
        if set(fields) - columns:
            raise ValueError(f"not a user field: {sorted(set(fields) - columns)}")
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM users WHERE login=?", (login,)).fetchone() is None:
                raise KeyError(login)
            for name, value in fields.items():
                conn.execute(f"UPDATE users SET {name}=? WHERE login=?",
                             (int(bool(value)) if name in flags else str(value), login))
            if password is not None:
                salt = secrets.token_hex(8)
                conn.execute("UPDATE users SET salt=?, pwhash=? WHERE login=?", (salt, _hash(password, salt), login))
        with self._lock:
            self._verified.pop(login, None)

    def user(self, login: str) -> User | None:
        """The enabled (and verified) user named ``login``, or None."""
        row = self.store.one("SELECT login, admin FROM users WHERE login=? AND enabled=1 AND verified=1", (login,))
        return User(row["login"], bool(row["admin"])) if row else None

    def user_rows(self, enabled_only: bool = True) -> list[sqlite3.Row]:
        """Every (enabled) user's row, by ``xdat_user_id``."""
        where = " WHERE enabled=1" if enabled_only else ""
        return self.store.all(f"SELECT * FROM users{where} ORDER BY xdat_user_id")

    def logins(self) -> list[str]:
        """Every login name, sorted."""
        return [r["login"] for r in self.store.all("SELECT login FROM users ORDER BY login")]

    def user_row(self, login: str) -> sqlite3.Row | None:
        """The stored account ``login`` (enabled or not): names, email, flags; None if unknown."""
        return self.store.one("SELECT * FROM users WHERE login=?", (login,))

    def check_password(self, login: str, password: str) -> User | None:
        """The user if ``password`` is right (or ``login:password`` is a valid alias token)."""
        # disabled and unverified accounts do not sign in (XNAT refuses both at login)
        row = self.store.one("SELECT * FROM users WHERE login=? AND enabled=1 AND verified=1", (login,))
        if row is not None:
            digest = hashlib.sha256(f"{row['salt']}:{password}".encode()).hexdigest()
            with self._lock:
                known = self._verified.get(login)
            if known is not None and hmac.compare_digest(known, digest):
                return User(row["login"], bool(row["admin"]))
            if hmac.compare_digest(_hash(password, row["salt"]), row["pwhash"]):
                with self._lock:
                    self._verified[login] = digest
                return User(row["login"], bool(row["admin"]))
            return None
        owner = self.validate_token(login, password)
        return self.user(owner) if owner else None

    # -- sessions ------------------------------------------------------------------
    def new_session(self, user: User) -> str:
        """Open an HTTP session for ``user``; returns its 32-hex-digit id.

        Expired sessions are dropped first; if ``user`` then holds
        ``max_sessions_per_user`` sessions, the one it used least recently ends.
        """
        sid = uuid.uuid4().hex.upper()
        with self._lock:
            now = time.time()
            while self._sessions:
                oldest, (_, expires) = next(iter(self._sessions.items()))
                if expires >= now:
                    break
                self._drop(oldest)
            mine = self._by_login.setdefault(user.login, OrderedDict())
            while len(mine) >= self.max_sessions_per_user:
                self._drop(next(iter(mine)))
            self._sessions[sid] = (user.login, now + self.session_timeout)
            self._csrf[sid] = str(uuid.uuid4())
            mine[sid] = None
        return sid

    def csrf_token(self, sid: str) -> str | None:
        """The CSRF token of a live session (``XNAT_CSRF``), or None."""
        with self._lock:
            return self._csrf.get(sid)

    @property
    def session_count(self) -> int:
        """How many sessions are held (expired ones not yet dropped included)."""
        with self._lock:
            return len(self._sessions)

    def _drop(self, sid: str) -> None:
        """Forget a session (the lock is held)."""
        entry = self._sessions.pop(sid, None)
        self._csrf.pop(sid, None)
        if entry is None:
            return
        mine = self._by_login.get(entry[0])
        if mine is not None:
            mine.pop(sid, None)
            if not mine:
                del self._by_login[entry[0]]

    def session_user(self, sid: str) -> User | None:
        """The user of a live session (its expiry is pushed back), or None if unknown/expired."""
        with self._lock:
            entry = self._sessions.get(sid)
            if entry is None:
                return None
            login, expires = entry
            now = time.time()
            if expires < now:
                self._drop(sid)
                return None
            self._sessions[sid] = (login, now + self.session_timeout)
            self._sessions.move_to_end(sid)  # keeps the table in order of expiry
            self._by_login[login].move_to_end(sid)
        return self.user(login) if login != GUEST else User(GUEST)

    def session_expiry(self, sid: str) -> float | None:
        """Epoch seconds at which the session expires, or None."""
        with self._lock:
            entry = self._sessions.get(sid)
        return entry[1] if entry else None

    def end_session(self, sid: str) -> None:
        """Log a session out."""
        with self._lock:
            self._drop(sid)

    # -- alias tokens --------------------------------------------------------------
    def issue_token(self, login: str) -> dict[str, object]:
        """Issue an alias token for ``login``; returns the JSON XNAT serialises."""
        alias, secret = str(uuid.uuid4()), secrets.token_urlsafe(48)
        created = time.time()
        with self.store.transaction() as conn:
            tid = self.store.next_value(conn, "token")
            conn.execute("INSERT INTO tokens VALUES(?,?,?,?,?,?,1)",
                         (alias, secret, login, tid, created, created + TOKEN_LIFETIME))
            uid = conn.execute("SELECT xdat_user_id FROM users WHERE login=?", (login,)).fetchone()
        ms = int(created * 1000)
        return {"alias": alias, "secret": secret, "xdatUserId": login,
                "singleUse": False, "estimatedExpirationTime": int((created + TOKEN_LIFETIME) * 1000),
                "validIPAddresses": [], "id": tid, "enabled": True, "created": ms, "timestamp": ms,
                "disabled": 0, "userId": uid["xdat_user_id"] if uid else None}

    def validate_token(self, alias: str, secret: str) -> str | None:
        """The owner's login if ``alias``/``secret`` is a live token, else None."""
        row = self.store.one("SELECT * FROM tokens WHERE alias=? AND enabled=1", (alias,))
        if row is None or row["expires"] < time.time():
            return None
        return row["login"] if hmac.compare_digest(row["secret"], secret) else None

    def invalidate_token(self, alias: str, secret: str) -> bool:
        """Disable a token; False if it was not valid."""
        if self.validate_token(alias, secret) is None:
            return False
        with self.store.transaction() as conn:
            conn.execute("UPDATE tokens SET enabled=0 WHERE alias=?", (alias,))
        return True
