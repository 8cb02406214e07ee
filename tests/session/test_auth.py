"""Credential resolution, netrc checks and pyxnat config files (no server needed)."""

from __future__ import annotations

import json
import os
import stat

import pytest

from xnat import auth
from xnat.exceptions import XNATAuthError, XNATValueError

SERVER = "https://xnat.example.org"


def write_netrc(path, text, mode=0o600):
    path.write_text(text)
    os.chmod(path, mode)
    return path


# -- server URLs -------------------------------------------------------------------------

@pytest.mark.parametrize("url, expected", [
    ("https://xnat.example.org", "https://xnat.example.org"),
    ("https://xnat.example.org/", "https://xnat.example.org"),
    ("http://127.0.0.1:8080/xnat/", "http://127.0.0.1:8080/xnat"),
    ("  https://Host.example.org:8443  ", "https://Host.example.org:8443"),
])
def test_normalise_server_accepts_full_urls(url, expected):
    assert auth.normalise_server(url) == expected


@pytest.mark.parametrize("url, words", [
    ("xnat.example.org", "did you mean https://xnat.example.org"),
    ("ftp://xnat.example.org", "only http:// and https://"),
    ("https://", "no host name"),
    ("https:///data/projects", "no host name"),
    ("", "No XNAT server given"),
    ("https://host:notaport", "invalid port"),
])
def test_normalise_server_refuses_bad_urls_with_a_hint(url, words):
    with pytest.raises(XNATValueError, match=words):
        auth.normalise_server(url)


def test_server_url_with_credentials_is_refused_without_echoing_the_password():
    with pytest.raises(XNATValueError) as info:
        auth.normalise_server("https://me:hunter2@xnat.example.org")
    assert "hunter2" not in str(info.value)
    assert "pass user= and password=" in str(info.value)


def test_resolve_server_reads_environment_in_xnatpy_order(monkeypatch):
    monkeypatch.setenv("XNAT_HOST", "https://second.example.org")
    assert auth.resolve_server(None) == "https://second.example.org"
    monkeypatch.setenv("XNATPY_HOST", "https://first.example.org")
    assert auth.resolve_server(None) == "https://first.example.org"
    assert auth.resolve_server("https://arg.example.org") == "https://arg.example.org"


def test_resolve_server_without_any_server_says_where_to_give_one():
    with pytest.raises(XNATValueError, match="XNATPY_HOST or XNAT_HOST"):
        auth.resolve_server(None)


# -- credential order ----------------------------------------------------------------------

def test_arguments_win_over_environment_and_netrc(monkeypatch, tmp_path):
    monkeypatch.setenv("XNAT_USER", "envuser")
    monkeypatch.setenv("XNAT_PASS", "envpass")
    netrc = write_netrc(tmp_path / "netrc", "machine xnat.example.org login nuser password npass\n")
    found = auth.resolve_credentials(SERVER, "arguser", "argpass", netrc_file=netrc)
    assert (found.user, found.password, found.source) == ("arguser", "argpass", "argument")


def test_environment_wins_over_netrc_xnatpy_names_first(monkeypatch, tmp_path):
    netrc = write_netrc(tmp_path / "netrc", "machine xnat.example.org login nuser password npass\n")
    monkeypatch.setenv("XNAT_USER", "second")
    monkeypatch.setenv("XNAT_PASS", "secondpass")
    monkeypatch.setenv("XNATPY_USER", "first")
    monkeypatch.setenv("XNATPY_PASS", "firstpass")
    found = auth.resolve_credentials(SERVER, netrc_file=netrc)
    assert (found.user, found.password) == ("first", "firstpass")
    assert found.source == "environment (XNATPY_USER)"


def test_environment_password_of_another_user_is_not_used(monkeypatch):
    monkeypatch.setenv("XNAT_USER", "alice")
    monkeypatch.setenv("XNAT_PASS", "alicepass")
    with pytest.raises(XNATAuthError, match="No password for user 'bob'"):
        auth.resolve_credentials(SERVER, "bob", interactive=False)


