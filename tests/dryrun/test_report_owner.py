"""The owner's part of the report: the cost defined, who gains and who loses, colours by meaning,
numbers as an owner reads them, traces side by side, and a page that is the same bytes every time."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from dryrun_helpers import V1, V2, demo_options
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun.change import ChangeTally, bin_bounds, bin_of
from punchcard.engine.dryrun.html import render_html
from punchcard.engine.dryrun.owner_html import bin_label, owner_sections
from punchcard.engine.dryrun.samples import SampleOptions, generate
from punchcard.engine.dryrun.sections import TOTAL_LABELS
from punchcard.engine.dryrun.writers import write_events

GOLDEN = Path(__file__).parent / "golden/demo-owner.html"
SEGMENTS = ("new", "regular", "vip")


def _d(value) -> Decimal:
    return Decimal(str(value))


def _json(report: dict) -> dict:
    return json.loads(json.dumps(to_json_report(report)))


def check_owner_figures(report: dict) -> None:
    """What must hold of any comparison: the members' changes add up to the cost, every member once."""
    diff = report["diff"]
    cost, dist = diff["cost"], diff["distribution"]
    members = dist["members"]
    assert dist["more"] + dist["fewer"] + dist["same"] == members
    assert sum(b["members"] for b in dist["bins"]) == members
    assert _d(dist["points"]) == _d(cost["points"])
    assert sum(r["members"] for r in diff["by_tier"]) == members
    assert sum(_d(r["points"]) for r in diff["by_tier"]) == _d(cost["points"])
    assert sum(r["more"] for r in diff["by_tier"]) == dist["more"]
    for row in dist["bins"]:
        if row["bin"] == 0:
            assert row["members"] == dist["same"]
    assert sum(b["members"] for b in dist["bins"] if b["bin"] > 0) == dist["more"]
    step = _d(report["rounding_step"])
    if members:
        assert _d(cost["per_member"]["points"]) == (_d(cost["points"]) / members).quantize(step, ROUND_HALF_EVEN)
    assert _d(cost["per_month"]["points"]) == (_d(cost["points"]) / len(report["by_month"])).quantize(
        step, ROUND_HALF_EVEN)
    assert _d(cost["new_points"]) - _d(cost["old_points"]) == _d(cost["points"])


def test_the_demo_figures_add_up(demo_json):
    check_owner_figures(demo_json)
    cost = demo_json["diff"]["cost"]
    assert cost["percent"] == str((_d(cost["points"]) * 100 / _d(cost["old_points"])).quantize(Decimal("0.1")))
    assert cost["members"] == demo_json["totals"]["members"] and cost["months"] == 12
    assert demo_json["diff"]["distribution"]["more"] > 0 and [r["name"] for r in demo_json["diff"]["by_tier"]] == [
        "standard", "silver", "gold", "diamond"]


# -- members with segments, over generated histories ----------------------------------------------
def _with_segment(path: Path, tmp: Path) -> Path:
    out = tmp / path.name
    text = path.read_text().replace("member: {birth_date: optional date,", "member: {segment: optional string, "
                                                                           "birth_date: optional date,")
    assert text != path.read_text()
    out.write_text(text)
    return out


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("segments")
    return tmp, _with_segment(V1, tmp), _with_segment(V2, tmp)


def _replay(tmp: Path, new: Path, old: Path, seed: int, count: int, workers: int = 1) -> dict:
    events = tmp / f"events-{seed}-{count}.jsonl"
    write_events(generate(compile_ruleset(V1), SampleOptions(count=count, members=40, seed=seed)), events)
    ids = sorted({json.loads(line)["member"] for line in events.read_text().splitlines()})
    members = tmp / f"members-{seed}-{count}.jsonl"
    members.write_text("".join(json.dumps({"member": m, "segment": SEGMENTS[i % 3]} if i % 4 else {"member": m})
                               + "\n" for i, m in enumerate(ids)))
    return build_report(dry_run(Options(new, events, members, against=old, workers=workers)))


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), count=st.integers(60, 400), reverse=st.booleans())
def test_winners_losers_and_unchanged_are_every_member(segmented, seed, count, reverse):
    tmp, old, new = segmented
    report = _json(_replay(tmp, old if reverse else new, new if reverse else old, seed, count))
    check_owner_figures(report)
    segments = report["diff"]["by_segment"]
    assert {r["name"] for r in segments} <= set(SEGMENTS)
    members = report["diff"]["distribution"]["members"]
    assert sum(r["members"] for r in segments) == members - (members + 3) // 4  # every fourth has none


