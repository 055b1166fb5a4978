"""The text report's tier table says when "the end" is: the last event's time, or the end of
the day --until named, which may be long after the last event (members with no more events
have dropped by then)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from rich.console import Console

from punchcard.engine.dryrun.tables import render_tables

GOLDEN = json.loads((Path(__file__).parent / "golden" / "demo-report.json").read_text())


def _text(report: dict) -> str:
    console = Console(width=200, record=True, color_system=None)
    console.print(render_tables(report))
    return " ".join(console.export_text().split())  # a title wraps to its table's width


def test_the_tier_table_names_the_last_event_as_its_end():
    assert f"Tiers at the end, 2026-12-18 08:08 ({GOLDEN['tiers']['moves']['up']} moves up" in _text(GOLDEN)


def test_the_tier_table_names_the_day_until_named():
    projected = copy.deepcopy(GOLDEN)
    projected["input"]["end"] = "2028-07-01T00:00:00+09:00"  # --until 2028-06-30: the midnight after it
    assert "Tiers at the end, after housekeeping to the end of 2028-06-30 (" in _text(projected)