def test_environment_password_goes_with_an_argument_user_when_no_env_user(monkeypatch):
    monkeypatch.setenv("XNAT_PASS", "pw")
    found = auth.resolve_credentials(SERVER, "bob", interactive=False)
    assert (found.user, found.password) == ("bob", "pw")


def test_netrc_is_looked_up_by_host_and_port_then_host(tmp_path):
    netrc = write_netrc(tmp_path / "netrc", (
        "machine xnat.example.org:8443 login portuser password portpass\n"
        "machine xnat.example.org login hostuser password hostpass\n"
    ))
    with_port = auth.resolve_credentials("https://xnat.example.org:8443", netrc_file=netrc)
    assert (with_port.user, with_port.password, with_port.source) == ("portuser", "portpass", "netrc")
    without = auth.resolve_credentials("https://xnat.example.org", netrc_file=netrc)
    assert (without.user, without.password) == ("hostuser", "hostpass")


def test_netrc_from_the_NETRC_variable_and_the_home_folder(monkeypatch, tmp_path):
    home_netrc = write_netrc(tmp_path / "home" / ".netrc", "machine xnat.example.org login home password hp\n")
    assert auth.resolve_credentials(SERVER).user == "home"
    env_netrc = write_netrc(tmp_path / "env-netrc", "machine xnat.example.org login env password ep\n")
    monkeypatch.setenv("NETRC", str(env_netrc))
    assert auth.resolve_credentials(SERVER).user == "env"
    assert home_netrc.exists()


def test_netrc_entry_for_another_login_is_not_used_for_a_given_user(tmp_path):
    netrc = write_netrc(tmp_path / "netrc", "machine xnat.example.org login alice password ap\n")
    with pytest.raises(XNATAuthError, match="No password for user 'bob'"):
        auth.resolve_credentials(SERVER, "bob", netrc_file=netrc, interactive=False)
    assert auth.resolve_credentials(SERVER, "alice", netrc_file=netrc).password == "ap"


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o010])
def test_netrc_readable_by_others_is_refused_with_the_fix(tmp_path, mode):
    netrc = write_netrc(tmp_path / "netrc", "machine xnat.example.org login u password secretpw\n", mode)
    with pytest.raises(XNATAuthError) as info:
        auth.resolve_credentials(SERVER, netrc_file=netrc)
    message = str(info.value)
    assert f"chmod 600 {netrc}" in message
    assert "secretpw" not in message


def test_missing_explicit_netrc_is_an_error_but_missing_default_is_not(tmp_path):
    with pytest.raises(XNATValueError, match="does not exist"):
        auth.resolve_credentials(SERVER, netrc_file=tmp_path / "nope")
    assert auth.resolve_credentials(SERVER).anonymous


def test_broken_netrc_is_reported_without_its_content(tmp_path):
    netrc = write_netrc(tmp_path / "netrc", "machine xnat.example.org login u password\n macdef\n\"unterminated")
    try:
        found = auth.resolve_credentials(SERVER, netrc_file=netrc)
    except XNATValueError as error:
        assert "could not be read" in str(error)
    else:  # the stdlib parser is lenient with some damage; then nothing must be invented
        assert found.user in (None, "u")


def test_no_user_anywhere_means_anonymous():
    found = auth.resolve_credentials(SERVER)
    assert found.anonymous and found.password is None and found.source == "anonymous"


def test_password_prompt_only_on_a_terminal(monkeypatch):
    asked = []
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt: asked.append(prompt) or "typed")
    monkeypatch.setattr(auth, "_stdin_is_terminal", lambda: True)
    found = auth.resolve_credentials(SERVER, "bob")
    assert (found.password, found.source) == ("typed", "prompt")
    assert asked == ["Password for bob@xnat.example.org: "]

    monkeypatch.setattr(auth, "_stdin_is_terminal", lambda: False)
    with pytest.raises(XNATAuthError, match="pass password=, set XNATPY_PASS or XNAT_PASS"):
        auth.resolve_credentials(SERVER, "bob")
    assert len(asked) == 1


