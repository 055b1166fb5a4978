"""Partitioning rows by member onto disk, so memory follows partitions, not the file.

A member's rows all land in one partition: ``crc32(member id) % partitions``, a hash
that is the same in every process and on every machine (Python's ``hash`` of a
string is salted per process, so it is never used here). Rows are pickled in chunks
to one file per partition; a worker reads one partition back, replays it and
forgets it. The number of partitions follows the input's size, so a partition holds
a bounded number of rows however long the history is.
"""

from __future__ import annotations

import pickle
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

__all__ = ["stable_partition", "partition_count", "Spill", "PartitionFile", "ROWS_PER_PARTITION"]

ROWS_PER_PARTITION = 40_000
_BYTES_PER_ROW = 120  # a typical JSON Lines event
_CHUNK = 2_000
MAX_PARTITIONS = 512


def stable_partition(member: Any, partitions: int) -> int:
    text = member if isinstance(member, str) else repr(member)
    return zlib.crc32(text.encode("utf-8", "surrogatepass")) % partitions


def partition_count(input_bytes: int, workers: int) -> int:
    """Enough partitions to keep each near ROWS_PER_PARTITION rows, and a few per worker."""
    by_size = -(-input_bytes // (_BYTES_PER_ROW * ROWS_PER_PARTITION))
    return max(min(by_size, MAX_PARTITIONS), 4 * max(workers, 1), 1)


@dataclass
class PartitionFile:
    index: int
    path: Path
    rows: int = 0
    seeds: int = 0


@dataclass
class Spill:
    """Open while reading: ``add(member, item)`` buffers, ``close()`` flushes everything."""

    partitions: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="punchcard-dryrun-")))
    files: list[PartitionFile] = field(default_factory=list)
    _buffers: list[list] = field(default_factory=list)

    def __post_init__(self):
        self.files = [PartitionFile(i, self.root / f"part-{i:04d}.pickle") for i in range(self.partitions)]
        self._buffers = [[] for _ in range(self.partitions)]

    def add(self, member: Any, item: tuple, seed: bool = False) -> None:
        index = stable_partition(member, self.partitions)
        buffer = self._buffers[index]
        buffer.append(item)
        if seed:
            self.files[index].seeds += 1
        else:
            self.files[index].rows += 1
        if len(buffer) >= _CHUNK:
            self._flush(index)

    def _flush(self, index: int) -> None:
        buffer = self._buffers[index]
        if buffer:
            with open(self.files[index].path, "ab") as handle:
                pickle.dump(buffer, handle, protocol=pickle.HIGHEST_PROTOCOL)
            self._buffers[index] = []

    def close(self) -> None:
        for index in range(self.partitions):
            self._flush(index)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def read_partition(path: Path) -> Iterator[tuple]:
    """Every item spilled to one partition, in the order it was added."""
    if not Path(path).exists():
        return
    with open(path, "rb") as handle:
        while True:
            try:
                chunk = pickle.load(handle)
            except EOFError:
                return
            yield from chunk
