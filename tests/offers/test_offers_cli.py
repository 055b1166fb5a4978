"""``punchcard offers RULESET --store URL --member ID [--at TIME] [--format json]``."""

from __future__ import annotations

import json

from offers_support import COFFEE_OFFERS, ROOT, purchase
from typer.testing import CliRunner

from punchcard.cli import _register_commands, app
from punchcard.engine import Engine

_register_commands()
runner = CliRunner()


def _store_with_history(coffee_offers, tmp_path) -> str:
    from punchcard.plugins.sql.store import SqlStore

    url = f"sqlite:///{tmp_path / 'points.db'}"
    store = SqlStore(url)
    engine = Engine(coffee_offers, store=store)
    engine.process(purchase("o-1", "2026-03-02T08:15:00", "150", "coffee", member="masha"))
    store.close()
    return url


def test_text_lists_every_candidate_with_its_step_and_reason(coffee_offers, tmp_path):
    url = _store_with_history(coffee_offers, tmp_path)
    result = runner.invoke(app, ["offers", str(COFFEE_OFFERS), "--store", url, "--member", "masha",
                                 "--at", "2026-03-03T09:00:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "offers for masha (coffee-offers@1.0.0): 1 chosen"
    assert lines[1] == "  + visit-streak (streak_reward)  rank 0.05  [top] ranked 1 with 0.05"
    assert '  - favourite-double (double_points)  [eligible] not eligible: count(purchase, within: 30 days) >= 2' \
        in lines
    assert any(line.startswith("  - basket-bonus (basket_bonus)  [eligible] already offered: basket-bonus:o-1")
               for line in lines)


def test_json_is_the_same_candidates_for_machines(coffee_offers, tmp_path):
    url = _store_with_history(coffee_offers, tmp_path)
    result = runner.invoke(app, ["offers", str(COFFEE_OFFERS), "--store", url, "--member", "masha",
                                 "--at", "2026-03-03T09:00:00", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["member"] == "masha" and doc["ruleset"] == "coffee-offers@1.0.0"
    kept = [c for c in doc["candidates"] if c["kept"]]
    assert kept == [{"template": "visit-streak", "type": "streak_reward", "kept": True, "step": "top",
                     "reason": "ranked 1 with 0.05", "rank": "0.05",
                     "offer": {"id": "visit-streak", "type": "streak_reward", "value": "150", "lift": "0.05",
                               "category": "", "min_purchase": "0"}}]
    wine = next(c for c in doc["candidates"] if c["template"] == "wine-bonus")
    assert (wine["kept"], wine["step"]) == (False, "compliance")  # no birth date: not offered, to be safe


def test_exit_codes(coffee_offers, tmp_path):
    url = _store_with_history(coffee_offers, tmp_path)
    plain = runner.invoke(app, ["offers", str(ROOT / "rulesets" / "coffee-club.yaml"), "--store", url,
                                "--member", "masha"])
    assert plain.exit_code == 1 and "has no offers: section" in plain.output
    bad_time = runner.invoke(app, ["offers", str(COFFEE_OFFERS), "--store", url, "--member", "masha",
                                   "--at", "tomorrow"])
    assert bad_time.exit_code == 2
    missing = runner.invoke(app, ["offers", str(COFFEE_OFFERS), "--store", f"sqlite:///{tmp_path / 'none.db'}",
                                  "--member", "masha"])
    assert missing.exit_code == 2


def test_ruleset_errors_go_to_stderr_as_check_prints_them(coffee_offers, tmp_path):
    url = _store_with_history(coffee_offers, tmp_path)
    broken = tmp_path / "broken.yaml"
    text = COFFEE_OFFERS.read_text(encoding="utf-8")
    broken.write_text(text.replace("event.amount", "event.amount_typo", 1), encoding="utf-8")
    result = runner.invoke(app, ["offers", str(broken), "--store", url, "--member", "masha", "--format", "json"])
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing a machine reading JSON would trip on
    assert "error[" in result.stderr and "\\n" not in result.stderr and "\n" in result.stderr.strip()
