"""URI rules and the identity map, without a server."""

from __future__ import annotations

import gc

from xnat.classes.rest import IdentityMap, identity_key, normalize_uri, split_uri


class Thing:
    pass


def test_uri_spellings_meet() -> None:
    assert normalize_uri("/REST/projects/P/") == "/data/projects/P"
    assert normalize_uri("/data/archive/experiments/E?format=json") == "/data/experiments/E"
    assert split_uri("/data/experiments/E/scans/1/resources/9/files/a/b.dcm") == [
        ("experiments", "E"), ("scans", "1"), ("resources", "9"), ("files", "a/b.dcm")]
    assert split_uri("/data/experiments/A/out/resources/R") == [("experiments", "A"), ("resources", "R")]
    long = "/data/archive/projects/P/subjects/XNAT_S00001/experiments/XNAT_E00002"
    assert identity_key(long) == identity_key("/data/experiments/XNAT_E00002") == ("experiment", "XNAT_E00002")
    assert identity_key("/data/projects/P/subjects/label_only", "XNAT_S00009") == ("subject", "XNAT_S00009")
    assert identity_key("/data/projects/P") == ("project", "P")
    assert identity_key(f"{long}/scans/1") == identity_key("/data/experiments/XNAT_E00002/scans/1")
    assert identity_key("/data/experiments/XNAT_E00002/scans/1/resources/12") == ("resource", "12")
    assert identity_key("/data/projects/P/resources/NOTES") == ("uri", "/data/projects/P/resources/NOTES")


def test_identity_map_keeps_recent_objects_and_lets_the_rest_go() -> None:
    identity = IdentityMap(keep=3)
    made = [identity.get_or_create(("uri", str(i)), Thing) for i in range(10)]
    assert identity.get_or_create(("uri", "4"), Thing) is made[4]
    del made
    gc.collect()
    assert len(identity) == 3  # the three most recently used
    assert identity.get(("uri", "4")) is not None and identity.get(("uri", "0")) is None
    identity.clear()
    gc.collect()
    assert len(identity) == 0
    held = identity.get_or_create(("uri", "x"), Thing)
    identity.remove(("uri", "x"))
    assert ("uri", "x") not in identity and held is not None


def test_identity_map_sweeps_the_entries_of_dead_objects() -> None:
    identity = IdentityMap(keep=0)
    for i in range(3000):
        identity.get_or_create(("experiment", str(i)), Thing)   # each dies at once
    gc.collect()
    assert len(identity) == 0
    assert len(identity._spaces["experiment"]) <= 1025          # swept as the space grew
    alive = identity.get_or_create(("experiment", "x"), Thing)
    assert identity.get(("experiment", "x")) is alive and ("experiment", "x") in identity


def test_listing_rows_hold_their_objects_and_let_go_of_them_when_released() -> None:
    from xnat.classes.rest import RowObjects

    identity = IdentityMap(keep=0)
    alone = identity.get_or_create(("experiment", "E2"), Thing)       # made alone, before the listing
    rows = RowObjects("experiment", ["E1", "E2", "E3"])
    refreshed: list[int] = []
    made = identity.get_or_create_rows("experiment", rows, range(3), lambda i: Thing(),
                                       lambda i, obj: refreshed.append(i))
    assert made[1] is alone and refreshed == [1] and rows.objects == made
    assert identity.get_or_create_rows("experiment", rows, range(2, 3), lambda i: Thing(), print)[0] is made[2]
    gc.collect()
    assert identity.get(("experiment", "E3")) is made[2] and ("experiment", "E1") in identity
    other = RowObjects("experiment", ["E3", "E4"])                    # another listing meets the same E3
    again = identity.get_or_create_rows("experiment", other, range(2), lambda i: Thing(), lambda i, o: None)
    assert again[0] is made[2] and len(identity) == 4
    kept = made[0]
    del made, again, alone
    identity.release(rows)
    identity.release(other)
    gc.collect()
    assert identity.get(("experiment", "E1")) is kept                 # still used: still found
    assert identity.get(("experiment", "E3")) is None and len(identity) == 1
    identity.remove(("experiment", "E1"))
    assert identity.get(("experiment", "E1")) is None
