"""Inputs: JSON Lines, CSV and Parquet, gzip by name or by magic bytes, --map, bad rows, members."""

import copy
import gzip
import json
import shutil
from decimal import Decimal

import pytest
from dryrun_helpers import V1, purchase, write_jsonl
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.compile import compile_ruleset
from punchcard.engine.dryrun import InputError, Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.formats import detect
from punchcard.engine.dryrun.samples import SampleOptions, csv_columns, generate, write_events

runner = CliRunner()


def _figures(events, **options) -> dict:
    report = to_json_report(build_report(dry_run(Options(V1, events, **options))))
    report.pop("input")
    return report


@pytest.fixture(scope="module")
def plain(small_sample):
    return small_sample, _figures(small_sample)


def test_gzip_is_read_by_suffix_and_by_magic_bytes(plain, tmp_path):
    path, expected = plain
    named = tmp_path / "events.jsonl.gz"
    named.write_bytes(gzip.compress(path.read_bytes()))
    unnamed = tmp_path / "events.jsonl"  # gzip inside, no .gz: the first bytes tell
    shutil.copy(named, unnamed)
    assert detect(named) == ("jsonl", True) and detect(unnamed) == ("jsonl", True)
    assert _figures(named) == expected
    assert _figures(unnamed) == expected


def test_csv_gives_the_same_figures(plain, tmp_path):
    expected = copy.deepcopy(plain[1])
    compiled = compile_ruleset(V1)
    csv_path = tmp_path / "events.csv.gz"
    write_events(generate(compiled, SampleOptions(count=3000, members=300, seed=11)), csv_path, csv_columns(compiled))
    assert detect(csv_path) == ("csv", True)
    got = _figures(csv_path)
    # a CSV's first line is its header, so every row's line number is one more
    assert [r["example"]["line"] for r in got["rejections"]] == [r["example"]["line"] + 1
                                                                  for r in expected["rejections"]]
    for report in (got, expected):
        for row in report["rejections"]:
            row["example"].pop("line")
    assert got == expected


def test_parquet_gives_the_same_figures(plain, tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path, expected = plain
    rows = [json.loads(line, parse_float=Decimal) for line in path.read_text().splitlines()]
    columns = sorted({key for row in rows for key in row})
    table = pa.table({c: [None if row.get(c) is None else str(row[c]) for row in rows] for c in columns})
    amount = pa.array([Decimal(r["amount"]) if "amount" in r else None for r in rows], pa.decimal128(14, 2))
    table = table.set_column(columns.index("amount"), "amount", amount)
    points = pa.array([int(r["points"]) if "points" in r else None for r in rows], pa.int64())
    table = table.set_column(columns.index("points"), "points", points)
    target = tmp_path / "events.parquet"
    pq.write_table(table, target)
    assert detect(target) == ("parquet", False)
    assert _figures(target) == expected


def test_a_map_renames_columns_and_adds_constants(tmp_path):
    rows = ["customer_id,dollar_value,date,order_no,store",
            "42,1500,2026-04-01T12:00:00,o-1,Ginza",
            "42,12000.50,2026-04-02T12:00:00,o-2,Ginza",
            "7,300,2026-04-03T12:00:00,o-3,Umeda"]
    csv_path = tmp_path / "export.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns: {customer_id: member, dollar_value: amount, date: time, order_no: id}\n"
                       "constants: {type: purchase, category: food}\ndrop: [store]\n")
    mapped = runner.invoke(app, ["dry-run", str(V1), "--events", str(csv_path), "--map", str(mapping),
                                 "--format", "json", "--no-progress"])
    assert mapped.exit_code == 0, mapped.output
    as_json = write_jsonl(tmp_path / "same.jsonl", [
        purchase("o-1", "42", "2026-04-01T12:00:00", 1500), purchase("o-2", "42", "2026-04-02T12:00:00", "12000.50"),
        purchase("o-3", "7", "2026-04-03T12:00:00", 300)])
    got = json.loads(mapped.stdout)
    assert got["input"]["bad_rows"] == 0 and got["totals"]["events"] == 3
    assert {k: v for k, v in got.items() if k != "input"} == _figures(as_json)


