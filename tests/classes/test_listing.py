"""XNATListing over a fake fetch: indexing, caching, filters, tables, reprs, memory."""

from __future__ import annotations

import tracemalloc

import pytest

from xnat.classes.listing import XNATListing
from xnat.exceptions import XNATKeyError, XNATValueError


class Obj:
    def __init__(self, row):
        self.row = row
        self.id = row["ID"]

    def __repr__(self):
        return f"<Obj {self.id}>"


def make_rows(count):
    return [
        {"ID": f"XNAT_E{i:05d}", "label": f"S{i:03d}_MR", "xsiType": "xnat:mrSessionData", "date": "2020-01-02",
         "project": "P1", "URI": f"/data/experiments/XNAT_E{i:05d}"}
        for i in range(count)
    ]


class Fetcher:
    def __init__(self, rows):
        self.rows = rows
        self.calls = []

    def __call__(self, uri, query):
        self.calls.append((uri, dict(query)))
        return [dict(row) for row in self.rows]


def listing_of(rows, **kwargs):
    fetch = Fetcher(rows)
    return XNATListing("/data/projects/P1/experiments", fetch, lambda row, listing: Obj(row), **kwargs), fetch


def test_index_by_id_label_position_and_slice_with_one_request():
    listing, fetch = listing_of(make_rows(5), columns=["ID", "URI", "label", "xsiType", "date"])
    assert listing["XNAT_E00002"].id == "XNAT_E00002"
    assert listing["S003_MR"].id == "XNAT_E00003"
    assert listing[0].id == "XNAT_E00000"
    assert listing[-1].id == "XNAT_E00004"
    assert [o.id for o in listing[1:3]] == ["XNAT_E00001", "XNAT_E00002"]
    assert len(listing) == 5
    assert listing.keys()[0] == "XNAT_E00000"
    assert [o.id for o in listing][:2] == ["XNAT_E00000", "XNAT_E00001"]
    assert "S001_MR" in listing and "XNAT_E00001" in listing and "nope" not in listing
    assert listing[0] in listing
    assert len(fetch.calls) == 1
    assert fetch.calls[0][1]["columns"] == "ID,URI,label,xsiType,date"


def test_missing_and_ambiguous_keys_are_clear_errors():
    rows = make_rows(3)
    rows[2]["label"] = rows[1]["label"]
    listing, _ = listing_of(rows)
    with pytest.raises(KeyError, match="several entries.*XNAT_E00001, XNAT_E00002.*use the ID"):
        listing["S001_MR"]
    with pytest.raises(XNATKeyError, match="no entry with ID or label 'S009_MR'.*did you mean"):
        listing["S009_MR"]
    with pytest.raises(IndexError, match="has 3 entries, no index 7"):
        listing[7]
    with pytest.raises(KeyError, match="not float"):
        listing[1.5]
    assert listing.get("nothing") is None


def test_cache_and_clearcache():
    listing, fetch = listing_of(make_rows(2))
    len(listing), len(listing)
    assert len(fetch.calls) == 1
    listing.clearcache()
    len(listing)
    assert len(fetch.calls) == 2
    listing.caching = False
    len(listing), len(listing)
    assert len(fetch.calls) == 4


def test_filter_is_server_side_and_keeps_settings():
    listing, fetch = listing_of(make_rows(2), columns=["ID", "label"])
    narrowed = listing.filter(label="S0*", xsiType="xnat:mrSessionData")
    len(narrowed)
    assert fetch.calls[-1][1] == {"format": "json", "columns": "ID,label", "label": "S0*", "xsiType": "xnat:mrSessionData"}
    assert narrowed.secondary_key == listing.secondary_key and narrowed.columns == listing.columns
    with pytest.raises(XNATValueError):
        listing.filter(label=["a"])


def test_tables():
    listing, fetch = listing_of(make_rows(2))
    table = listing.tabulate(columns=["ID", "label"])
    assert table[1].label == "S001_MR"
    assert fetch.calls[-1][1]["columns"] == "ID,label"
    assert listing.tabulate_csv(columns=["ID", "label"]).splitlines() == ["ID,label", "XNAT_E00000,S000_MR", "XNAT_E00001,S001_MR"]
    assert listing.tabulate_dict(columns=["label"]) == [{"label": "S000_MR"}, {"label": "S001_MR"}]


def test_reprs_never_fetch():
    listing, fetch = listing_of(make_rows(12))
    assert "not loaded" in repr(listing) and "not loaded" in listing._repr_html_()
    assert fetch.calls == []
    len(listing)
    text = repr(listing)
    assert text.startswith("<XNATListing (XNAT_E00000, S000_MR): <Obj XNAT_E00000>, (XNAT_E00001, S001_MR)")
    assert "2 more" in text
    assert "<td>S011_MR</td>" in listing._repr_html_()
    assert "S005_MR" in listing._ipython_key_completions_()
    assert len(fetch.calls) == 1


