"""--workers N and Dask give exactly the figures of --workers 1."""

import json

import pytest
from dryrun_helpers import V1, demo_options

from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report


def _json(result) -> dict:
    return json.loads(json.dumps(to_json_report(build_report(result))))


def test_four_workers_equal_one(demo_json):
    assert _json(dry_run(demo_options(workers=4))) == demo_json


def test_dask_equals_one_worker_with_a_budget_pass(small_sample, tight_v2):
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    from punchcard.engine.dryrun.dask_job import dry_run_on_dask

    local = _json(dry_run(Options(tight_v2, small_sample, against=V1)))
    assert local["input"]["passes"] >= 2
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = _json(dry_run_on_dask(Options(tight_v2, small_sample, against=V1), cluster.scheduler_address))
    assert remote == local


def test_a_dask_dataframe_replays_like_the_file(small_sample):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    from punchcard.engine.dryrun.dask_job import replay_dataframe

    rows = [json.loads(line) for line in small_sample.read_text().splitlines()]
    frame = dd.from_pandas(pd.DataFrame(rows).astype(object), npartitions=3)
    local = _json(dry_run(Options(V1, small_sample)))
    remote = _json(replay_dataframe(frame, Options(V1, small_sample)))
    assert remote == local


def test_dask_equals_one_worker_with_members_bad_rows_and_another_schema(small_sample, tmp_path):
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    from dryrun_helpers import V2, write_jsonl

    from punchcard.engine.dryrun.dask_job import dry_run_on_dask

    strict = tmp_path / "retail-strict.yaml"
    strict.write_text(V1.read_text().replace("channel: optional string", "channel: string"))
    rows = [json.loads(line) for line in small_sample.read_text().splitlines()]
    for row in rows[::7]:
        row.pop("channel", None)
    events = write_jsonl(tmp_path / "events.jsonl", [*rows, "{not json", {"type": "purchse", "id": "x"}])
    members = write_jsonl(tmp_path / "members.jsonl", [{"member": "m000003", "balance": 500, "tier": "gold"},
                                                       {"member": "nobody", "balance": 70},
                                                       {"member": "x", "tier": "?"}])
    options = lambda: Options(V2, events, against=strict, members=members)  # noqa: E731
    local = _json(dry_run(options()))
    assert local["input"]["bad_rows"] == 3 and local["baseline"]["totals"]["rejected"] > 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = _json(dry_run_on_dask(options(), cluster.scheduler_address))
    assert remote == local
