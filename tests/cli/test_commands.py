"""``xnat ls``, ``login``/``logout``, ``rest``, ``download`` and ``upload`` doing their job."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json

from xnat.demo import SAMPLE_STUDY, nifti_bytes

SESSION = "DEMO/DEMO_001/DEMO_001_MR1"


# ----------------------------------------------------------------------------- ls
def test_ls_walks_the_hierarchy(cli, as_admin):
    projects = cli("ls")
    assert projects.code == 0, projects.err
    assert projects.out.splitlines()[0].split() == ["ID", "name", "description"]
    assert any(line.startswith("DEMO ") for line in projects.out.splitlines())

    subjects = json.loads(cli("ls", "DEMO", "--format", "json").out)
    assert [row["label"] for row in subjects] == [s[0] for s in SAMPLE_STUDY.subjects]

    experiments = list(csv.DictReader(io.StringIO(cli("ls", "DEMO/DEMO_001", "--format", "csv").out)))
    assert [(row["label"], row["xsiType"], row["date"]) for row in experiments] == [
        ("DEMO_001_MR1", "xnat:mrSessionData", "2021-03-01")]

    scans = json.loads(cli("ls", SESSION, "--format", "json").out)
    assert [(s["ID"], s["type"], s["series_description"]) for s in scans] == [
        (p.id, p.type, p.series_description) for p in SAMPLE_STUDY.scans]

    resources = json.loads(cli("ls", f"{SESSION}/2", "--format", "json").out)
    assert [(r["label"], r["file_count"]) for r in resources] == [("NIFTI", "1")]

    files = json.loads(cli("ls", f"{SESSION}/2/NIFTI", "--format", "json").out)
    assert [(f["Name"], f["Size"]) for f in files] == [("T1w.nii.gz", str(len(nifti_bytes(
        description="DEMO_001 T1w"))))]


def test_ls_by_id_as_well_as_label(cli, as_admin):
    subject_id = json.loads(cli("ls", "DEMO", "--format", "json").out)[0]["ID"]
    result = cli("ls", f"DEMO/{subject_id}", "--column", "label", "--no-header")
    assert result.out.split() == ["DEMO_001_MR1"]


def test_ls_filter_and_columns(cli, as_admin):
    result = cli("ls", "DEMO", "--filter", "label=DEMO_00[23]", "-c", "label,ID", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.out)))
    assert rows[0] == ["label", "ID"]
    assert [row[0] for row in rows[1:]] == ["DEMO_002", "DEMO_003"]
    both = cli("ls", "DEMO", "-f", "label=DEMO_*", "-f", "ID=*1", "-c", "label", "--no-header")
    assert both.out.split() == ["DEMO_001"]
    none = cli("ls", "DEMO", "-f", "label=nobody*", "--format", "json")
    assert none.code == 0 and json.loads(none.out) == []


def test_ls_all_columns_and_table_alignment(cli, as_admin):
    lines = cli("ls", "DEMO", "--all-columns").out.splitlines()
    assert {"ID", "URI", "label", "project"} <= set(lines[0].split())
    assert set(lines[1].replace(" ", "")) == {"-"}
    starts = [line.index("DEMO_00") for line in lines[2:]]
    assert len(set(starts)) == 1  # the label column lines up


def test_ls_resources_of_a_subject_and_their_files(cli, as_admin, tmp_path):
    note = tmp_path / "consent.txt"
    note.write_text("signed\n")
    assert cli("upload", "DEMO/DEMO_002", "--resource", "CONSENT", str(note), "-q").code == 0
    resources = json.loads(cli("ls", "DEMO/DEMO_002", "--resources", "--format", "json").out)
    assert [r["label"] for r in resources] == ["CONSENT"]
    files = cli("ls", "DEMO/DEMO_002", "--resource", "CONSENT", "-c", "Name,Size", "--no-header", "--format", "csv")
    assert files.out == "consent.txt,7\n"


# ----------------------------------------------------------------------------- login / logout
def test_login_prints_a_session_id_that_later_commands_reuse(cli, as_admin, clean_env):
    result = cli("login")
    assert result.code == 0, result.err
    jsession = result.out.strip()
    assert len(jsession) >= 16 and "\n" not in jsession
    clean_env.delenv("XNATPY_USER")
    clean_env.delenv("XNATPY_PASS")  # no credentials left: only the session id
    clean_env.setenv("XNATPY_JSESSION", jsession)
    assert "DEMO" in cli("ls").out
    assert cli("ls").code == 0  # reusing it did not end it
    assert cli("logout").code == 0
    after = cli("ls")
    assert after.code == 1 and "no longer) valid" in after.err


def test_login_with_the_password_on_stdin_and_jsession_option(cli, as_admin, clean_env):
    clean_env.delenv("XNATPY_PASS")
    result = cli("login", "--user", "admin", "--password-stdin", stdin="admin\n")
    assert result.code == 0, result.err
    jsession = result.out.strip()
    clean_env.delenv("XNATPY_USER")
    assert cli("ls", "--jsession", jsession, "-c", "ID", "--no-header").out.split() == ["DEMO"]
    assert cli("logout", "--jsession", jsession).code == 0
    assert cli("ls", "--jsession", jsession).code == 1


def test_credentials_from_a_private_netrc(cli, as_admin, clean_env, tmp_path):
    clean_env.delenv("XNATPY_USER")
    clean_env.delenv("XNATPY_PASS")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine {as_admin.split('//')[1]} login admin password admin\n")
    netrc.chmod(0o600)
    result = cli("ls", "--netrc", str(netrc), "-c", "ID", "--no-header")
    assert result.code == 0 and result.out.split() == ["DEMO"]


def test_a_fresh_login_is_logged_out_when_the_command_ends(cli, as_admin, served):
    before = _live_sessions(served)
    for _ in range(3):
        assert cli("ls").code == 0
    assert _live_sessions(served) == before
    jsession = cli("login").out.strip()  # login is the one that keeps its session
    assert _live_sessions(served) == before + 1
    assert cli("logout", "--jsession", jsession).code == 0
    assert _live_sessions(served) == before


def _live_sessions(server) -> int:
    auth = server.app.auth  # the embedded server's session table
    return sum(1 for sid in list(auth._sessions) if auth.session_user(sid) is not None)


# ----------------------------------------------------------------------------- rest
def test_rest_get_put_delete(cli, as_admin):
    listing = json.loads(cli("rest", "get", "/data/projects", "--query", "format=json").out)
    assert [row["ID"] for row in listing["ResultSet"]["Result"]] == ["DEMO"]
    created = cli("rest", "put", "/data/projects/DEMO/subjects/REST_1")
    assert created.code == 0, created.err
    assert cli("rest", "head", "/data/projects/DEMO/subjects/REST_1").code == 0
    assert cli("rest", "delete", "/data/projects/DEMO/subjects/REST_1").code == 0
    gone = cli("rest", "get", "/data/projects/DEMO/subjects/REST_1", "--accept", "404", "-i")
    assert gone.code == 0 and gone.out.startswith("HTTP 404")


def test_rest_put_a_file_body_and_get_it_back_to_a_file(cli, as_admin, tmp_path):
    source = tmp_path / "scan.nii.gz"
    source.write_bytes(nifti_bytes())
    path = "/data/projects/DEMO/subjects/DEMO_003/resources/REST/files/scan.nii.gz"
    assert cli("rest", "put", "/data/projects/DEMO/subjects/DEMO_003/resources/REST").code == 0
    assert cli("rest", "put", path, "--query", "inbody=true", "--data", f"@{source}").code == 0
    target = tmp_path / "back.nii.gz"
    result = cli("rest", "get", path, "-o", str(target))
    assert result.code == 0 and f"to {target}" in result.err
    assert target.read_bytes() == source.read_bytes()
    assert gzip.decompress(target.read_bytes())[344:348] == b"n+1\x00"


def test_rest_header_option(cli, as_admin):
    result = cli("rest", "get", "/data/projects", "-q", "format=csv", "-H", "Accept=text/csv")
    assert result.code == 0 and result.out.startswith("ID,")


# ----------------------------------------------------------------------------- transfers
def test_download_a_session_then_only_some_scans(cli, as_admin, tmp_path):
    result = cli("download", SESSION, str(tmp_path / "all"), "-q")
    assert result.code == 0, result.err
    folder = tmp_path / "all" / "DEMO_001_MR1"
    assert result.out.strip() == str(folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    localizer = [f"scans/1/resources/DICOM/files/DEMO_001_MR1.MR.1.{n}.dcm" for n in (1, 2, 3)]
    assert files == localizer + ["scans/2/resources/NIFTI/files/T1w.nii.gz"]
    data = (folder / files[-1]).read_bytes()
    assert hashlib.md5(data).hexdigest() == hashlib.md5(nifti_bytes(description="DEMO_001 T1w")).hexdigest()

    some = cli("download", SESSION, str(tmp_path / "loc"), "--scans", "1", "-q")
    assert some.code == 0
    assert sorted(p.relative_to(tmp_path / "loc" / "DEMO_001_MR1").as_posix()
                  for p in (tmp_path / "loc").rglob("*") if p.is_file()) == localizer

    none = cli("download", SESSION, str(tmp_path / "rest"), "--scans", "3", "-q")
    assert none.code == 0
    assert not [p for p in (tmp_path / "rest").rglob("*") if p.is_file()]


def test_download_a_resource_flat(cli, as_admin, tmp_path):
    result = cli("download", f"{SESSION}/2/NIFTI", str(tmp_path / "flat"), "--flat", "-q")
    assert result.code == 0, result.err
    assert [p.name for p in (tmp_path / "flat").iterdir()] == ["T1w.nii.gz"]


def test_upload_files_and_a_folder_then_overwrite(cli, as_admin, tmp_path):
    one, two = tmp_path / "a.txt", tmp_path / "b.txt"
    one.write_text("first")
    two.write_text("second")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "c.txt").write_text("third")
    owner = f"{SESSION}/3"
    result = cli("upload", owner, "--resource", "QC", "--resource-format", "TXT", str(one), str(two), str(tree), "-q")
    assert result.code == 0, result.err
    assert "Creating resource QC" in result.err
    names = cli("ls", f"{owner}/QC", "-c", "Name", "--no-header").out.split()
    assert sorted(names) == ["a.txt", "b.txt", "c.txt"]

    one.write_text("changed")
    refused = cli("upload", owner, "--resource", "QC", str(one), "-q")
    assert refused.code == 1 and "already has a.txt: pass --overwrite" in refused.err
    assert cli("upload", owner, "--resource", "QC", str(one), "--overwrite", "-q").code == 0
    back = tmp_path / "back"
    assert cli("download", f"{owner}/QC", str(back), "--flat", "-q").code == 0
    assert (back / "a.txt").read_text() == "changed"


def test_login_can_save_an_alias_token_in_a_private_netrc(cli, as_admin, clean_env, tmp_path):
    netrc = tmp_path / "netrc"
    result = cli("login", "--save-token", "--netrc", str(netrc))
    assert result.code == 0, result.err
    assert result.out == "" and "Saved an alias token for admin" in result.err
    assert netrc.stat().st_mode & 0o777 == 0o600
    machine, host, login, alias, password, secret = netrc.read_text().split()
    assert (machine, host, login, password) == ("machine", as_admin.split("//")[1], "login", "password")
    assert alias != "admin" and "admin" not in secret and secret not in result.err

    clean_env.delenv("XNATPY_USER")
    clean_env.delenv("XNATPY_PASS")  # only the token in the netrc now
    listing = cli("ls", "--netrc", str(netrc), "-c", "ID", "--no-header")
    assert listing.code == 0, listing.err
    assert listing.out.split() == ["DEMO"]

    again = cli("login", "--save-token", "--netrc", str(netrc), "--user", "admin", "--password-stdin",
                stdin="admin\n")
    assert again.code == 1 and "already has an entry" in again.err
    assert len(netrc.read_text().splitlines()) == 1


def test_save_token_refuses_a_netrc_others_can_read(cli, as_admin, tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine other.example.org login x password y\n")
    netrc.chmod(0o644)
    result = cli("login", "--save-token", "--netrc", str(netrc))
    assert result.code == 1 and "chmod 600" in result.err
    assert netrc.read_text() == "machine other.example.org login x password y\n"
