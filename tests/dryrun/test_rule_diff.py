"""``punchcard diff OLD NEW`` and the rule diff at the top of the dry-run report."""

from __future__ import annotations

import json
import re

from dryrun_helpers import V1, V2, demo_options
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.dryrun import build_report, dry_run
from punchcard.engine.dryrun.html import render_html
from punchcard.engine.dryrun.owner_html import rule_diff_section

runner = CliRunner()


def test_diff_exits_like_diff_does(tmp_path):
    same = runner.invoke(app, ["diff", str(V1), str(V1)])
    changed = runner.invoke(app, ["diff", str(V1), str(V2)])
    missing = runner.invoke(app, ["diff", str(tmp_path / "nope.yaml"), str(V2)])
    assert (same.exit_code, changed.exit_code, missing.exit_code) == (0, 1, 2)
    assert "0 added, 0 removed, 0 changed" in same.stdout
    assert "nope.yaml: no such file" in missing.stderr


def test_a_ruleset_with_errors_is_trouble_not_a_difference(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(V2.read_text().replace("bonus: 100", "bonus: 100 +"))
    result = runner.invoke(app, ["diff", str(V1), str(broken)])
    assert result.exit_code == 2 and "broken.yaml" in result.stderr
    assert result.stdout == ""


def test_diff_text_lists_each_rule_with_its_fields():
    result = runner.invoke(app, ["diff", str(V1), str(V2)])
    lines = result.stdout.splitlines()
    assert lines[0] == "retail-tiers@1.0.0 → retail-tiers@2.0.0: 4 added, 0 removed, 5 changed"
    assert "+ earning.rules: big-basket" in lines and "~ tiers.levels: gold" in lines
    gold = lines.index("~ tiers.levels: gold")
    assert lines[gold + 1].strip() == "earn_multiplier: 1.5 → 2"
    basket = lines.index("+ earning.rules: big-basket")
    assert "    bonus: 100" in lines[basket + 1:basket + 6]


def test_diff_json_is_the_rule_diff():
    result = runner.invoke(app, ["diff", str(V1), str(V2), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["schema"] == "punchcard.rule-diff/1"
    assert {(c["change"], c["section"], c["key"]) for c in data["changes"]} >= {
        ("added", "earning.rules", "weekend-double"), ("changed", "tiers.levels", "diamond")}


def test_the_report_carries_the_same_diff(demo_json):
    cli = json.loads(runner.invoke(app, ["diff", str(V1), str(V2), "--format", "json"]).stdout)
    assert demo_json["diff"]["rules"] == {k: v for k, v in cli.items() if k != "schema"}


def test_the_report_opens_with_the_rule_diff(demo_report):
    page = render_html(demo_report)
    sections = re.findall(r'<section id="([a-z-]+)"', page)
    assert sections[:3] == ["rule-diff", "cost", "distribution"]
    section = rule_diff_section(json.loads(json.dumps(demo_report, default=str)))
    rows = re.findall(r"<tr>(.*?)</tr>", section)
    fields = sum(len(c["fields"]) for c in demo_report["diff"]["rules"]["changes"])
    assert len(rows) == fields + 1  # a header, then one row per field of each change
    assert "earn_multiplier" in section and "<code>1.5</code>" in section and "weekend-double" in section


def test_a_single_ruleset_has_no_owner_sections():
    report = build_report(dry_run(demo_options(against=None)))
    page = render_html(report)
    assert 'id="rule-diff"' not in page and 'id="cost"' not in page and "diff" not in report


def test_the_documented_example_is_what_diff_prints():
    """docs/dry-run.md shows `punchcard diff` on the bundled versions: its lines, in order ("..." skips)."""
    doc = (V1.parents[1] / "docs/dry-run.md").read_text(encoding="utf-8")
    part = doc[doc.index("## `punchcard diff`"):]
    shown = re.search(r"```text\n(.*?)```", part, re.S).group(1).splitlines()
    printed = runner.invoke(app, ["diff", str(V1), str(V2)]).stdout.splitlines()
    at = 0
    for line in shown:
        if line.strip() == "...":
            continue
        assert line in printed[at:], line
        at = printed.index(line, at) + 1


def test_every_documented_diff_field_is_in_the_report(demo_json):
    doc = (V1.parents[1] / "docs/dry-run.md").read_text(encoding="utf-8")
    for name in re.findall(r"^\| `diff\.(\w+)(?:\.(\w+))?`", doc, re.M):
        value = demo_json["diff"][name[0]]
        assert not name[1] or name[1] in value, name
