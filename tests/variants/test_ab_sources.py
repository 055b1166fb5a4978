"""``ab report`` reads the same history three ways: replayed (``--events``), as a store decided it
(``--store``) and as a dry-run decided it (``--decisions``, written by ``dry-run --decisions``)."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.ab import decision_figures
from punchcard.engine.dryrun.partial import BadRows
from punchcard.engine.dryrun.samples import SampleOptions, csv_columns, generate
from punchcard.engine.dryrun.writers import write_events
from punchcard.plugins.sql.store import SqlStore

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "rulesets/coffee-ab.yaml"
runner = CliRunner()
_SAME = ("ruleset", "salt", "control", "members", "unassigned", "variants", "uplift", "srm")


@pytest.fixture(scope="module")
def compiled():
    return punchcard.compile(RULESET)


@pytest.fixture(scope="module")
def history(compiled, tmp_path_factory):
    """1,500 events of 200 members, a variant shopping 20% more, with refunds, retries and bursts."""
    folder = tmp_path_factory.mktemp("ab-sources")
    events = folder / "events.jsonl"
    options = SampleOptions(1500, 200, 5, uplift=(("triple-mornings", Decimal("0.2")),))
    write_events(generate(compiled, options), str(events), csv_columns(compiled))
    return events


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _dry_run_decisions(events: Path, target: Path, workers: int = 1, members: Path | None = None) -> Path:
    result = runner.invoke(app, ["dry-run", str(RULESET), "--events", str(events), "--decisions", str(target),
                                 "--workers", str(workers), "--no-progress", "--format", "json"]
                           + (["--members", str(members)] if members else []))
    assert result.exit_code == 0, result.output
    return target


def test_decisions_events_and_store_give_the_same_report(compiled, history, tmp_path):
    url = f"sqlite:///{tmp_path / 'points.db'}"
    store = SqlStore(url)
    engine = Engine(compiled, store)
    for line in history.read_text(encoding="utf-8").splitlines():
        engine.process(json.loads(line))
    store.close()
    decisions = _dry_run_decisions(history, tmp_path / "decisions.jsonl")
    replayed = _json(["ab", "report", str(RULESET), "--events", str(history), "--format", "json"])
    stored = _json(["ab", "report", str(RULESET), "--store", url, "--format", "json"])
    read = _json(["ab", "report", str(RULESET), "--decisions", str(decisions), "--format", "json"])
    assert replayed["members"] > 150 and any(u["uplift"] not in (None, "0") for u in replayed["uplift"])
    for key in _SAME:
        assert read[key] == replayed[key] == stored[key], key
    assert read["source"] == str(decisions) and read["bad_rows"] == 0


def test_members_without_events_count_from_the_decisions_as_from_the_events(history, tmp_path):
    people = tmp_path / "members.jsonl"
    people.write_text("".join(json.dumps({"member": f"m{i:06d}"}) + "\n" for i in range(260)), encoding="utf-8")
    decisions = _dry_run_decisions(history, tmp_path / "d.jsonl", members=people)
    replayed = _json(["ab", "report", str(RULESET), "--events", str(history), "--members", str(people),
                      "--format", "json"])
    read = _json(["ab", "report", str(RULESET), "--decisions", str(decisions), "--format", "json"])
    assert read["members"] == replayed["members"] == 260
    assert read["variants"] == replayed["variants"] and read["uplift"] == replayed["uplift"]


def test_the_decisions_file_is_the_same_bytes_for_any_workers(history, tmp_path):
    one = _dry_run_decisions(history, tmp_path / "one.jsonl")
    two = _dry_run_decisions(history, tmp_path / "two.jsonl.gz", workers=2)
    assert gzip.decompress(two.read_bytes()) == one.read_bytes()
    again = _dry_run_decisions(history, tmp_path / "again.jsonl.gz", workers=2)
    assert again.read_bytes() == two.read_bytes()  # gzip's header is fixed too
    lines = [json.loads(line) for line in one.read_text(encoding="utf-8").splitlines()]
    purchases = [d for d in lines if d["event_type"] == "purchase" and d["outcome"] == "applied"]
    assert purchases and all(d["variant"] in ("control", "triple-mornings") for d in purchases)
    assert all("amount" in d["event"] and "trace" not in d for d in purchases)
    assert [d["member_id"] for d in lines] == sorted(d["member_id"] for d in lines)  # member order


def test_the_dry_run_report_is_the_same_with_and_without_decisions(history, tmp_path):
    plain = dry_run(Options(RULESET, history))
    written = dry_run(Options(RULESET, history, decisions=tmp_path / "d.jsonl", workers=2))
    assert (tmp_path / "d.jsonl").stat().st_size > 0
    assert to_json_report(build_report(plain)) == to_json_report(build_report(written))


def test_usage_errors(history, tmp_path):
    bad_name = runner.invoke(app, ["dry-run", str(RULESET), "--events", str(history), "--decisions",
                                   str(tmp_path / "d.csv"), "--no-progress"])
    assert bad_name.exit_code == 2 and "JSON Lines" in bad_name.output
    on_dask = runner.invoke(app, ["dry-run", str(RULESET), "--events", str(history), "--decisions",
                                  str(tmp_path / "d.jsonl"), "--dask", "local", "--no-progress"])
    assert on_dask.exit_code == 2 and "--dask" in on_dask.output
    two = runner.invoke(app, ["ab", "report", str(RULESET), "--events", str(history), "--decisions", str(history)])
    assert two.exit_code == 2 and "one of them" in two.output
    missing = runner.invoke(app, ["ab", "report", str(RULESET), "--decisions", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 2 and "no such file" in missing.output


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["{}", "not json", '{"member_id": 3, "outcome": "applied"}',
                                 '{"member_id": "m1", "outcome": "applied", "effects": [], '
                                 '"event": {"amount": "x"}}']), min_size=1, max_size=6))
def test_lines_that_are_not_decisions_are_bad_rows_and_count_nothing(compiled, tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("bad") / "d.jsonl"
    good = ('{"member_id": "m2", "outcome": "applied", "event_type": "purchase", "variant": "control", '
            '"effects": [{"kind": "earn", "points": "20"}], "event": {"amount": "10"}}')
    path.write_text("\n".join([*lines, good]) + "\n", encoding="utf-8")
    bad = BadRows()
    figures = decision_figures(compiled, path, bad)
    assert bad.count == len(lines)
    assert [(f.member, f.variant, f.spend, f.visits, f.points) for f in figures] == \
        [("m2", "control", Decimal(10), 1, Decimal(20))]


def test_the_documented_commands_run_and_agree(tmp_path, monkeypatch):
    """docs/variants.md: the sample's commands, then the dry-run's decisions read by ab report."""
    import re
    import shlex

    doc = (ROOT / "docs/variants.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
    (sample,) = [b for b in blocks if "sample-events" in b]
    (decided,) = [b for b in blocks if "--decisions decisions.jsonl.gz" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rulesets").symlink_to(ROOT / "rulesets")
    printed = None
    for block in (sample, decided):
        for command in block.replace("\\\n", " ").strip().splitlines():
            args = shlex.split(command)
            assert args[0] == "punchcard"
            args += {"sample-events": ["--count", "3000", "--members", "300"],
                     "dry-run": ["--no-progress"]}.get(args[1], [])
            result = runner.invoke(app, args[1:])
            assert result.exit_code == 0, result.output
            printed = result.stdout
    offers = (tmp_path / "offers.jsonl.gz").read_bytes()
    assert b"offer_used" in gzip.decompress(offers)
    read = json.loads(printed)
    replayed = _json(["ab", "report", str(RULESET), "--events", "ab.jsonl.gz", "--members", "members.jsonl",
                      "--format", "json"])
    assert read["members"] == replayed["members"] == 300
    assert read["variants"] == replayed["variants"] and read["uplift"] == replayed["uplift"]


def test_an_empty_history_is_trouble_not_a_matching_split(tmp_path):
    from punchcard.cli import app

    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    result = CliRunner().invoke(app, ["ab", "report", str(RULESET), "--events", str(empty)])
    assert result.exit_code == 2 and "nothing to compare" in result.output and "matches" not in result.output
