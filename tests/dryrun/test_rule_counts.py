"""Each rule counts once per event it fired on, in every output of the dry-run.

A multiplier shows up in a decision's trace twice (where its condition is met, and
where stacking applies it); "Fired" counts events, as ``Decision.fired()`` lists them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

from dryrun_helpers import RULESETS, V2, purchase, write_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine.dryrun import Options, dry_run
from punchcard.engine.runtime.decision import Outcome

COFFEE = RULESETS / "coffee-club.yaml"
runner = CliRunner()
MONDAY = dt.date(2026, 3, 2)
EARNING = ("earning", "stacking", "tier_multiplier")  # the trace phases of earning rules and tier multipliers


def _coffee_events(mornings: int, afternoons: int, baskets: int) -> list[dict]:
    """Weekday-morning coffees (the multiplier's condition), afternoon coffees, big baskets: one a day each."""
    events = []
    for kind, count, hour, amount, category in (("m", mornings, 8, 150, "coffee"), ("a", afternoons, 15, 150, "coffee"),
                                                ("b", baskets, 12, 1500, "food")):
        for n in range(count):
            day = MONDAY + dt.timedelta(days=7 * n)  # Mondays only: every morning coffee qualifies
            events.append(purchase(f"{kind}-{n}", f"member-{kind}-{n}", f"{day}T{hour:02d}:15:00", amount, category))
    return events


def _html_fired(html: str, rule: str) -> int:
    match = re.search(rf"<code>{re.escape(rule)}</code></td>\s*<td[^>]*>([^<]*)</td>", html)
    assert match, f"no row for {rule} in the HTML report"
    return int(match.group(1).replace(",", ""))


def _table_fired(text: str, rule: str) -> int:
    section = text[text.index("By rule"):]
    match = re.search(rf"│ {re.escape(rule)}\s+│\s+([\d,]+) │", section)
    assert match, f"no row for {rule} in the table output"
    return int(match.group(1).replace(",", ""))


def test_a_multiplier_is_counted_once_per_event_in_json_table_and_html(tmp_path):
    events = write_jsonl(tmp_path / "events.jsonl", _coffee_events(mornings=3, afternoons=2, baskets=4))
    base = ["dry-run", str(COFFEE), "--events", str(events), "--no-progress"]
    as_json = runner.invoke(app, [*base, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    fired = {row["rule"]: row["fired"] for row in json.loads(as_json.stdout)["by_rule"]}
    assert fired == {"base": 9, "coffee-mornings": 3, "big-basket": 4}
    report = tmp_path / "report.html"
    as_table = runner.invoke(app, [*base, "--report", str(report)])
    assert as_table.exit_code == 0, as_table.output
    html = report.read_text(encoding="utf-8")
    for rule, count in fired.items():
        assert _table_fired(as_table.stdout, rule) == count, rule
        assert _html_fired(html, rule) == count, rule


def _observed_fired(path: Path, ruleset: Path) -> tuple[dict, Counter]:
    """The report's fired counts, and each earning rule counted once per decision it fired in."""
    counted: Counter = Counter()

    def observe(member, run):
        for _line, _at, decision in run.sides[0].decisions:
            if decision is not None and decision.outcome != Outcome.DUPLICATE and decision.event_type != "tick":
                counted.update({s.rule for s in decision.trace if s.fired and s.phase in EARNING})

    result = dry_run(Options(ruleset, path, observe=observe))
    fired = {rule: row[0] for rule, row in result.partial.tallies[0].rules.items() if row[0]}
    return fired, counted


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mornings=st.integers(0, 6), afternoons=st.integers(0, 3), baskets=st.integers(0, 4))
def test_fired_counts_what_the_decisions_say_fired(tmp_path, mornings, afternoons, baskets):
    path = write_jsonl(tmp_path / f"e-{mornings}-{afternoons}-{baskets}.jsonl",
                       _coffee_events(mornings, afternoons, baskets))
    fired, counted = _observed_fired(path, COFFEE)
    assert fired == {rule: n for rule, n in counted.items() if n}
    assert fired.get("coffee-mornings", 0) == mornings


def test_multipliers_and_tiers_of_the_changed_retail_program_count_once(small_sample):
    fired, counted = _observed_fired(small_sample, V2)
    assert fired == {rule: n for rule, n in counted.items() if n}
