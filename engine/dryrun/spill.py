"""Partitioning rows by member onto disk, so memory follows partitions, not the file.

A member's rows all land in one partition: ``crc32(member id) % partitions``, a hash
that is the same in every process and on every machine (Python's ``hash`` of a
string is salted per process, so it is never used here). Rows are already-validated
events as plain tuples (:mod:`.rows`), pickled in chunks to one file per partition
in a private temporary folder that only this run writes and reads; a worker reads
one partition back, replays it and forgets it. The number of partitions follows the
input's size, so a partition holds a bounded number of rows however long the history is.
"""

from __future__ import annotations

import gc
import io
import pickle
import shutil
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["stable_partition", "partition_count", "Spill", "PartitionFile", "read_partition", "ROWS_PER_PARTITION"]

ROWS_PER_PARTITION = 40_000
_BYTES_PER_ROW = 120  # a typical JSON Lines event
# Rows are pickled a few at a time, while they are still in the processor's cache (a big
# buffer of rows is slower to pickle than the same rows in small ones), and the pickles
# are written out once a partition has gathered enough of them.
_CHUNK = 64
_WRITE_BYTES = 1 << 18  # per partition; less when there are many: all buffers stay under _BUFFERED
_BUFFERED = 32 << 20
MAX_PARTITIONS = 512
_ROWS, _SEEDS = 0, 1  # the kind of a chunk: event rows, or member seeds


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
    """Open while reading: ``add(member, row)`` and ``add_seed(member, seed)`` buffer,
    ``close()`` writes everything out."""

    partitions: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="punchcard-dryrun-")))
    files: list[PartitionFile] = field(default_factory=list)
    _buffers: list[list] = field(default_factory=list)  # rows not yet pickled, per partition
    _seeds: list[list] = field(default_factory=list)
    _pickled: list[list] = field(default_factory=list)  # pickles not yet written, per partition
    _sizes: list[int] = field(default_factory=list)
    _where: dict = field(default_factory=dict)  # member -> partition: the hash once per member

    def __post_init__(self):
        self.files = [PartitionFile(i, self.root / f"part-{i:04d}.pickle") for i in range(self.partitions)]
        self._buffers = [[] for _ in range(self.partitions)]
        self._seeds = [[] for _ in range(self.partitions)]
        self._pickled = [[] for _ in range(self.partitions)]
        self._sizes = [0] * self.partitions
        self._write_bytes = max(min(_WRITE_BYTES, _BUFFERED // self.partitions), 1 << 16)

    def index(self, member: Any) -> int:
        index = self._where.get(member)
        if index is None:
            index = self._where[member] = stable_partition(member, self.partitions)
        return index

    def add(self, member: Any, row: tuple) -> None:
        index = self.index(member)
        buffer = self._buffers[index]
        buffer.append(row)
        if len(buffer) >= _CHUNK:
            self._pickle(index, _ROWS, buffer)
            self._buffers[index] = []

    def add_seed(self, member: Any, seed) -> None:
        index = self.index(member)
        self._seeds[index].append(seed)
        self.files[index].seeds += 1

    def _pickle(self, index: int, kind: int, items: list) -> None:
        blob = pickle.dumps((kind, items), protocol=pickle.HIGHEST_PROTOCOL)
        self._pickled[index].append(blob)
        self._sizes[index] += len(blob)
        if kind == _ROWS:
            self.files[index].rows += len(items)
        if self._sizes[index] >= self._write_bytes:
            self._write(index)

    def _write(self, index: int) -> None:
        if self._pickled[index]:
            with open(self.files[index].path, "ab") as handle:
                handle.writelines(self._pickled[index])
            self._pickled[index], self._sizes[index] = [], 0

    def close(self) -> None:
        for index in range(self.partitions):
            for kind, buffers in ((_ROWS, self._buffers), (_SEEDS, self._seeds)):
                if buffers[index]:
                    self._pickle(index, kind, buffers[index])
                    buffers[index] = []
            self._write(index)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def read_partition(path: str | Path) -> tuple[list, list]:
    """(rows, seeds) spilled to one partition, each in the order they were added. Only ever
    a file this run wrote itself in its own temporary folder: pickle is not for other input.

    Plain tuples make no reference cycles, so the cycle collector is kept out of the load:
    it would otherwise walk the growing partition over and over."""
    rows: list = []
    seeds: list = []
    if not Path(path).exists():
        return rows, seeds
    data = Path(path).read_bytes()
    stream = io.BytesIO(data)
    enabled = gc.isenabled()
    gc.disable()
    try:
        while stream.tell() < len(data):
            kind, chunk = pickle.load(stream)
            (rows if kind == _ROWS else seeds).extend(chunk)
    finally:
        if enabled:
            gc.enable()
    return rows, seeds
