"""The file of an extracted archive entry: held in memory while small, put on disk once verified.

An archive arrives in pieces of a few KB (what the socket hands over), so an entry of
16 KB used to reach its file in three writes. :class:`EntryFile` holds an entry's bytes in
memory up to :data:`HOLD_MAX` and creates the file only at :meth:`~EntryFile.commit`, once
the entry's CRC and size are checked: one write per small file, and a corrupt small entry
never touches the disk. A bigger entry goes on to its temporary file as it arrives (memory
stays bounded). Either way the bytes reach the target name only by the atomic rename of a
verified temporary file (:class:`~xnat.transfer.download.TempFileSink`).
"""

from __future__ import annotations

from pathlib import Path

from .download import TempFileSink

__all__ = ["HOLD_MAX", "EntryFile"]

#: Entries up to this size stay in memory until verified, then go to disk in one write.
HOLD_MAX = 1 << 20


class EntryFile:
    """Where one entry's bytes go before it is verified; see the module documentation."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.written = 0
        self._held: list[bytes] = []
        self._file: TempFileSink | None = None

    def write(self, data: bytes) -> None:
        if self._file is None and self.written + len(data) > HOLD_MAX:
            self._file = TempFileSink(self.target)
            for held in self._held:
                self._file.write(held)
            self._held = []
        if self._file is not None:
            self._file.write(data)
        else:
            self._held.append(data)
        self.written += len(data)

    def commit(self, overwrite: bool) -> None:
        """Put the verified bytes under the target name (a temporary file renamed onto it).

        On failure the caller calls :meth:`discard`, which removes the temporary file.
        """
        if self._file is None:
            self._file = TempFileSink(self.target)
            self._file.write(b"".join(self._held))
            self._held = []
        self._file.commit(overwrite)

    def discard(self) -> None:
        """Drop the bytes; nothing is left on disk (safe after a failed :meth:`commit`)."""
        self._held = []
        if self._file is not None:
            self._file.discard()
