"""Inputs: JSON Lines, CSV and Parquet, gzip by name or by magic bytes, --map, bad rows, members."""

import copy
import functools
import gzip
import json
import shutil
from decimal import Decimal

import pytest
from dryrun_helpers import V1, purchase, write_jsonl
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import InputError, Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.formats import detect
from punchcard.engine.dryrun.samples import SampleOptions, csv_columns, generate
from punchcard.engine.dryrun.writers import write_events
from punchcard.engine.runtime.decision import to_jsonable

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
    from_stdin = runner.invoke(app, ["dry-run", str(V1), "--events", "-", "--format", "json", "--no-progress"],
                               input=target.read_bytes())
    assert from_stdin.exit_code == 0, from_stdin.output
    assert {k: v for k, v in json.loads(from_stdin.stdout).items() if k != "input"} == _jsonable(expected)


def test_a_map_renames_columns_and_adds_constants(tmp_path):
    rows = ["customer_id,dollar_value,date,order_no,store",
            "42,1500,2026-04-01T12:00:00,o-1,Ginza",
            "42,12000,2026-04-02T12:00:00,o-2,Ginza",
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
        purchase("o-1", "42", "2026-04-01T12:00:00", 1500), purchase("o-2", "42", "2026-04-02T12:00:00", "12000"),
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
    assert "time" in sample[6] and "time" in sample[6].split()[0]


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


def test_members_may_give_the_opening_balance_as_points(tmp_path):
    events = write_jsonl(tmp_path / "events.jsonl", [purchase("p-1", "ann", "2026-03-01T10:00:00", 1000)])
    members = write_jsonl(tmp_path / "members.jsonl", [
        {"member": "ann", "points": 500}, {"member": "bob", "balance": 200},
        {"member": "cid", "points": 1, "balance": 1}])
    report = to_json_report(build_report(dry_run(Options(V1, events, members=members))))
    assert report["totals"]["opening_liability_points"] == "700"
    reasons = {row["line"]: row["reason"] for row in report["input"]["bad_row_sample"] if row["file"] == "members"}
    assert "points" in reasons[3] and "balance" in reasons[3]


def test_an_unreadable_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        dry_run(Options(V1, tmp_path / "missing.jsonl"))


GROUPED = [purchase("ok-1", "ann", "2026-03-02T10:00:00", 1000),
           purchase("comma-1", "ann", "2026-03-03T10:00:00", "12,00"),
           purchase("comma-2", "bob", "2026-03-03T10:00:00", "7,5"),
           {"type": "purchase", "id": "nc-1", "member": "ann", "time": "2026-03-04T10:00:00", "amount": 5},
           {"type": "purchase", "id": "nc-2", "member": "bob", "time": "2026-03-05T10:00:00", "amount": 6},
           '{"type": "purchase", "id": nope}',
           '{"type": "purchase",   "id": oops}',
           '{"type": "purchase", "id": "big", "member": "cid", "time": "2026-03-06T10:00:00", "amount": 1'
           + "0" * 5000 + ', "category": "food"}']


def test_bad_rows_group_by_reason_keeping_the_words_with_an_example_each(tmp_path):
    events = write_jsonl(tmp_path / "grouped.jsonl", GROUPED)
    with events.open("ab") as handle:
        handle.write(b'{"type": "purchase", "id": "\xff"}\n')  # not UTF-8: one bad row, not the end of the run
    report = to_json_report(build_report(dry_run(Options(V1, events))))
    groups = {g["reason"]: g for g in report["input"]["bad_rows_by_reason"]}
    assert groups["amount '…' is not a number"]["rows"] == 2
    assert groups["amount '…' is not a number"]["example"] == {"line": 2, "reason": "amount '12,00' is not a number"}
    assert groups["missing field 'category' (string)"]["rows"] == 2  # the field's name is kept
    json_errors = [g for reason, g in groups.items() if reason.startswith("not valid JSON (Expecting value")]
    assert len(json_errors) == 1 and json_errors[0]["rows"] == 2  # columns 30 and 32: one reason
    assert json_errors[0]["example"] == {"line": 6, "reason": "not valid JSON (Expecting value at column 28)"}
    huge = [g["example"]["reason"] for g in groups.values() if g["example"]["line"] == 8]
    # a number past Python's digits limit is a number: the schema refuses it by its own bound
    assert huge == [_problem(_v1(), Decimal("1" + "0" * 5000))] and "int_max_str_digits" not in huge[0]
    assert groups["not UTF-8 text"]["example"]["line"] == 9
    assert all(g["file"] == "events" for g in groups.values()) and report["input"]["bad_rows"] == 8
    assert report["totals"]["events"] == 1


def test_the_table_and_the_html_show_each_group_with_its_first_row(tmp_path):
    events = write_jsonl(tmp_path / "grouped.jsonl", GROUPED)
    page = tmp_path / "report.html"
    result = runner.invoke(app, ["dry-run", str(V1), "--events", str(events), "--report", str(page),
                                 "--no-progress"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "bad row: amount '…' is not a number" in text and "events line 2: amount '12,00' is not a number" in text
    html = page.read_text(encoding="utf-8")
    assert "missing field &#x27;category&#x27; (string)" in html and "line 2: amount &#x27;12,00&#x27;" in html


def test_csv_widths_keep_their_numbers(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("type,id,member,time,amount,category\npurchase,a\npurchase,b\npurchase,c,d\n")
    report = to_json_report(build_report(dry_run(Options(V1, events))))
    assert [(g["reason"], g["rows"]) for g in report["input"]["bad_rows_by_reason"]] == [
        ("has 2 values for 6 columns", 2), ("has 3 values for 6 columns", 1)]


def _jsonable(report: dict) -> dict:
    return json.loads(json.dumps(to_jsonable(report)))


def test_events_from_standard_input_in_every_format(plain, tmp_path):
    path, figures = plain
    as_csv = tmp_path / "events.csv"
    write_events(generate(compile_ruleset(V1), SampleOptions(count=3000, members=300, seed=11)), as_csv,
                 csv_columns(compile_ruleset(V1)))
    inputs = [(path.read_bytes(), figures), (gzip.compress(path.read_bytes()), figures),
              (as_csv.read_bytes(), _figures(as_csv))]
    for data, expected in inputs:
        result = runner.invoke(app, ["dry-run", str(V1), "--events", "-", "--format", "json", "--no-progress"],
                               input=data)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["input"]["events"] == "-"
        report.pop("input")
        assert report == _jsonable(expected)


@functools.lru_cache(maxsize=1)
def _v1():
    return compile_ruleset(V1)


@settings(max_examples=40, deadline=None)
@given(first=st.text(min_size=1, max_size=12), second=st.text(min_size=1, max_size=12))
@example(first=":", second="'")  # a value holding a quote is quoted the other way: "'" against ':'
def test_rows_refused_alike_group_alike_whatever_their_values(first, second):
    from punchcard.engine.dryrun.rows import Scan

    compiled = _v1()
    scan = Scan()
    for line, amount in ((1, first), (2, second)):
        row = purchase(f"p-{line}", "ann", "2026-03-02T10:00:00", amount)
        assume(_refused(compiled, row))
        scan.take(line, row, compiled)
    groups = scan.bad.groups()
    reasons = {g["reason"] for g in groups}
    if len({_problem(compiled, first), _problem(compiled, second)}) == 1 or first == second:
        assert len(groups) == 1 and groups[0]["rows"] == 2
    assert all(repr(value) not in reason for value in (first, second) for reason in reasons)
    assert sorted(g["example"]["line"] for g in groups) == [1, 2][:len(groups)]


def _refused(compiled, row) -> bool:
    from punchcard.engine.runtime.events import EventError

    try:
        compiled.schema.parse(row)
    except EventError:
        return True
    return False


def _problem(compiled, amount) -> str:
    """The reason's words without the value: what two rows must share to be one group."""
    from punchcard.engine.runtime.events import EventError

    try:
        compiled.schema.parse(purchase("p", "ann", "2026-03-02T10:00:00", amount))
    except EventError as exc:
        return "; ".join(exc.problems).replace(repr(amount), "")
    return ""


@pytest.mark.parametrize("second, outcome", [("2026-03-02T12:15:00.123456788", "conflict"),
                                             ("2026-03-02T12:15:00.123456789000", "duplicate")])
def test_idempotency_in_a_dry_run_compares_every_digit_of_the_time(tmp_path, second, outcome):
    """As the engine does: a different nanosecond is a conflict, trailing zeros a duplicate."""
    first = purchase("p1", "m1", "2026-03-02T12:15:00.123456789", "150")
    events = write_jsonl(tmp_path / "ns.jsonl", [first, {**first, "time": second}])
    report = to_json_report(build_report(dry_run(Options(V1, events))))
    totals = report["totals"]
    assert totals["events"] == 2
    if outcome == "conflict":
        assert totals["rejected"] == 1 and totals.get("duplicates", totals.get("duplicate", 0)) in (0, "0")
    else:
        assert totals["rejected"] == 0
