"""The dry-run report of a ruleset with A/B variants: figures per variant that add up to the
whole, budgets a variant adds, the segment read in one place, the page in a real Chromium,
and docs/dry-run.md's commands run as written."""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from dryrun_helpers import RULESETS
from hypothesis import given, settings
from hypothesis import strategies as st
from test_html import _chromium
from test_report_chromium import Browser, _open, _rect, console_errors, decode_png
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import Options, account, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.html import render_html
from punchcard.engine.dryrun.owner import net_points
from punchcard.engine.dryrun.samples import SampleOptions, generate
from punchcard.engine.dryrun.tables import render_tables
from punchcard.engine.dryrun.writers import write_events

AB = RULESETS / "coffee-ab.yaml"
CLUB = RULESETS / "coffee-club.yaml"  # the program as it runs: double points, a `segment` member field
DOC = RULESETS.parent / "docs/dry-run.md"
runner = CliRunner()


def _d(value) -> Decimal:
    return Decimal(str(value))


def _json(report: dict) -> dict:
    return json.loads(json.dumps(to_json_report(report)))


def _events(tmp: Path, seed: int, count: int, members: int, uplift: str | None = None) -> tuple[Path, Path]:
    """Sample history for coffee-ab, and every generated member's id (those without events too)."""
    events, ids = tmp / f"ab-{seed}-{count}-{members}.jsonl", tmp / f"members-{seed}-{members}.jsonl"
    uplifts = ((uplift, Decimal("0.2")),) if uplift else ()
    write_events(generate(compile_ruleset(AB), SampleOptions(count, members, seed, uplift=uplifts)), events)
    ids.write_text("".join(json.dumps({"member": f"m{i:06d}"}) + "\n" for i in range(members)))
    return events, ids


def check_variant_figures(side: dict, diff: dict | None) -> None:
    """What must hold of any side with variants: every member in one variant, every point in one row."""
    rows = side["variants"]
    totals = side["totals"]
    assert sum(r["members"] for r in rows) == totals["members"]
    assert sum(_d(r["points_issued"]) for r in rows) == _d(totals["points_issued"])
    assert sum(_d(r["cost"]["points"]) for r in rows) == net_points({"totals": {k: _d(v) for k, v in totals.items()
                                                                                 if k.startswith("points_")}})
    step = _d(side["rounding_step"])
    for row in rows:
        assert _d(row["cost"]["money"]) == _d(row["cost"]["points"]) * _d(side["point_value"])
        if row["members"]:
            assert _d(row["cost_per_member"]["points"]) == (_d(row["cost"]["points"]) / row["members"]).quantize(
                step, ROUND_HALF_EVEN)
        else:
            assert row["cost_per_member"]["points"] is None
    if diff is None:
        assert all("change" not in r for r in rows)
        return
    dist = diff["distribution"]
    assert sum(r["change"]["members"] for r in rows) == dist["members"]
    assert sum(_d(r["change"]["points"]) for r in rows) == _d(diff["cost"]["points"])
    assert sum(r["change"]["more"] for r in rows) == dist["more"]
    assert sum(r["change"]["fewer"] for r in rows) == dist["fewer"]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    return tmp_path_factory.mktemp("variants")


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(40, 600), members=st.integers(5, 120),
       baseline_has_them=st.booleans(), with_members=st.booleans())
def test_the_variants_add_up_to_the_whole(history, seed, count, members, baseline_has_them, with_members):
    events, ids = _events(history, seed, count, members)
    new, old = (CLUB, AB) if baseline_has_them else (AB, CLUB)
    report = _json(build_report(dry_run(Options(new, events, ids if with_members else None, against=old))))
    side = report["baseline"] if baseline_has_them else report
    check_variant_figures(side, report["diff"])
    assert ("variants" in report) is not baseline_has_them and "variants" not in report["diff"]
    assert [r["variant"] for r in side["variants"]] == ["control", "triple-mornings"]  # as written
    if with_members:
        assert side["totals"]["members"] == members  # members without events count, in their variant
    section = re.search(r'<section id="variants">.*?</section>', render_html(report), re.S).group(0)
    assert ("coffee-ab@1.0.0 (the baseline)</h3>" in section) is baseline_has_them
    assert section.count("<tr><td") == 2 and section.count("<rect ") == 2


