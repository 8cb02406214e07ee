"""The choice between a request per file and one archive: a pure function of count, sizes, round trip, workers."""

from __future__ import annotations

import pytest

from xnat.transfer import plan

SMALL = 16 * 1024


@pytest.mark.parametrize("count, round_trip, workers, expected", [
    (10, 0.001, 4, "per_file"),     # a few files on loopback: requests are cheap
    (200, 0.001, 4, "archive"),     # many on loopback: the per-request cost adds up
    (2000, 0.001, 16, "archive"),
    (10, 0.020, 4, "per_file"),     # 3 waves of 20 ms against one archive
    (30, 0.020, 4, "archive"),      # 8 waves of 20 ms: the archive wins over a real link
    (500, 0.020, 8, "archive"),
    (30, 0.020, 32, "per_file"),    # enough parallelism: one wave is as fast as the archive
])
def test_the_faster_estimate_wins(count, round_trip, workers, expected) -> None:
    assert plan.choose_method([SMALL] * count, round_trip, workers) == expected
    per_file = plan.per_file_seconds(count, round_trip, workers)
    archive = plan.archive_seconds(count, round_trip)
    assert (archive < per_file) == (expected == "archive")


def test_a_longer_round_trip_never_favours_per_file() -> None:
    for count in range(2, 300):
        choices = [plan.choose_method([SMALL] * count, trip / 1000, 4) for trip in range(0, 200, 5)]
        first_archive = choices.index("archive") if "archive" in choices else len(choices)
        assert all(choice == "archive" for choice in choices[first_archive:]), count


def test_unknown_or_big_sizes_go_one_by_one() -> None:
    assert plan.choose_method([SMALL] * 499 + [None], 0.05, 4) == "per_file"
    assert plan.choose_method([2 * plan.ARCHIVE_MAX_AVERAGE_SIZE] * 500, 0.05, 4) == "per_file"
    assert plan.choose_method([SMALL], 1.0, 1) == "per_file"  # one file is one request either way
    assert plan.choose_method([], 0.05, 4) == "per_file"


def test_an_unmeasured_round_trip_is_taken_as_loopback() -> None:
    sizes = [SMALL] * 60
    assert plan.choose_method(sizes, None, 4) == plan.choose_method(sizes, plan.DEFAULT_ROUND_TRIP, 4)


def test_the_archive_is_asked_early_only_over_a_measured_slow_link_for_few_sources() -> None:
    slow = plan.EARLY_ARCHIVE_MIN_ROUND_TRIP
    assert plan.ask_archive_early(1, slow)
    assert plan.ask_archive_early(plan.EARLY_ARCHIVE_MAX_SOURCES, 0.5)
    assert not plan.ask_archive_early(1, None)  # not measured
    assert not plan.ask_archive_early(1, slow / 2)  # loopback: a round trip is cheaper than a wasted archive
    assert not plan.ask_archive_early(plan.EARLY_ARCHIVE_MAX_SOURCES + 1, 0.5)  # a project of many subjects
    assert not plan.ask_archive_early(0, 0.5)
