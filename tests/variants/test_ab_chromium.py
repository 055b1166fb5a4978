"""The A/B page draws both charts in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import punchcard
from punchcard.engine.dryrun.ab import MemberFigures, ab_report
from punchcard.engine.dryrun.ab_html import AB_CHARTS, render_ab_html

ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--virtual-time-budget=15000"]


def test_both_charts_draw(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    assert browser, "Chromium is needed (scripts/ensure-chromium installs it)"
    compiled = punchcard.compile(ROOT / "rulesets/coffee-ab.yaml")
    members = [MemberFigures(f"m{i}", compiled.split.variant_of(f"m{i}"), Decimal(10 + i % 7), 1 + i % 3,
                             Decimal(5 + i % 4)) for i in range(200)]
    page = tmp_path / "ab.html"
    page.write_text(render_ab_html(ab_report(compiled, members, source="sample")), encoding="utf-8")
    result = subprocess.run([browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                             page.as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout).group(0)
    assert f'data-charts-drawn="{len(AB_CHARTS)}"' in body, body
    for chart in AB_CHARTS:
        assert re.search(rf'<canvas id="{chart}"[^>]*data-drawn="true"', result.stdout), chart
