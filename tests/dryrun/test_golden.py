"""The bundled demo's report, against a stored snapshot, and the figures' own arithmetic.

Set PUNCHCARD_UPDATE_GOLDEN=1 to rewrite the snapshot after an intended change (the
diff of tests/dryrun/golden/demo-report.json then shows what moved).
"""

import gzip
import json
import os
from decimal import Decimal
from pathlib import Path

from dryrun_helpers import SAMPLE, V2
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun.report import SCHEMA
from punchcard.engine.testing import run_tests

GOLDEN = Path(__file__).parent / "golden/demo-report.json"
FLOWS = ("redeemed", "expired", "clawed_back", "adjusted_down", "voided")


def _differences(got, want, path="") -> list[str]:
    if isinstance(got, dict) and isinstance(want, dict):
        out = []
        for key in sorted(set(got) | set(want)):
            out += _differences(got.get(key), want.get(key), f"{path}.{key}")
        return out
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want, strict=True)) for d in _differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {str(got)[:80]} != {str(want)[:80]}"]


def test_demo_report_matches_the_snapshot(demo_json):
    if os.environ.get("PUNCHCARD_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(demo_json, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    problems = _differences(demo_json, expected)
    assert not problems, "the report moved (PUNCHCARD_UPDATE_GOLDEN=1 rewrites it):\n" + "\n".join(problems[:30])


def test_the_report_has_the_documented_top_level_fields(demo_json):
    assert demo_json["schema"] == SCHEMA
    for key in ("totals", "by_month", "by_rule", "tiers", "baseline", "diff", "top_members", "fraud", "streaks"):
        assert key in demo_json, key
    for key in ("events", "rejected", "points_issued", "points_redeemed", "points_expired", "points_clawed_back",
                "liability_points", "liability_money"):
        assert key in demo_json["totals"], key
    assert isinstance(demo_json["totals"]["points_issued"], str)  # Decimals travel as exact strings


def _d(value) -> Decimal:
    return Decimal(str(value))


def test_totals_reconcile_for_both_versions(demo_json):
    for side in (demo_json, demo_json["baseline"]):
        totals = side["totals"]
        net = _d(totals["opening_liability_points"]) + _d(totals["points_issued"]) - sum(
            _d(totals[f"points_{name}"]) for name in FLOWS)
        assert net == _d(totals["liability_points"]), side["ruleset"]
        assert _d(totals["liability_money"]) == _d(totals["liability_points"]) * _d(side["point_value"])
        assert side["checks"] == {"liability_reconciles": True, "member_counters_agree": True}


def test_months_add_up_to_the_totals(demo_json):
    for side in (demo_json, demo_json["baseline"]):
        months = side["by_month"]
        for name in ("issued", *FLOWS):
            assert sum(_d(m[f"points_{name}"]) for m in months) == _d(side["totals"][f"points_{name}"]), name
        assert sum(m["events"] for m in months) == side["totals"]["events"]
        assert _d(months[-1]["liability_points"]) == _d(side["totals"]["liability_points"])
        assert [m["month"] for m in months] == sorted(m["month"] for m in months)


def test_rules_and_tiers_add_up(demo_json):
    totals = demo_json["totals"]
    bonuses = sum(_d(s["points"]) for s in demo_json["streaks"] + demo_json["achievements"])
    by_rule = sum(_d(r["points"]) for r in demo_json["by_rule"])
    adjusted = sum(_d(s["points"]) for s in demo_json["sources"] if s["source"] == "adjust")
    assert by_rule + bonuses + adjusted == _d(totals["points_issued"])
    assert sum(demo_json["tiers"]["end"].values()) == totals["members"]
    assert demo_json["budgets"][0]["used"] == demo_json["budgets"][0]["max_points"]  # the demo's budget runs out
    assert demo_json["input"]["passes"] == 2


def test_the_bundled_sample_is_what_sample_events_makes(tmp_path):
    out = tmp_path / "sample.jsonl.gz"
    result = CliRunner().invoke(app, ["sample-events", "-o", str(out), "--count", "20000", "--members", "2500",
                                      "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(SAMPLE.read_bytes())
    assert SAMPLE.stat().st_size < 1_000_000


def test_the_changed_ruleset_passes_its_own_tests():
    results = run_tests(compile_ruleset(V2))
    assert len(results) >= 4
    assert [r.failures for r in results if not r.passed] == []
