"""The same partitioned dry-run on a Dask cluster (the optional ``dask`` extra).

Rows are numbered by their position (the line number for JSON Lines, the row
number for Parquet and data frames), prepared exactly as the local runner does
(:mod:`.rows`), keyed by the stable member hash and grouped into partitions on the
cluster; each group is replayed by the same :func:`.replay.replay_rows` and the
partials come back to merge here. Budget passes reuse the grouped (persisted) bag,
so a second pass does not shuffle again. The figures are those of ``--workers 1``.

From Python::

    from dask.distributed import Client
    from punchcard.engine.dryrun.formats import load_json
    client = Client("tcp://scheduler:8786")
    result = replay_bag(dask.bag.read_text("s3://bucket/events-*.jsonl").map(load_json), options)

From the command line: ``punchcard dry-run RULESET --events FILE --dask tcp://scheduler:8786``
(the file is read by the cluster, so its path must be one the workers can open).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .formats import InputError, detect, is_stdin, json_row, normalize_value
from .mapping import CsvTyping
from .passes import run_passes
from .replay import Job, replay_rows
from .rows import Scan, check_header, event_row, prepare
from .runner import Silent, finish, read_seeds_into, setup
from .sides import Side, same_events
from .spill import partition_count, stable_partition

__all__ = ["replay_bag", "replay_dataframe", "dry_run_on_dask", "events_bag"]


def _client(address: str, workers: int):
    from dask.distributed import Client, LocalCluster

    if address == "local":
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=workers > 1,
                               dashboard_address=None)
        return Client(cluster), cluster
    return Client(address), None


def dry_run_on_dask(options, address: str):
    """``punchcard dry-run --dask ADDRESS``: the events file read and replayed by the cluster."""
    if is_stdin(options.events):
        raise InputError("--dask reads the events file from the cluster's workers: give a file, not -")
    client, cluster = _client(address, options.workers)
    try:
        return _replay_numbered(events_bag(Path(options.events), options), options)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def events_bag(path: Path, options):
    """A bag of (line, raw row) for a JSON Lines, CSV or Parquet file, numbered as the local readers do."""
    import dask.bag as db
    import dask.dataframe as dd

    kind, gz = detect(path)
    if kind == "jsonl":
        lines = db.read_text(str(path), blocksize=None if gz else "64MiB", compression="gzip" if gz else None)
        return _numbered(lines, first=1).map(_json_row)
    if kind == "csv":
        frame = dd.read_csv(str(path), dtype=str, keep_default_na=False, blocksize=None if gz else "64MiB",
                            compression="gzip" if gz else None)
        check_header(path, list(frame.columns), options.column_map)
        return _numbered(frame.to_bag(format="dict"), first=2).map(_csv_cells)  # line 1 is the header
    return _numbered(dd.read_parquet(str(path)).to_bag(format="dict"), first=1).map(_frame_row)


def _numbered(bag, first: int):
    """(position + first, item): counts each partition once to learn its offset."""
    import dask
    import dask.bag as db

    sizes = bag.map_partitions(lambda part: [sum(1 for _ in part)]).compute()
    offsets, total = [], first
    for size in sizes:
        offsets.append(total)
        total += size
    parts = [dask.delayed(_number)(part, offset) for part, offset in zip(bag.to_delayed(), offsets, strict=True)]
    return db.from_delayed(parts)


def _number(part, offset: int) -> list:
    return [(offset + index, item) for index, item in enumerate(part)]


def _json_row(item):
    line, text = item
    return (line, json_row(text)) if text.strip() else (line, None)


def _csv_cells(item):
    line, row = item
    return line, {str(k): v for k, v in row.items()}


def _frame_row(item):
    line, row = item
    out = {}
    for key, cell in row.items():
        value = cell.item() if hasattr(cell, "item") and not isinstance(cell, (str, bytes)) else cell
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue  # a null cell, or pandas' NaN for one
        out[str(key)] = normalize_value(value)
    return line, out


def replay_bag(bag, options):
    """Replay a bag of raw event dicts (in file order) as ``dry_run(options)`` would."""
    return _replay_numbered(_numbered(bag, first=1), options)


def replay_dataframe(frame, options):
    """Replay a dask DataFrame whose rows are events (columns named or mapped as the schema's)."""
    return _replay_numbered(_numbered(frame.to_bag(format="dict"), first=1).map(_frame_row), options)


def _replay_numbered(numbered, options):
    plan = setup(options)
    typing = CsvTyping(plan.main.model.event_fields()) if _is_csv(options) else None
    side = plan.sides()[0]
    prepared = numbered.filter(lambda item: item[1] is not None).map(
        lambda item: (item[0], prepare(item[1], options.column_map, typing)))
    scan = prepared.reduction(lambda part: _scan(part, side, plan.since, plan.until), _merge_scans).compute()
    partitions = partition_count(scan.rows * 120, max(1, options.workers))
    grouped = _grouped(prepared, side, plan, options, partitions, scan).persist()
    start, end = plan.since or scan.first, plan.until or scan.last
    jobs = [Job(index, None, plan.sides(), start, end) for index in range(partitions)]
    partial, sides, passes = run_passes(jobs, plan.sides(), _dask_runner(grouped), Silent(), Path("."),
                                        scan.rows, inline=True)
    return finish(options, plan, partial, scan, sides, passes, partitions)


def _is_csv(options) -> bool:
    try:
        return detect(Path(options.events))[0] == "csv"
    except Exception:  # a bag handed in from Python has no file behind it
        return False


def _scan(part, side: Side, since, until) -> Scan:
    compiled, scan = side.compiled, Scan(since, until)
    for line, row in part:
        scan.take(line, row, compiled)
    return scan


def _merge_scans(scans) -> Scan:
    total = Scan()
    for scan in scans:
        total.merge(scan)
        total.since, total.until = scan.since, scan.until
    return total


def _grouped(prepared, side: Side, plan, options, partitions: int, scan: Scan):
    import dask.bag as db

    keep_raw = not same_events([other.compiled for other in plan.sides()])
    kept = prepared.map(lambda item: _row(item, side, plan.since, plan.until, keep_raw)).filter(
        lambda row: row is not None)
    keyed = kept.map(lambda row: (stable_partition(row[0], partitions), ("row", row)))
    seeds: list = []
    read_seeds_into(options, lambda member, seed: seeds.append((stable_partition(member, partitions),
                                                                ("seed", seed))), scan.bad)
    if seeds:
        keyed = db.concat([keyed, db.from_sequence(seeds, npartitions=max(1, min(len(seeds), partitions)))])
    return keyed.groupby(lambda pair: pair[0], npartitions=max(1, min(partitions, keyed.npartitions * 4)))


def _row(item, side: Side, since, until, keep_raw: bool) -> tuple | None:
    """The replayable row of a prepared (line, row), as the local reader spills it; None when left out."""
    line, row = item
    event = Scan(since, until).take(line, row, side.compiled)
    return event_row(event, line, row if keep_raw else None) if event is not None else None


def _dask_runner(grouped):
    def run(jobs: list[Job]):
        wanted = {job.index: job for job in jobs}
        results = grouped.map(lambda group: _run_group(group, wanted)).compute()
        return [r for r in results if r is not None]

    return run


def _run_group(group, wanted: dict[int, Any]):
    index, pairs = group
    job = wanted.get(index)
    if job is None:
        return None
    rows = [item for _key, (kind, item) in pairs if kind == "row"]
    seeds = [item for _key, (kind, item) in pairs if kind == "seed"]
    return replay_rows(index, rows, seeds, job.sides, job.start, job.end, job.only)
