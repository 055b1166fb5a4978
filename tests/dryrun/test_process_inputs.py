"""``punchcard process`` reads what ``dry-run`` reads, and treats bad rows the same way."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from dryrun_helpers import RULESETS, write_jsonl
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app

COFFEE = RULESETS / "coffee-club.yaml"
runner = CliRunner()
EVENTS = [
    {"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00", "amount": 150,
     "category": "coffee"},
    {"type": "purchase", "id": "o-2", "member": "masha", "time": "2026-03-03T12:00:00", "amount": "10.5",
     "category": "food"},
    {"type": "purchase", "id": "o-3", "member": "petya", "time": "2026-03-04T08:15:00", "amount": 1500,
     "category": "food"},
    {"type": "redeem", "id": "r-1", "member": "masha", "time": "2026-03-05T08:15:00", "points": 100},
]
COLUMNS = ["type", "id", "member", "time", "amount", "category", "points"]


def _process(tmp_path: Path, events: str, name: str, data: bytes | None = None):
    store = f"sqlite:///{tmp_path / (name + '.db')}"
    return runner.invoke(app, ["process", str(COFFEE), "--store", store, "--events", events, "--format", "jsonl"],
                         input=data)


def _decisions(result) -> list[tuple]:
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "summary" in lines[-1]
    return [(d["event_id"], d["outcome"], d["points"], d["balance"]) for d in lines[:-1]]


def _csv(path: Path) -> Path:
    rows = [",".join(COLUMNS)] + [",".join(str(e.get(c, "")) for c in COLUMNS) for e in EVENTS]
    path.write_text("\n".join(rows) + "\n")
    return path


def _parquet(path: Path) -> Path:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = {c: [None if e.get(c) is None else str(e[c]) for e in EVENTS] for c in COLUMNS}
    table["amount"] = pa.array([Decimal(str(e["amount"])) if "amount" in e else None for e in EVENTS],
                               pa.decimal128(12, 2))
    table["points"] = pa.array([e.get("points") for e in EVENTS], pa.int64())
    pq.write_table(pa.table(table), path)
    return path


def test_every_format_and_standard_input_give_the_same_decisions(tmp_path):
    plain = write_jsonl(tmp_path / "events.jsonl", EVENTS)
    expected = _decisions(_process(tmp_path, str(plain), "plain"))
    assert [d[1] for d in expected] == ["applied", "applied", "applied", "applied"]
    gz = tmp_path / "events.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    inputs = {"gzip": (str(gz), None), "csv": (str(_csv(tmp_path / "events.csv")), None),
              "parquet": (str(_parquet(tmp_path / "events.parquet")), None),
              "stdin": ("-", plain.read_bytes()), "stdin-gzip": ("-", gz.read_bytes()),
              "stdin-csv": ("-", (tmp_path / "events.csv").read_bytes())}
    for name, (events, data) in inputs.items():
        result = _process(tmp_path, events, name, data)
        assert result.exit_code == 0, (name, result.output)
        assert _decisions(result) == expected, name


def test_bad_rows_are_left_out_counted_and_grouped_and_the_rest_processed(tmp_path):
    lines = [json.dumps(EVENTS[0]), "not json", '{"type": "purchase", "id": oops}', "[1, 2]",
             json.dumps(EVENTS[1]), '{"id": "x", "amount": 1' + "0" * 5000 + "}", json.dumps(EVENTS[2])]
    events = tmp_path / "mixed.jsonl"
    events.write_text("\n".join(lines) + "\n")
    result = _process(tmp_path, str(events), "mixed")
    assert result.exit_code == 1, result.output
    assert [d[0] for d in _decisions(result)] == ["o-1", "o-2", "o-3"]  # the rows after a bad one go on
    summary = json.loads(result.stdout.splitlines()[-1])["summary"]
    assert summary["bad_rows"] == 4 and summary["events"] == 3 and summary["outcomes"] == {"applied": 3}
    groups = {g["reason"]: g for g in summary["bad_rows_by_reason"]}
    assert groups["not valid JSON (Expecting value)"]["rows"] == 2
    assert groups["not valid JSON (Expecting value)"]["example"] == {
        "line": 2, "reason": "not valid JSON (Expecting value at column 1)"}
    assert groups["a JSON Lines row must be an object"]["example"]["line"] == 4
    assert sum(g["rows"] for g in groups.values()) == 4
    message = " ".join(result.stderr.split())
    assert "4 bad rows left out" in message and "2 x not valid JSON (Expecting value)" in message
    assert "events line 2: not valid JSON (Expecting value at column 1)" in message


def test_text_output_reports_bad_rows_on_stderr_and_exits_1(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(EVENTS[0]) + "\n{broken\n")
    store = f"sqlite:///{tmp_path / 'text.db'}"
    result = runner.invoke(app, ["process", str(COFFEE), "--store", store, "--events", str(events)])
    assert result.exit_code == 1
    assert result.stdout.startswith("o-1  masha  applied  +300")
    assert "1 bad row left out" in result.stderr and "summary" not in result.stdout


def test_a_missing_or_headerless_input_is_a_usage_error(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    for path in (tmp_path / "missing.jsonl", empty):
        result = _process(tmp_path, str(path), "usage")
        assert result.exit_code == 2 and "Traceback" not in result.output


# -- process and dry-run refuse the same rows, the same way --------------------------------
REFUSED_CSV = ("type,id,member,time,amount,category,points\n"
               "purchase,c1,m,2026-03-02T12:15:00,1e309,tea,\n"
               "purchase,c2,m,2026-03-02T12:15:00, 5 ,tea,\n"
               "purchase,c3,m,2026-03-02T12:15:00,-0,tea,\n"
               "purchase,ok,m,2026-03-02T12:20:00,150,coffee,\n"
               "redeem,r1,m,2026-03-02T12:30:00,,,0.5\n"
               "purchase,c4,n,2026-03-02T12:15:00,-0,tea,\n")


def _dry_run_json(events: str, data: bytes | None = None) -> dict:
    result = runner.invoke(app, ["dry-run", str(COFFEE), "--events", events, "--format", "json", "--no-progress"],
                           input=data)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_process_leaves_out_the_rows_dry_run_leaves_out_counted_and_grouped_alike(tmp_path):
    events = tmp_path / "refused.csv"
    events.write_text(REFUSED_CSV)
    report = _dry_run_json(str(events))
    processed = _process(tmp_path, str(events), "refused")
    assert processed.exit_code == 1, processed.output
    summary = json.loads(processed.stdout.splitlines()[-1])["summary"]
    assert report["input"]["bad_rows"] == summary["bad_rows"] == 5
    assert report["input"]["bad_rows_by_reason"] == summary["bad_rows_by_reason"]
    assert [d[:2] for d in _decisions(processed)] == [("ok", "applied")]  # the rest is processed
    assert summary["outcomes"] == {"applied": 1} and report["totals"]["events"] == 1


# -- a JSON integer past Python's digit limit is a number like any other ----------------------
HUGE = "9" * 5000


def _huge_row() -> str:
    return ('{"type": "purchase", "id": "big", "member": "masha", "time": "2026-03-02T08:15:00", '
            f'"amount": {HUGE}, "category": "coffee"}}')


def _engine_reason() -> str:
    from punchcard.engine.compiler.stages import compile_ruleset
    from punchcard.engine.runtime.events import EventError

    row = json.loads(_huge_row().replace(HUGE, '"' + HUGE + '"'))
    row["amount"] = Decimal(HUGE)
    with pytest.raises(EventError) as refused:
        compile_ruleset(COFFEE).schema.parse(row)
    return "; ".join(refused.value.problems)


def test_a_json_integer_of_thousands_of_digits_gets_the_engine_reason_everywhere(tmp_path):
    events = tmp_path / "huge.jsonl"
    events.write_text(_huge_row() + "\n" + json.dumps(EVENTS[0]) + "\n")
    reason = _engine_reason()
    explained = runner.invoke(app, ["explain", str(COFFEE), "--event", _huge_row(), "--format", "json"])
    assert explained.exit_code == 1 and json.loads(explained.stdout)["reason"] == reason
    at_file = tmp_path / "event.json"
    at_file.write_text(_huge_row())
    from_file = runner.invoke(app, ["explain", str(COFFEE), "--event", f"@{at_file}", "--format", "json"])
    assert from_file.exit_code == 1 and json.loads(from_file.stdout)["reason"] == reason
    processed = _process(tmp_path, str(events), "huge")
    report = _dry_run_json(str(events))
    for groups in (json.loads(processed.stdout.splitlines()[-1])["summary"]["bad_rows_by_reason"],
                   report["input"]["bad_rows_by_reason"]):
        assert [g["example"]["reason"] for g in groups] == [reason]
    for output in (explained.output, from_file.output, processed.output, json.dumps(report)):
        assert "set_int_max_str_digits" not in output and "4300" not in output


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=9000), st.sampled_from(["", "-"]), st.sampled_from("123456789"))
def test_the_json_reader_keeps_every_integer_exact(digits, sign, lead):
    from punchcard.engine.dryrun.formats import load_json

    text = sign + lead + "0" * (digits - 1)
    value = load_json(f'{{"n": {text}, "f": 1.5}}')
    assert Decimal(value["n"]) == Decimal(text) and value["f"] == Decimal("1.5")
