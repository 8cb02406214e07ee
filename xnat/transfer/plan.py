"""How to move many files: one request per file in parallel, or one archive, whichever is faster.

A pure decision from what is known before the transfer starts: how many files, how big,
the measured round-trip time to the server and how many transfers may run at once. The
rule compares two estimates (seconds; the bytes themselves cost the same either way, so
they are left out of both):

* **per file**: the files go ``workers`` at a time, so their round trips overlap ``workers``
  at a time; the server's handling of each request overlaps only as far as the server has
  cores for it (:data:`SERVER_PARALLELISM`)::

      per_file = ceil(count / workers) * round_trip
                 + count * PER_REQUEST_S / min(workers, SERVER_PARALLELISM)

* **one archive**: one request, a fixed cost for the server to start the archive, and a
  small cost per entry (its header, creating the file here)::

      archive = round_trip + ARCHIVE_SETUP_S + count * ARCHIVE_PER_FILE_S

The archive is chosen when it is the faster of the two, and only when every size is known
and the files are small on average (at most :data:`ARCHIVE_MAX_AVERAGE_SIZE`): a big file
goes on its own, where a dropped connection resumes instead of restarting the archive.
On loopback (round trip ~1 ms, 4 workers) the archive wins from about 50 files; over a
20 ms link from about 12. A longer round trip never turns the choice back to per file.
The constants come from the embedded server and are deliberately conservative.

Over a slow link the choice itself costs a round trip: the sizes come from a listing.
:func:`ask_archive_early` says when to ask for the archive at the same time as the
listing (two connections, one round trip): from :data:`EARLY_ARCHIVE_MIN_ROUND_TRIP`, where
a round trip saved is worth an archive the server starts and may be told to drop, and for
at most :data:`EARLY_ARCHIVE_MAX_SOURCES` listings at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["ARCHIVE_MAX_AVERAGE_SIZE", "ARCHIVE_PER_FILE_S", "ARCHIVE_SETUP_S", "DEFAULT_ROUND_TRIP",
           "EARLY_ARCHIVE_MAX_SOURCES", "EARLY_ARCHIVE_MIN_ROUND_TRIP", "PER_REQUEST_S", "SERVER_PARALLELISM",
           "archive_seconds", "ask_archive_early", "choose_method", "per_file_seconds"]

#: The server's handling of one file request, beyond the round trip.
PER_REQUEST_S = 0.005
#: How many requests a server handles at once at full speed (its cores).
SERVER_PARALLELISM = 4
#: What starting an archive costs the server, beyond the round trip.
ARCHIVE_SETUP_S = 0.05
#: One entry of an archive: its header, creating the file locally.
ARCHIVE_PER_FILE_S = 0.0005
#: The round trip assumed when none was measured: loopback's.
DEFAULT_ROUND_TRIP = 0.001
#: Files bigger than this on average go one by one (they resume after a drop).
ARCHIVE_MAX_AVERAGE_SIZE = 1024 * 1024
#: From this measured round trip on, the archive is asked for while the listing is read.
EARLY_ARCHIVE_MIN_ROUND_TRIP = 0.005
#: At most this many archives are asked for early (a project's many subjects are not).
EARLY_ARCHIVE_MAX_SOURCES = 2


def per_file_seconds(count: int, round_trip: float, workers: int) -> float:
    """The estimated time of ``count`` requests, ``workers`` at a time."""
    workers = max(workers, 1)
    return (math.ceil(count / workers) * max(round_trip, 0.0)
            + count * PER_REQUEST_S / min(workers, SERVER_PARALLELISM))


def archive_seconds(count: int, round_trip: float) -> float:
    """The estimated time of one archive of ``count`` files."""
    return max(round_trip, 0.0) + ARCHIVE_SETUP_S + count * ARCHIVE_PER_FILE_S


def choose_method(sizes: Sequence[int | None], round_trip: float | None, workers: int) -> str:
    """``"archive"`` or ``"per_file"`` for files of these ``sizes`` (None: unknown); see the module docstring."""
    if round_trip is None:
        round_trip = DEFAULT_ROUND_TRIP
    count = len(sizes)
    if count < 2 or any(size is None for size in sizes):
        return "per_file"
    if sum(size or 0 for size in sizes) / count > ARCHIVE_MAX_AVERAGE_SIZE:
        return "per_file"
    if archive_seconds(count, round_trip) < per_file_seconds(count, round_trip, workers):
        return "archive"
    return "per_file"


def ask_archive_early(sources: int, round_trip: float | None) -> bool:
    """Whether to ask for the archives of ``sources`` listings while the listings are read.

    Only over a measured slow link (on loopback a round trip costs less than an archive
    the server starts for nothing) and for a few sources at once.
    """
    return (round_trip is not None and round_trip >= EARLY_ARCHIVE_MIN_ROUND_TRIP
            and 0 < sources <= EARLY_ARCHIVE_MAX_SOURCES)
