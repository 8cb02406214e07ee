"""Classes are built the first time they are used: named, looked up, or needed as a base."""

from __future__ import annotations

import threading
import warnings

import pytest

from xnat.classes.factory import build_classes
from xnat.schema.model import SchemaModel

pytestmark = pytest.mark.reference


def _schema_chain(cls: type) -> list[str]:
    """The xsi types of ``cls`` and its generated bases (not the hand-written ones)."""
    return [c.__dict__["__xsi_type__"] for c in cls.__mro__ if c.__dict__.get("__xsi_type__")]


@pytest.fixture()
def fresh(real_model: SchemaModel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_classes(real_model)


def test_nothing_is_built_until_used_and_completion_builds_nothing(fresh) -> None:
    assert fresh.built() == {}
    names = dir(fresh)
    assert "MrSessionData" in names and len(names) == 517 + 5
    assert "xnat:mrSessionData" in fresh.lookup and "MrSessionData" in fresh and len(fresh.lookup) == 517
    assert sorted(fresh.lookup)[:1] and fresh.built() == {}  # keys, len and `in` build nothing
    assert "classes, 0 built" in repr(fresh)


def test_naming_a_class_builds_it_and_its_bases_only(fresh) -> None:
    mr = fresh.MrSessionData
    chain = _schema_chain(mr)
    assert chain[:4] == ["xnat:mrSessionData", "xnat:imageSessionData", "xnat:subjectAssessorData",
                         "xnat:experimentData"]
    assert set(fresh.built()) == set(chain)
    assert fresh.MrSessionData is mr and fresh["xnat:mrSessionData"] is mr and fresh.lookup["xnat:mrSessionData"] is mr
    assert "MrSessionData" in vars(fresh)  # later reads are plain attribute reads


def test_five_types_build_five_classes_and_their_bases(fresh) -> None:
    wanted = ["xnat:projectData", "xnat:subjectData", "xnat:mrSessionData", "xnat:mrScanData",
              "xnat:resourceCatalog"]
    for key in wanted:
        fresh.lookup.get(key)
    bases = {key for wanted_key in wanted for key in _schema_chain(fresh[wanted_key])}
    assert set(fresh.built()) == bases and len(bases) < 20


def test_unknown_types_build_nothing(fresh) -> None:
    assert fresh.lookup.get("xnat:noSuchData") is None and "xnat:noSuchData" not in fresh.lookup
    with pytest.raises(KeyError):
        fresh.lookup["xnat:noSuchData"]
    assert fresh.built() == {}


def test_a_hook_runs_on_classes_built_before_and_after(fresh) -> None:
    seen: list[str] = []
    project = fresh.ProjectData
    fresh.on_build("test", lambda cls: seen.append(cls.__xsi_type__))
    assert seen == list(fresh.built()) and "xnat:projectData" in seen
    fresh.on_build("test", lambda cls: seen.append("again:" + cls.__xsi_type__))  # replaces, runs on built ones
    fresh.SubjectData
    assert "again:xnat:subjectData" in seen and "xnat:subjectData" not in seen
    assert project is fresh.ProjectData


def test_iterating_builds_every_class(fresh) -> None:
    assert len(list(fresh)) == 517 and len(fresh.built()) == 517
    assert len(set(fresh.lookup.values())) == 517


def test_threads_asking_at_once_get_the_same_class(fresh) -> None:
    found: list[type] = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait(timeout=10)
        found.append(fresh["xnat:mrSessionData"])

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(found) == 8 and len(set(found)) == 1


def test_ipython_completes_every_class_name(fresh) -> None:
    pytest.importorskip("IPython")
    from IPython.core.completer import provisionalcompleter
    from IPython.testing.globalipapp import get_ipython

    shell = get_ipython()

    def complete(text: str) -> list[str]:
        with provisionalcompleter():
            return [c.text for c in shell.Completer.completions(text, len(text))]

    shell.user_ns["classes"] = fresh
    try:
        offered = complete("classes.")
        assert set(dir(fresh)) <= set(offered) and "MrSessionData" in offered
        # IPython (jedi) reads some of the classes it offers to show their kind, as many as its
        # time budget allows: those are built then, the rest stay names (dir() builds none).
        assert complete("classes.MrSe") == ["MrSessionData"]
    finally:
        shell.user_ns.pop("classes", None)


def test_a_model_read_from_json_builds_only_the_types_a_session_uses(real_model: SchemaModel) -> None:
    from xnat.schema.model import TypeTable

    model = SchemaModel.from_json(real_model.to_json())
    assert isinstance(model.types, TypeTable) and "0 built" in repr(model.types)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classes = build_classes(model)  # names and inheritance come from the checked headers
    assert "0 built" in repr(model.types)
    classes.MrSessionData
    built = int(repr(model.types).split(", ")[1].split()[0])
    assert 0 < built < 40  # the chain and the types its fields refer to, not 517
    assert model == real_model  # equal all the same (comparing reads every type)


def test_a_damaged_type_in_the_cache_is_named_when_read(real_model: SchemaModel) -> None:
    import json

    data = json.loads(real_model.to_json())
    data["types"]["xnat:mrSessionData"]["fields"] = [{"name": 5}]
    model = SchemaModel.from_json(json.dumps(data))  # the headers are fine: loaded
    assert model.types["xnat:subjectData"].key == "xnat:subjectData"
    with pytest.raises(ValueError, match="'xnat:mrSessionData' is damaged.*clear_cache"):
        model.types["xnat:mrSessionData"]
    data["types"]["xnat:mrSessionData"]["evil"] = "x"  # an unknown key is refused at load, like any damage
    with pytest.raises(ValueError, match="unexpected keys"):
        SchemaModel.from_json(json.dumps(data))
