"""One module per workload.

Each module has two halves that never import each other's world:

* ``client(params, probe) -> dict`` runs *inside* a fresh subprocess (loaded by file path
  by ``_child.py``) with the interpreter of the implementation measured; it imports only
  the standard library and the library under test, inside the function.
* ``measure(bench) -> list[Row]`` runs in the harness: it plans the runs, alternates the
  implementations and turns the results into table rows. ``FIGURES`` names its rows so a
  broken workload can still be reported.
"""

from . import bids_export, connect, download, import_time, listing, map_scale, pyxnat_select, transfer_dir

ALL = {
    "import": import_time,
    "connect": connect,
    "listing": listing,
    "pyxnat_select": pyxnat_select,
    "download": download,
    "transfer_dir": transfer_dir,
    "map_scale": map_scale,
    "bids_export": bids_export,
}