def test_credentials_repr_hides_the_password():
    credentials = auth.Credentials("bob", "hunter2", "argument")
    assert "hunter2" not in repr(credentials) and "hunter2" not in str(credentials)
    assert "bob" in repr(credentials)


@pytest.mark.parametrize("user, token", [
    ("3f2b9c1e-8a7d-4e21-9c3b-0a1b2c3d4e5f", True),
    ("3F2B9C1E-8A7D-4E21-9C3B-0A1B2C3D4E5F", True),
    ("admin", False),
    (None, False),
    ("3f2b9c1e-8a7d-4e21-9c3b-0a1b2c3d4e5", False),
])
def test_alias_token_shape(user, token):
    assert auth.is_alias_token(user) is token
    assert auth.Credentials(user, "s").is_token is token


# -- pyxnat config files -------------------------------------------------------------------

def test_write_then_read_config_round_trip_with_mode_0600(tmp_path):
    path = auth.write_config(tmp_path / "xnat.cfg", SERVER, "bob", "pw", verify="/etc/ca.pem")
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert auth.read_config(path) == {"server": SERVER, "user": "bob", "password": "pw", "verify": "/etc/ca.pem"}


def test_write_config_leaves_the_password_out_unless_given(tmp_path):
    path = auth.write_config(tmp_path / "xnat.cfg", SERVER, "bob")
    data = json.loads(path.read_text())
    assert "password" not in data and data["user"] == "bob" and data["verify"] is True


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_write_config_tightens_an_existing_open_file(tmp_path):
    path = tmp_path / "xnat.cfg"
    path.write_text("{}")
    os.chmod(path, 0o644)
    auth.write_config(path, SERVER, "bob", "pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _pyxnat_interface_state(**fields):
    """The attributes pyxnat's Interface.save_config/load_config use.

    pyxnat 1.6.4 cannot build an Interface here (its derivatives import nibabel), so its
    own unbound methods run on a plain object carrying the same state.
    """
    from types import SimpleNamespace

    state = SimpleNamespace(_anonymous=False, _proxy_url=None, **fields)
    state._Interface__set_proxy = lambda proxy: None
    return state


def test_read_config_written_by_pyxnat(tmp_path):
    pyxnat = pytest.importorskip("pyxnat")
    path = tmp_path / "central.cfg"
    state = _pyxnat_interface_state(_server=SERVER, _user="bob", _pwd="pw", _verify=False)
    pyxnat.Interface.save_config(state, str(path))
    assert auth.read_config(path) == {"server": SERVER, "user": "bob", "password": "pw", "verify": False}


def test_config_written_here_is_read_by_pyxnat(tmp_path):
    pyxnat = pytest.importorskip("pyxnat")
    path = auth.write_config(tmp_path / "xnat.cfg", SERVER, "bob", "pw", verify=False)
    state = _pyxnat_interface_state(_server=None, _user=None, _pwd=None, _verify=None)
    pyxnat.Interface.load_config(state, str(path))
    assert (state._server, state._user, state._pwd, state._verify) == (SERVER, "bob", "pw", False)


@pytest.mark.parametrize("content, words", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"server": 5}', "server must be a string"),
    ('{"verify": 3}', "verify must be true, false or a CA path"),
])
def test_read_config_bad_files(tmp_path, content, words):
    path = tmp_path / "bad.cfg"
    path.write_text(content)
    with pytest.raises(XNATValueError, match=words):
        auth.read_config(path)


def test_read_config_missing_file(tmp_path):
    with pytest.raises(XNATValueError, match="does not exist"):
        auth.read_config(tmp_path / "missing.cfg")