def test_a_cheaper_version_is_coloured_as_less_cost(segmented):
    tmp, old, new = segmented
    report = _replay(tmp, old, new, 3, 400)  # the old version "against" the new one: it costs less
    assert _d(report["diff"]["cost"]["points"]) < 0
    page = owner_sections(json.loads(json.dumps(to_json_report(report))))
    assert re.search(r'<div class="card cost-down">', page) and not re.search(r'class="card cost-up"', page)
    assert '<rect class="cost-down"' in page and '<rect class="cost-up"' not in page
    assert "By segment</h3><table>" in page


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False), max_size=40),
       st.integers(1, 5))
def test_change_tallies_merge_to_the_same_figures_in_any_split(deltas, parts):
    whole, pieces = ChangeTally(), [ChangeTally() for _ in range(parts)]
    for index, delta in enumerate(deltas):
        whole.add(delta, "gold" if index % 2 else None, "vip" if index % 3 else None)
        pieces[index % parts].add(delta, "gold" if index % 2 else None, "vip" if index % 3 else None)
    merged = ChangeTally()
    for piece in reversed(pieces):
        merged.merge(piece)
    assert (merged.bins, merged.groups, merged.points) == (whole.bins, whole.groups, whole.points)
    assert merged.members == len(deltas) and merged.points == sum(deltas, Decimal(0))


@settings(max_examples=300, deadline=None)
@given(st.decimals(min_value=-10**15, max_value=10**15, allow_nan=False, allow_infinity=False))
def test_a_change_falls_in_its_bin(delta):
    number = bin_of(delta)
    low, high = bin_bounds(number)
    if delta > 0:
        assert number > 0 and low < delta <= high
    elif delta < 0:
        assert number < 0 and low <= delta < high
    else:
        assert number == 0


def test_bin_labels_speak_in_rounding_steps():
    step = Decimal(1)
    assert bin_label(*bin_bounds(bin_of(Decimal(7))), step) == "+6 to +10"
    assert bin_label(*bin_bounds(bin_of(Decimal(1))), step) == "+1"
    assert bin_label(*bin_bounds(bin_of(Decimal(-3))), step) == "-5 to -3"
    assert bin_label(*bin_bounds(bin_of(Decimal("0.3"))), step) is None  # no whole point fits in (0.2, 0.5]
    assert bin_label(Decimal(0), Decimal(0), step) == "0"


# -- the page ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page(demo_report) -> str:
    return render_html(demo_report)


def test_the_cost_is_defined_on_the_page(page, demo_json):
    cost = re.search(r'<section id="cost">.*?</section>', page, re.S).group(0)
    assert "Cost of the change</b>: the points the new version gives out and does not take back" in cost
    assert "+262,883 points" in cost and "+44.6%" in cost
    assert "117 points" in cost and "over 2,240 members" in cost
    assert "21,907 points" in cost and "over 12 months (2026-01 to 2026-12)" in cost
    assert '<div class="card cost-up">' in cost  # more cost is the warning colour, never green
    assert "more cost to the program" in cost  # with its legend


def test_more_cost_is_not_green(page):
    css = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    up = re.search(r"--cost-up: (#[0-9a-f]{6})", css).group(1)
    red, green, blue = (int(up[i:i + 2], 16) for i in (1, 3, 5))
    assert red > green > blue  # a warm warning colour
    totals = re.search(r'<section id="totals">.*?</section>', page, re.S).group(0)
    issued = re.search(r'<td class="">Points issued</td>.*?</tr>', totals).group(0)
    voided = re.search(r'<td class="">Points voided</td>.*?</tr>', totals).group(0)
    events = re.search(r'<td class="">Applied</td>.*?</tr>', totals).group(0)
    assert 'class="num cost-up"' in issued  # more issued: more cost
    assert 'class="num cost-down"' in voided  # more voided: less cost, though the figure went up
    assert "cost-up" not in events and "cost-down" not in events  # a count costs nothing by itself


