"""User mistakes give one clear line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

import pytest

import xnat


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.code == 1, (result.out, result.err)
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("xnat: error: ")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in line, line


def test_no_server_anywhere(cli):
    assert_one_line_error(cli("ls"), "no XNAT server given: pass --host URL, or set XNATPY_HOST (or XNAT_HOST)")


def test_a_host_that_is_not_a_url(cli):
    assert_one_line_error(cli("ls", "--host", "xnat.example.org"), "did you mean https://xnat.example.org")


def test_a_host_where_nothing_listens(cli, clean_env):
    clean_env.setenv("XNATPY_USER", "admin")
    clean_env.setenv("XNATPY_PASS", "admin")
    assert_one_line_error(cli("ls", "--host", "http://127.0.0.1:1"), "could not connect", "127.0.0.1:1")


def test_wrong_password(cli, as_admin, clean_env):
    clean_env.setenv("XNATPY_PASS", "not-the-password")
    result = cli("ls")
    assert_one_line_error(result, "Login to", "as user 'admin' failed", "401")
    assert "not-the-password" not in result.err


def test_a_user_without_a_password_and_no_terminal(cli, as_admin, clean_env):
    clean_env.delenv("XNATPY_PASS")
    result = cli("ls", "--user", "alice", stdin="")
    assert_one_line_error(result, "No password for user 'alice'", ": pipe it to --password-stdin, set XNATPY_PASS", ".netrc")
    assert "password=" not in result.err


def test_password_stdin_without_a_user(cli, as_admin, clean_env):
    clean_env.delenv("XNATPY_USER")
    assert_one_line_error(cli("ls", "--password-stdin", stdin="x\n"), "--password-stdin needs a user")


def test_a_netrc_others_can_read_is_refused(cli, as_admin, clean_env, tmp_path):
    clean_env.delenv("XNATPY_USER")
    clean_env.delenv("XNATPY_PASS")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login admin password admin\n")
    netrc.chmod(0o644)
    assert_one_line_error(cli("ls", "--netrc", str(netrc)), "chmod 600")


@pytest.mark.parametrize("path, fragment", [
    ("NOPE", "no entry with ID or name 'NOPE' in /data/projects"),
    ("DEMO/NOBODY", "no entry with ID or label 'NOBODY' in /data/projects/DEMO/subjects"),
    ("DEMO/DEMO_001/DEMO_001_MR1/99", "'99'"),
    ("DEMO/DEMO_001/DEMO_001_MR1/2/DICOM", "'DICOM'"),
])
def test_missing_objects(cli, as_admin, path, fragment):
    assert_one_line_error(cli("ls", path), fragment)


@pytest.mark.parametrize("argv, fragment", [
    (("ls", "DEMO//DEMO_001"), "empty segment"),
    (("ls", "A/B/C/D/E/F"), "too deep"),
    (("ls", "DEMO", "--filter", "label"), "--filter expects NAME=VALUE"),
    (("ls", "DEMO", "--column", "nope"), "no column 'nope' here"),
    (("ls", "DEMO", "--filter", "nope=x"), "--filter on unknown column 'nope'"),
    (("ls", "--resources"), "need a PATH"),
    (("ls", "DEMO", "--resources", "--resource", "X"), "not both"),
    (("rest", "get", "/data/projects/NOPE"), "returned 404"),
    (("rest", "get", "data/projects"), "should start with a /"),
    (("rest", "put", "/data/projects/DEMO/resources/X/files/a", "--data", "@/no/such/file"), "No such file"),
    (("rest", "get", "/data/projects", "--query", "format"), "--query expects NAME=VALUE"),
    (("rest",), "rest needs a method"),
    (("download", "DEMO/DEMO_001", "out", "--scans", "1"), "--scans is for a session"),
    (("download", "DEMO/DEMO_001", "out", "--flat"), "--flat is for a resource"),
    (("upload", "DEMO", "--resource", "R", "/no/such/file"), "/no/such/file: no such file or folder"),
    (("upload", "DEMO/DEMO_001/DEMO_001_MR1/2/NIFTI", "--resource", "R", __file__), "names a resource"),
    (("logout",), "no session to log out of"),
])
def test_bad_input(cli, as_admin, argv, fragment):
    assert_one_line_error(cli(*argv), fragment)


def test_download_into_a_file_is_refused(cli, as_admin, tmp_path):
    target = tmp_path / "a-file"
    target.write_text("keep me")
    assert_one_line_error(cli("download", "DEMO", str(target)), "is not a folder")
    assert target.read_text() == "keep me"


def test_a_private_project_is_not_there_for_a_non_member(cli, as_admin, clean_env):
    clean_env.setenv("XNATPY_USER", "alice")
    clean_env.setenv("XNATPY_PASS", "secret")
    assert_one_line_error(cli("ls", "DEMO"), "no entry with ID or name 'DEMO'")
    result = cli("rest", "put", "/data/projects/DEMO/subjects/INTRUDER")
    assert_one_line_error(result, "INTRUDER returned 404")


def test_an_expired_or_unknown_session_id(cli, as_admin, clean_env):
    clean_env.setenv("XNATPY_JSESSION", "0123456789ABCDEF0123456789ABCDEF")
    result = cli("ls")
    assert_one_line_error(result, "not (or no longer) valid")
    assert "0123456789ABCDEF" not in result.err


# ---------------------------------------------------------------- issue 19: errors a newcomer meets


def test_https_to_a_plain_http_server_says_so(cli, as_admin, clean_env):
    result = cli("ls", "--host", as_admin.replace("http://", "https://"))
    assert_one_line_error(result, "the TLS connection failed", ": the server speaks plain HTTP? "
                          "Try its http:// address instead of https://.")
    assert cli("ls").code == 0  # the server shrugged the TLS hello off and still answers


def test_a_name_that_does_not_resolve_has_no_doubled_parenthesis(cli, clean_env):
    clean_env.setenv("XNATPY_USER", "admin")
    clean_env.setenv("XNATPY_PASS", "admin")
    result = cli("ls", "--host", "http://xnat.example.invalid")
    assert result.code == 1 and len(result.err_lines) == 1
    assert "))" not in result.err and "could not connect to the server (" in result.err


def test_an_abbreviated_option_is_not_taken_for_a_longer_one(cli, as_admin):
    result = cli("ls", "--password", "s3cr")
    assert result.code == 2
    assert result.err_lines == ["xnat: error: unrecognized arguments: --password (see 'xnat --help')"]


def test_a_mistyped_command_gets_a_suggestion(cli):
    result = cli("lss")
    assert result.code == 2 and len(result.err_lines) == 1
    assert result.err_lines[0].endswith("; did you mean 'ls'? (see 'xnat --help')")


def test_download_dir_into_a_folder_it_cannot_make_names_the_cause(served, tmp_path):
    from xnat.exceptions import XNATIOError

    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        experiment = session.projects["DEMO"].subjects["DEMO_001"].experiments["DEMO_001_MR1"]
        with pytest.raises(XNATIOError) as caught:  # not a raw OSError
            experiment.download_dir(blocker / "data")
    assert str(caught.value) == f"Could not create the folder {blocker / 'data'}: Not a directory"
    assert blocker.read_text() == "keep me"


def test_a_folder_without_write_permission_is_named(tmp_path, monkeypatch):
    import errno
    import os

    from xnat.transfer.download import os_error

    readonly = tmp_path / "readonly"
    readonly.mkdir()
    # Tests may run as root, for whom every folder is writable: ask os.access what a user would hear.
    monkeypatch.setattr(os, "access", lambda path, mode: os.fspath(path) != str(readonly))
    error = PermissionError(errno.EACCES, "Permission denied", str(readonly / "data"))
    message = str(os_error(error, "create the folder", readonly / "data" / "DEMO_001_MR1"))
    assert message == (f"Could not create the folder {readonly / 'data' / 'DEMO_001_MR1'}: "
                       f"permission denied ({readonly} is not writable)")
    read_only_fs = OSError(errno.EROFS, "Read-only file system")
    assert str(os_error(read_only_fs, "write", "/mnt/x")) == "Could not write /mnt/x: the file system is read-only"


def test_an_interrupted_transfer_leaves_its_bar_where_it_stopped(capsys):
    from xnat.transfer.progress import Progress

    progress = Progress(total=1000, verbose=True, label="download")
    progress.add(400)
    progress.finish()  # what a transfer's finally does when it is interrupted
    shown = capsys.readouterr().err
    assert " 40%" in shown and "100%" not in shown

    progress = Progress(total=1000, verbose=True, label="download")
    progress.add(1000)
    progress.finish()
    assert "100%" in capsys.readouterr().err


def test_did_you_mean_names_each_candidate_once(served):
    from xnat.exceptions import XNATKeyError

    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        with pytest.raises(XNATKeyError) as caught:
            session.projects["DEMOO"]  # DEMO is both the project's ID and its name
    assert str(caught.value).endswith("; did you mean 'DEMO'?"), str(caught.value)


def test_a_tls_hello_to_the_embedded_server_prints_no_traceback(served, capfd):
    from xnat.exceptions import XNATSSLError

    with pytest.raises(XNATSSLError, match="the server speaks plain HTTP"):
        xnat.connect(served.url.replace("http://", "https://"), user="admin", password="admin")
    with xnat.connect(served.url, user="admin", password="admin", keepalive=False) as session:
        assert "DEMO" in session.projects
    assert "Traceback" not in capfd.readouterr().err