@pytest.fixture(scope="module")
def ab_run(history):
    events, ids = _events(history, 5, 1500, 200, uplift="triple-mornings")
    return events, ids, dry_run(Options(AB, events, ids, against=CLUB))


@pytest.fixture(scope="module")
def ab_report(ab_run):
    return build_report(ab_run[2])


def test_each_member_is_counted_in_the_variant_its_id_gives(ab_run, ab_report):
    split = compile_ruleset(AB).split
    dealt = Counter(split.variant_of(f"m{i:06d}") for i in range(200))
    report = _json(ab_report)
    assert {r["variant"]: r["members"] for r in report["variants"]} == dealt
    check_variant_figures(report, report["diff"])
    rows = {r["variant"]: r for r in report["variants"]}
    # the control is the club's double points: the change is all the triple variant's, and it costs more
    assert rows["control"]["change"]["points"] == "0" and _d(rows["triple-mornings"]["change"]["points"]) > 0
    assert rows["triple-mornings"]["change"]["fewer"] == 0 < rows["triple-mornings"]["change"]["more"]
    assert rows["triple-mornings"]["description"] == "triple points on weekday-morning coffee"
    assert rows["control"]["ruleset"] == "coffee-ab@1.0.0" and rows["control"]["share"] == "50"


def test_without_the_against_side_there_is_no_change(history):
    events, _ = _events(history, 9, 300, 40)
    report = _json(build_report(dry_run(Options(AB, events))))
    check_variant_figures(report, None)


def test_a_ruleset_without_variants_reports_no_variants(demo_json, demo_report):
    for side in (demo_json, demo_json["baseline"]):
        assert "variants" not in side
        assert all("variants" not in budget for budget in side["budgets"])
    page = render_html(demo_report)
    assert 'id="variants"' not in page and "Cost per member by variant" not in page


def test_the_page_and_the_json_are_the_same_every_time(ab_run, ab_report):
    events, ids, _ = ab_run
    again = build_report(dry_run(Options(AB, events, ids, against=CLUB, workers=2)))
    assert _json(again) == _json(ab_report)
    assert render_html(again) == render_html(ab_report)


def test_the_page_shows_each_variant(ab_report):
    page = render_html(ab_report)
    section = re.search(r'<section id="variants">.*?</section>', page, re.S).group(0)
    report = _json(ab_report)
    for row in report["variants"]:
        assert f"<code>{row['variant']}</code>" in section
        assert f'{row["members"]:,}' in section
    assert "<b>Cost</b>: the points a variant gives its members and does not take back" in section
    assert section.count("<rect ") == 2 and "points per member</text>" in section
    triple = re.search(r"<tr><td[^>]*><code>triple-mornings</code>.*?</tr>", section).group(0)
    assert 'class="num cost-up"' in triple  # the variant that costs more is in the warning colour
    assert page.index('id="summary"') < page.index('id="variants"') < page.index('id="charts"')


def test_the_text_output_shows_each_variant(ab_report):
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(render_tables(ab_report))
    text = console.export_text()
    assert "Variants of coffee-ab@1.0.0" in text
    assert re.search(r"triple-mornings\s+│\s+50%", text)
    assert "Change by segment: no member has a segment field" in text  # said, not left out


# -- budgets a variant adds ------------------------------------------------------------------
def test_a_budget_a_variant_adds_is_in_the_budgets_table(history):
    text = AB.read_text().replace("              multiply: 3\n", "              multiply: 3\n"
                                  "          budgets:\n            - {rule: coffee-mornings, max_points: 4000}\n")
    assert text != AB.read_text()
    ruleset = history / "coffee-ab-budget.yaml"
    ruleset.write_text(text)
    events, _ = _events(history, 3, 1500, 150)
    report = build_report(dry_run(Options(ruleset, events)))
    (budget,) = _json(report)["budgets"]
    assert budget["rule"] == "coffee-mornings" and budget["variants"] == ["triple-mornings"]
    assert budget["max_points"] == "4000" and _d(budget["used"]) <= 4000 and budget["bit"] > 0
    assert _d(budget["left"]) == 4000 - _d(budget["used"])
    assert _json(report)["input"]["passes"] > 1  # the budget ran out: the variants still add up after the passes
    check_variant_figures(_json(report), None)
    page = render_html(report)
    assert "<code>budget:coffee-mornings</code>" in page
    assert "Budget <code>coffee-mornings</code> (in the variants <code>triple-mornings</code>)" in page