def test_the_histogram_is_an_inline_svg_of_every_member(page, demo_json):
    svg = re.search(r'<svg class="histogram".*?</svg>', page, re.S).group(0)
    counts = [int(n) for n in re.findall(r'<text class="count"[^>]*>(\d+)</text>', svg)]
    assert sum(counts) == demo_json["diff"]["distribution"]["members"]
    assert svg.count('<rect class="cost-up"') >= 10 and svg.count('<rect class="neutral"') == 1


def test_numbers_read_as_an_owner_reads_them(page, demo_json):
    rules = re.search(r'<section id="rules">.*?</section>', page, re.S).group(0)
    assert "408,489" in rules and "408,488.628" not in rules  # to the rounding step
    assert "Breakage" in page and "0.0%" in page
    totals = re.search(r'<section id="totals">.*?</section>', page, re.S).group(0)
    labels = re.findall(r'<tr><td class="">([^<]+)</td>', totals)
    assert len(labels) == len(set(labels))  # no figure twice
    assert "Liability at the end (money)" not in labels  # a point is worth 1 JPY: the same numbers
    assert "Rejected or blocked" not in labels
    rows = {label: re.search(rf'<td class="">{re.escape(label)}</td><td[^>]*>([^<]+)</td>', totals).group(1)
            for label in ("Applied", "Held for review", "Duplicates", "Blocked by fraud or compliance",
                          "Rejected for other reasons", "Events")}
    parts = sum(int(v.replace(",", "")) for k, v in rows.items() if k != "Events")
    assert parts == int(rows["Events"].replace(",", ""))  # each event counted once
    assert len(TOTAL_LABELS) == len({k for k, _ in TOTAL_LABELS})


def test_traces_are_tables_old_beside_new(page):
    assert "<pre>" not in page  # no raw JSON
    changed = re.search(r'<section id="changed">.*?</section>', page, re.S).group(0)
    assert changed.count("<th>Old</th><th>New</th>") >= 10
    assert '<tr class="differs">' in changed and "<details open>" in changed
    assert "x1.5 on base" in changed and "x2 on base" in changed  # the old and the new tier multiplier
    traces = re.search(r'<section id="traces">.*?</section>', page, re.S).group(0)
    assert '<table class="trace">' in traces and "<ul class=\"effects\">" in traces


def test_the_page_is_the_same_bytes_every_time(demo_report, page):
    assert render_html(demo_report) == page
    again = build_report(dry_run(demo_options(workers=2)))
    assert render_html(again) == page  # the figures and their order do not depend on the workers


def test_the_owner_sections_match_their_snapshot(demo_report):
    """Set PUNCHCARD_UPDATE_GOLDEN=1 to rewrite it after an intended change; its diff shows what moved."""
    got = owner_sections(json.loads(json.dumps(to_json_report(demo_report))))
    if os.environ.get("PUNCHCARD_UPDATE_GOLDEN"):
        GOLDEN.write_text(got + "\n", encoding="utf-8")
    assert got + "\n" == GOLDEN.read_text(encoding="utf-8")


# -- the demo ------------------------------------------------------------------------------------------
def test_the_demo_shows_expiry_and_breakage(tmp_path):
    out = tmp_path / "demo.html"
    result = CliRunner().invoke(app, ["demo", "--report", str(out), "--format", "json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    totals = report["totals"]
    assert _d(totals["points_expired"]) > 0 and _d(totals["breakage"]) > 0
    assert _d(totals["liability_points"]) > 0  # some points are still owed: not everything expired
    assert report["input"]["end"].startswith("2028-07-01")  # to the end of --until 2028-06-30
    assert Counter(m["month"][:4] for m in report["by_month"])["2028"] == 6
    page = out.read_text(encoding="utf-8")
    breakage = re.search(r'<td class="">Breakage \(expired / issued\)</td><td[^>]*>([^<]+)</td>', page).group(1)
    assert breakage.endswith("%") and breakage != "0.0%"
    check_owner_figures(report)