def test_rows_are_compact():
    rows = make_rows(20000)
    listing, _ = listing_of(rows)
    tracemalloc.start()
    len(listing)
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # The fake fetch's own copy is freed once rows are stored; what stays is the listing.
    assert size / len(rows) < 400, f"{size / len(rows):.0f} bytes per row"


def test_rows_are_stored_by_column_and_read_as_text() -> None:
    from xnat.classes.listing import ListingRows, RowView

    rows = ListingRows([{"ID": "A", "n": 3, "tags": ["x"]}, {"ID": "B", "n": None, "extra": "e", "tags": ["y"]},
                        {"ID": "C", "n": 5, "tags": ["x"]}])
    assert rows.columns == ("ID", "n", "tags", "extra") and len(rows) == 3
    assert rows.value(0, "n") == "3" and rows.value(1, "n") == "" and rows.value(0, "extra") == ""
    assert rows.value(1, "extra") == "e" and rows.value(0, "nosuch") is None
    assert rows.rows[2] == ("C", "5", "['x']", "")        # an unhashable column is kept as parsed
    view = RowView(rows, 1)
    assert view["ID"] == "B" and view.get("n") == "" and view.get("nosuch", "-") == "-"
    assert dict(view) == rows.as_dict(1)
    shared = ListingRows([{"t": "xnat:mrSessionData" + ""}, {"t": "".join(["xnat:mrSession", "Data"])}])
    assert shared.data[0][0] is shared.data[0][1]          # a repeated value is stored once
    assert len(ListingRows([])) == 0 and ListingRows([]).rows == []


def test_duplicate_ids_and_ambiguous_labels_keep_their_lookup_rules() -> None:
    rows = [{"ID": "E1", "label": "L"}, {"ID": "E2", "label": "L"}, {"ID": "E3", "label": "M"}]
    listing = XNATListing("/data/experiments", lambda uri, query: [dict(r) for r in rows], lambda row, _: Obj(row))
    assert listing["E2"].id == "E2" and listing["M"].id == "E3"
    with pytest.raises(XNATKeyError, match="several entries"):
        listing["L"]
    assert [o.id for o in listing.values()] == ["E1", "E2", "E3"] == [o.id for o in listing]


def test_a_repeated_value_and_a_uri_made_of_the_id_are_held_once() -> None:
    from xnat.classes.listing import ListingRows, RowView

    rows = ListingRows(make_rows(300))
    project, uri = rows.column("project"), rows.column("URI")
    assert type(project) is not list and type(uri) is not list      # held as one value / a prefix
    assert list(project) == ["P1"] * 300 and project[-1] == "P1" and project[2:4] == ["P1", "P1"]
    assert uri[7] == "/data/experiments/XNAT_E00007" == RowView(rows, 7)["URI"]
    assert list(uri) == [row["URI"] for row in make_rows(300)] and uri[:2] == list(uri)[:2]
    with pytest.raises(IndexError):
        project[300]
    # A URI that is not prefix + ID, or a column whose values differ, stays a list.
    odd = make_rows(3)
    odd[1]["URI"] = "/data/experiments/other"
    odd[2]["project"] = "P2"
    kept = ListingRows(odd)
    assert type(kept.column("URI")) is list and type(kept.column("project")) is list
    assert kept.value(1, "URI") == "/data/experiments/other" and kept.value(2, "project") == "P2"
    tracemalloc.start()
    compact = ListingRows(make_rows(20000))
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(compact) == 20000
    # ID and label (two strings of ~60 bytes) and a few pointers per row; no URI string.
    assert size / 20000 < 200, f"{size / 20000:.0f} bytes per row"


def test_making_objects_pauses_the_collector_and_restores_it() -> None:
    """Objects are made with the cyclic collector off (it would rescan them every 700), and
    it is back as it was afterwards: on, off, or after a failure."""
    import gc

    seen = []

    def make(row, listing):
        seen.append(gc.isenabled())
        return Obj(row)

    listing = XNATListing("/data/projects/P1/experiments", Fetcher(make_rows(3)), make)
    assert gc.isenabled()
    assert len(listing.values()) == 3 and seen == [False, False, False]
    assert gc.isenabled()
    gc.disable()
    try:
        listing.values()
        assert not gc.isenabled()  # a script that switched it off keeps it off
    finally:
        gc.enable()

    def broken(row, listing):
        raise RuntimeError("cannot make this one")

    failing = XNATListing("/data/projects/P1/experiments", Fetcher(make_rows(2)), broken)
    with pytest.raises(RuntimeError, match="cannot make"):
        failing.values()
    assert gc.isenabled()
