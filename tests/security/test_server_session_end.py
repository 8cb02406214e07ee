"""What is left of a server session once it ended (logged out, evicted past the per-user cap).

Nothing: no CSRF token, no expiry, and ending it again is no error (two tabs logging out at
once, or a logout racing the sweep of expired sessions). Found by the re-run of the mutation
testing of ``xnat/testing/auth.py`` (issue 13): ``_drop`` 4, 5, 7 and ``session_expiry`` 4.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from xnat.testing.app import XNATApp
from xnat.testing.auth import Auth, User

ANN = User("ann")


@pytest.fixture
def auth(tmp_path: Path) -> Iterator[Auth]:
    application = XNATApp(data_dir=tmp_path / "data", users=("ann:ann-password",))
    yield application.auth
    application.close()


def _gone(auth: Auth, sid: str) -> bool:
    return auth.session_user(sid) is None and auth.csrf_token(sid) is None and auth.session_expiry(sid) is None


def test_a_logged_out_session_leaves_no_token_and_no_expiry(auth: Auth) -> None:
    sid = auth.new_session(ANN)
    assert auth.csrf_token(sid) and auth.session_expiry(sid)
    auth.end_session(sid)
    assert _gone(auth, sid)
    auth.end_session(sid)  # again: nothing to end, no error
    auth.end_session("0123456789ABCDEF0123456789ABCDEF")  # never known
    assert _gone(auth, sid)


def test_a_session_evicted_past_the_cap_leaves_nothing(tmp_path: Path) -> None:
    application = XNATApp(data_dir=tmp_path / "data", users=("ann:ann-password",))
    try:
        auth = Auth(application.store, max_sessions_per_user=2)
        first, second, third = (auth.new_session(ANN) for _ in range(3))
        assert _gone(auth, first)
        assert not _gone(auth, second) and not _gone(auth, third)
    finally:
        application.close()