# -- the segment, read in one place ------------------------------------------------------------
def test_the_segment_comes_from_one_function(history, monkeypatch):
    events, ids = _events(history, 4, 400, 60)
    segmented = history / "members-segmented.jsonl"
    segmented.write_text("".join(json.dumps({"member": f"m{i:06d}", "segment": ("new", "vip")[i % 2]}) + "\n"
                                 for i in range(60)))
    by_field = _json(build_report(dry_run(Options(CLUB, events, segmented, against=AB))))["diff"]["by_segment"]
    assert {r["name"] for r in by_field} == {"new", "vip"} and sum(r["members"] for r in by_field) == 60
    # the seam: a segment computed another way (RFM, say) takes the field's place there and nowhere else
    monkeypatch.setattr(account, "member_segment", lambda state: "computed" if state is not None else None)
    computed = _json(build_report(dry_run(Options(CLUB, events, ids, against=AB))))["diff"]
    assert [(r["name"], r["members"]) for r in computed["by_segment"]] == [("computed", 60)]
    assert _d(computed["by_segment"][0]["points"]) == _d(computed["cost"]["points"])


def test_without_segments_the_page_says_so(ab_report):
    page = render_html(ab_report)
    assert "No member has a <code>segment</code> field" in page


# -- the page in a real browser ----------------------------------------------------------------
def test_the_variants_section_draws_in_chromium_without_a_console_error(ab_report, tmp_path):
    binary = _chromium()
    page = tmp_path / "ab.html"
    page.write_text(render_html(ab_report), encoding="utf-8")
    browser = Browser(binary, tmp_path / "profile")
    try:
        session = _open(browser, page.as_uri())
        rect = _rect(browser, session, "variants")
        shot = browser.send("Page.captureScreenshot", {"format": "png", "clip": {**rect, "scale": 0.5},
                                                      "captureBeyondViewport": True}, session)
        browser.send("Runtime.evaluate", {"expression": "1"}, session)
    finally:
        browser.close()
    assert console_errors(browser.events) == []
    assert any(e.get("method") == "Page.loadEventFired" for e in browser.events)
    (tmp_path / "variants.png").write_bytes(base64.b64decode(shot["data"]))
    width, height, rows = decode_png(base64.b64decode(shot["data"]))
    assert width >= 300 and height >= 100, (width, height)
    background = rows[0][:3]
    step = 4 if len(rows[0]) == width * 4 else 3
    inked = sum(1 for row in rows for x in range(0, len(row), step) if row[x:x + 3] != background)
    assert inked > width * height // 50, f"only {inked} of {width * height} pixels differ"


# -- docs/dry-run.md ---------------------------------------------------------------------------
def test_the_documented_variant_commands_run(tmp_path, monkeypatch):
    doc = DOC.read_text(encoding="utf-8")
    part = doc[doc.index("## A/B variants"):doc.index("## `punchcard diff`")]
    (block,) = re.findall(r"```sh\n(.*?)```", part, re.S)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rulesets").symlink_to(RULESETS)
    printed = None
    for command in block.replace("\\\n", " ").strip().splitlines():
        args = shlex.split(command)
        assert args[0] == "punchcard"
        if args[1] == "sample-events":
            args += ["--count", "2000", "--members", "250"]
        result = runner.invoke(app, [*args[1:], *(["--no-progress"] if args[1] == "dry-run" else [])])
        assert result.exit_code == 0, result.output
        printed = result.stdout
    report = json.loads(printed)
    assert sum(r["members"] for r in report["variants"]) == report["totals"]["members"] == 250
    check_variant_figures(report, report["diff"])
    assert 'id="variants"' in (tmp_path / "ab-dry-run.html").read_text(encoding="utf-8")


def test_the_documented_fields_are_in_the_report(ab_report):
    report = _json(ab_report)
    doc = DOC.read_text(encoding="utf-8")
    row = re.search(r"^\| `variants` \|(.*)$", doc, re.M).group(1)
    for name in re.findall(r"`(\w+)`", row):
        if name not in ("variants", "change"):
            assert name in report["variants"][0] or name in report["variants"][0]["change"] or name in (
                report["variants"][0]["cost"]), name