def test_without_a_map_a_missing_column_is_a_usage_error(tmp_path):
    csv_path = tmp_path / "export.csv"
    csv_path.write_text("customer_id,amount,time,id,type,category\n42,100,2026-04-01T12:00:00,o-1,purchase,food\n")
    result = runner.invoke(app, ["dry-run", str(V1), "--events", str(csv_path), "--no-progress"])
    assert result.exit_code == 2
    assert "no column for member" in result.stderr and "--map" in result.stderr


BAD = [purchase("ok-1", "ann", "2026-03-01T10:00:00", 1200),
       "{not json",
       purchase("bad-amount", "ann", "2026-03-02T10:00:00", "12,00"),
       {"type": "purchse", "id": "typo", "member": "ann", "time": "2026-03-03T10:00:00"},
       {"type": "purchase", "id": "no-category", "member": "ann", "time": "2026-03-04T10:00:00", "amount": 5},
       {"type": "purchase", "id": "no-time", "member": "ann", "amount": 5, "category": "food"},
       purchase("ok-2", "bob", "2026-03-05T10:00:00", 800)]


def test_bad_rows_are_counted_with_their_line_and_reason(tmp_path):
    events = write_jsonl(tmp_path / "bad.jsonl", BAD)
    result = runner.invoke(app, ["dry-run", str(V1), "--events", str(events), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sample = {row["line"]: row["reason"] for row in report["input"]["bad_row_sample"]}
    assert report["input"]["bad_rows"] == 5 and report["totals"]["events"] == 2
    assert "not valid JSON" in sample[2]
    assert sample[3] == "amount '12,00' is not a number"
    assert "type 'purchse' is not an event type of this ruleset" in sample[4]
    assert sample[5] == "missing field 'category' (string)"
    assert "time" in sample[6] and "is not a time" in sample[6]


def test_strict_makes_a_bad_row_fatal(tmp_path):
    events = write_jsonl(tmp_path / "bad.jsonl", BAD)
    result = runner.invoke(app, ["dry-run", str(V1), "--events", str(events), "--strict", "--no-progress"])
    assert result.exit_code == 1
    assert "line 2: not valid JSON" in result.stderr
    table = runner.invoke(app, ["dry-run", str(V1), "--events", str(events), "--no-progress"])
    assert table.exit_code == 0 and "line 3" in table.stdout


def test_members_seed_profiles_balances_and_tiers(tmp_path):
    events = write_jsonl(tmp_path / "events.jsonl", [purchase("p-1", "ann", "2026-03-01T10:00:00", 1000),
                                                     purchase("p-2", "cid", "2026-03-02T10:00:00", 1000)])
    members = write_jsonl(tmp_path / "members.jsonl", [
        {"member": "ann", "balance": 500, "tier": "gold", "birth_date": "1990-04-01"},
        {"member": "dan", "balance": 250},  # no events: still a member, with an opening balance
        {"member": "eve", "tier": "platinum"}, {"balance": 3}])
    report = to_json_report(build_report(dry_run(Options(V1, events, members=members))))
    totals = report["totals"]
    assert totals["opening_liability_points"] == "750"
    assert totals["members"] == 3  # ann, cid, dan; eve's row is bad
    assert report["tiers"]["end"]["gold"] == 1
    issued = Decimal(totals["points_issued"])
    assert Decimal(totals["liability_points"]) == 750 + issued
    reasons = {row["line"]: row["reason"] for row in report["input"]["bad_row_sample"] if row["file"] == "members"}
    assert "tier 'platinum' is not a tier" in reasons[3] and "member" in reasons[4]
    ann = next(m for m in report["top_members"] if m["member"] == "ann")
    assert ann["points_issued"] == "15"  # gold from the start: 10 base x 1.5


def test_an_unreadable_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        dry_run(Options(V1, tmp_path / "missing.jsonl"))
