"""pyxnat's ``collection.where([...])``, its RPN constraint strings, unordered constraint
lists, and ``//level`` paths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xnat.compat.paths import parse_path, routes
from xnat.compat.pyxnat import Interface, InterfaceError
from xnat.compat.search import constraints_from, rpn
from xnat.criteria import CompoundConstraint
from xnat.testing import XNATServer

AGES = {"S1": "25", "S2": "35", "S3": "45"}


@pytest.fixture(scope="module")
def x(server: XNATServer) -> Iterator[Interface]:
    interface = Interface(server=server.url, user="admin", password="admin")
    project = interface.select.project("WHERE")
    project.create()
    for label, age in AGES.items():
        subject = project.subject(label)
        subject.create()
        subject.attrs.set("xnat:subjectData/group", "patient" if label != "S2" else "control")
        experiment = subject.experiment(f"{label}_MR")
        experiment.create(experiments="xnat:mrSessionData")
        experiment.attrs.set("xnat:mrSessionData/age", age)
        experiment.scan("1").create(scans="xnat:mrScanData")
        experiment.scan("1").resource("NIFTI").file("a.nii").put(b"nifti " + label.encode())
    yield interface
    interface.disconnect()


OLDER = [("xnat:mrSessionData/AGE", ">", "30"), "AND"]


def labels(collection: object) -> list[str]:
    return sorted(obj.label() for obj in collection)  # type: ignore[attr-defined]


def test_where_keeps_subjects_and_their_experiments_by_a_session_field(x: Interface) -> None:
    project = x.select.project("WHERE")
    assert labels(project.subjects().where(OLDER)) == ["S2", "S3"]
    assert labels(project.subjects().experiments().where(OLDER)) == ["S2_MR", "S3_MR"]
    assert labels(x.select("/project/WHERE/subjects/*/experiments/*").where(OLDER)) == ["S2_MR", "S3_MR"]
    assert labels(x.select("//experiments").where(OLDER)) == ["S2_MR", "S3_MR"]


def test_where_works_without_a_subject_level_in_the_chain(x: Interface) -> None:
    """pyxnat fails on ``project.experiments().where``; here the listing row names the subject."""
    first = x.select.project("WHERE").experiments().first()
    assert first._row["subject_ID"] == x.select.project("WHERE").subject(first.label()[:2]).id()
    assert labels(x.select.project("WHERE").experiments().where(OLDER)) == ["S2_MR", "S3_MR"]
    assert labels(x.select.experiments().where(OLDER)) == ["S2_MR", "S3_MR"]
    scans = x.select.project("WHERE").experiments().scans().where([("xnat:subjectData/SUB_GROUP", "=", "control"), "AND"])
    assert [scan.id() for scan in scans] == ["1"]


def test_where_joins_constraints_of_several_types(x: Interface) -> None:
    both = [("xnat:mrSessionData/AGE", ">", "30"), ("xnat:subjectData/SUB_GROUP", "=", "patient"), "AND"]
    either = [("xnat:mrSessionData/AGE", "<", "30"), ("xnat:subjectData/SUB_GROUP", "=", "control"), "OR"]
    subjects = x.select.project("WHERE").subjects()
    assert labels(subjects.where(both)) == ["S3"]
    assert labels(subjects.where(either)) == ["S1", "S2"]
    assert labels(subjects.where("xnat:mrSessionData/AGE > 30 xnat:subjectData/SUB_GROUP = patient AND")) == ["S3"]


def test_where_that_matches_nothing_keeps_nothing(x: Interface) -> None:
    """pyxnat turns an empty match into an empty OR that keeps every subject."""
    assert x.select.project("WHERE").subjects().where([("xnat:subjectData/SUB_GROUP", "=", "nobody"), "AND"]).get() == []


def test_where_filters_what_is_chained_after_it(x: Interface) -> None:
    older = x.select.project("WHERE").subjects().where(OLDER)
    assert sorted(older.experiments().get("label")) == ["S2_MR", "S3_MR"]
    assert len(older.experiments().scans().resources().files()) == 2


def test_where_on_projects_and_bad_constraints_are_clear_errors(x: Interface) -> None:
    with pytest.raises(InterfaceError, match="projects have none"):
        x.select.projects().where(OLDER)
    with pytest.raises(InterfaceError, match="needs constraints"):
        x.select.project("WHERE").subjects().where()
    with pytest.raises(InterfaceError, match="not a search field"):
        x.select.project("WHERE").subjects().where([("AGE", ">", "3"), "AND"])


def test_search_takes_rpn_strings_and_unordered_lists(x: Interface) -> None:
    search = x.select("xnat:mrSessionData", ["xnat:mrSessionData/LABEL"])
    assert sorted(search.where("xnat:mrSessionData/AGE > 30 AND")["label"]) == ["S2_MR", "S3_MR"]
    middle = [("xnat:mrSessionData/AGE", ">", "30"), "AND", [("xnat:mrSessionData/AGE", "<", "40"), "OR"]]
    assert search.where(middle)["label"] == "S2_MR"  # one row: its value alone, as pyxnat answers


def test_rpn_reads_postfix_joins() -> None:
    a, b, c = ("a/A", "=", "1"), ("b/B", "=", "2"), ("c/C", "=", "3")
    assert rpn("a/A = 1 b/B = 2 AND") == [a, b, "AND"]
    assert rpn("a/A = 1 b/B = 2 c/C = 3 OR AND") == [[a, b, c, "OR"], "AND"]  # as pyxnat reads it
    assert rpn("a/A = 1 b/B = 2 OR c/C = 3 AND") == [[a, b, "OR"], c, "AND"]  # (a OR b) AND c
    assert rpn("a/A = AND AND") == [("a/A", "=", "AND"), "AND"]  # a value may be a keyword
    tree = constraints_from("a/A = 1 b/B = 2 OR c/C = 3 AND")
    assert isinstance(tree, CompoundConstraint) and tree.operator == "AND"
    assert isinstance(tree.constraints[0], CompoundConstraint) and tree.constraints[0].operator == "OR"


@pytest.mark.parametrize("expression, message", [
    ("a/A = 1 b/B = 2", "does not end with AND or OR"),
    ("AND", "nothing before it"),
    ("a/A = 1 b/B AND", "not a whole"),
    ("a/A = 1 b/B = 2 AND c/C = 3", "does not end with AND or OR"),
])
def test_bad_rpn_says_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        rpn(expression)


def test_a_list_saying_both_and_and_or_is_refused() -> None:
    with pytest.raises(InterfaceError, match="both AND and OR"):
        constraints_from([("a/A", "=", "1"), "AND", ("b/B", "=", "2"), "OR"])
    with pytest.raises(InterfaceError, match="AND' or 'OR', not"):
        constraints_from([("a/A", "=", "1"), "XOR"])


def test_double_slash_paths_expand_to_every_route() -> None:
    assert routes("//experiments") == [[("projects", "*"), ("subjects", "*"), ("experiments", "*")]]
    assert parse_path("/project/P//experiments/*MR*") == [("projects", "P"), ("subjects", "*"), ("experiments", "*MR*")]
    under_scans = [("projects", "P"), ("subjects", "*"), ("experiments", "*"), ("scans", "*"), ("resources", "*")]
    assert under_scans in routes("/project/P//resources")
    assert len(routes("/project/P//resources")) == 5  # project, subject, experiment, scan, assessor
    assert len(routes("//files")) == 9


def test_double_slash_selects_across_routes(x: Interface) -> None:
    assert sorted(x.select("/project/WHERE//experiments").get("label")) == ["S1_MR", "S2_MR", "S3_MR"]
    assert sorted(x.select("/project/WHERE//files").get()) == ["a.nii"] * 3
    assert x.select("/project/WHERE//resources/NIFTI").get("label") == ["NIFTI"] * 3
    assert labels(x.select("//subjects").where(OLDER)) == ["S2", "S3"]
    assert x.select("/") is x.select


@pytest.mark.parametrize("path, message", [
    ("///experiments", "starts with '/'"),
    ("/project/P///files", "followed by a level name"),
    ("//widgets", "'widgets' is not a level"),
    ("/project/P/subject/S//projects", "no projects below subjects"),
])
def test_bad_double_slash_paths_say_what_is_wrong(x: Interface, path: str, message: str) -> None:
    with pytest.raises(InterfaceError, match=message):
        x.select(path)
