"""Models trained with --ruleset: the events are folded through the engine with the ruleset, so
the member's tier and streak, as the engine keeps them, are features too. The row training builds
for a member at a moment is the row the engine scores for that member live at that moment, and
a ruleset that cannot give a feature its model reads does not compile."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from model_helpers import MODEL_RULESET, ROOT, SAMPLES, UNTIL, copy_model
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.engine import Engine
from punchcard.engine.policies.features import MEMBER_FEATURES
from punchcard.plugins.sklearn.data import AFTER_ALL, RulesetHistory, churn_rows, held_rows, read_events, read_raw
from punchcard.plugins.sklearn.train import load_scorer

RULESET = ROOT / "rulesets" / "retail-tiers.yaml"
TOKYO = ZoneInfo("Asia/Tokyo")
HORIZON = dt.timedelta(days=60)
CUT = dt.datetime.fromisoformat(UNTIL) - HORIZON  # where training reads a churn model's features
RUNNER = CliRunner()
# retail-tiers.yaml naming the model, with an offer whose eligibility scores the member: Engine.offers
# scores them as a host's question or an offer_choose event would, at the moment asked about
LIVE = """
models:
  churn: models/churn.skops
offers:
  templates:
    - id: win-back
      type: basket_bonus
      min_purchase: 3000
      value: 60
      eligible: score("churn") > 0.6
      valid_for: 30 days
"""


class Recording:
    """A scorer that keeps the rows the engine hands it, then scores them with the real model."""

    def __init__(self, scorer: Any) -> None:
        self.scorer, self.name, self.version = scorer, scorer.name, scorer.version
        self.features: tuple[str, ...] = tuple(scorer.features)
        self.rows: list[dict[str, Decimal]] = []

    def score_many(self, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
        self.rows.extend({name: row[name] for name in self.features} for row in rows)
        return list(self.scorer.score_many(rows))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """`punchcard model train --ruleset rulesets/retail-tiers.yaml` on the bundled sample."""
    out = tmp_path_factory.mktemp("ruleset-features") / "models" / "churn.skops"
    result = RUNNER.invoke(app, ["model", "train", "--events", str(SAMPLES), "--target", "churn", "--until", UNTIL,
                                 "--ruleset", str(RULESET), "--out", str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def history() -> RulesetHistory:
    return RulesetHistory(punchcard.compile(RULESET), read_raw(SAMPLES))


class Live(tuple):
    """(the compiled ruleset, its recording scorer), shown briefly in a falsifying example."""

    def __repr__(self) -> str:
        return f"Live({self[0].label})"


@pytest.fixture(scope="module")
def live(trained) -> Live:
    """retail-tiers with the model and an offer that scores it, compiled with the installed plugins;
    its scorer records the rows."""
    folder = trained.parent.parent
    text = RULESET.read_text(encoding="utf-8").replace("ruleset: retail-tiers\n", "ruleset: retail-tiers-scored\n")
    (folder / "ruleset.yaml").write_text(text + LIVE, encoding="utf-8")
    compiled = punchcard.compile(folder / "ruleset.yaml")
    recording = Recording(compiled.scorers["churn"])
    compiled.scorers["churn"] = recording
    return Live((compiled, recording))


def live_row(live, history: RulesetHistory, member: str, at: dt.datetime) -> tuple[dict[str, Decimal], Engine]:
    """The row the engine scores for ``member`` at ``at``, having processed the member's events up to it."""
    compiled, recording = live
    engine = Engine(compiled)
    for key, _, raw in history.members[member]:
        if key <= (at, AFTER_ALL):
            engine.process(raw)
    recording.rows.clear()
    engine.offers(member, at)
    [row] = recording.rows  # one template, scored once
    return row, engine


def training_row(history: RulesetHistory, member: str, at: dt.datetime) -> dict[str, Decimal]:
    """The row training builds for ``member`` at ``at`` (what ``RulesetHistory.at`` gives it)."""
    [held] = history.before(member, [(at, AFTER_ALL)])
    return held_rows({member: held}, at, MEMBER_FEATURES).rows[0]


def interesting(history: RulesetHistory) -> list[str]:
    """Members at every tier, and every member with a streak, at the training cut."""
    held = history.at(CUT)
    by_tier: dict[Decimal, list[str]] = {}
    streaks = []
    for member, h in held.items():
        values = h.features(CUT)
        by_tier.setdefault(values["tier"], []).append(member)
        if values["streak"] > 0:
            streaks.append(member)
    return sorted({*streaks, *(m for members in by_tier.values() for m in members[:3])})


@pytest.fixture(scope="module")
def members(history) -> list[str]:
    return interesting(history)


def test_training_with_a_ruleset_reads_tier_and_streak_and_names_the_ruleset(trained):
    card = json.loads(trained.with_name("churn.card.json").read_text(encoding="utf-8"))
    assert card["ruleset"] == "retail-tiers@1.0.0"
    assert card["features"][-2:] == ["tier", "streak"] and card["features"] == list(MEMBER_FEATURES)
    assert load_scorer("churn", trained).features == tuple(MEMBER_FEATURES)
    assert card["metrics"]["training"]["auc"] > 0.7


def test_the_features_vary_as_the_engine_keeps_them(history):
    held = history.at(CUT)
    tiers = {h.features(CUT)["tier"] for h in held.values()}
    streaks = {h.features(CUT)["streak"] for h in held.values()}
    assert tiers == {Decimal(0), Decimal(1), Decimal(2), Decimal(3)}  # standard to diamond
    assert len(streaks) > 1 and min(streaks) == 0


def test_training_without_a_ruleset_leaves_tier_and_streak_out(tmp_path):
    result = RUNNER.invoke(app, ["model", "train", "--events", str(SAMPLES), "--target", "anomaly", "--until", UNTIL,
                                 "--out", str(tmp_path / "anomaly.skops"), "--format", "json"])
    card = json.loads(result.stdout)
    assert result.exit_code == 0 and "ruleset" not in card
    assert not {"tier", "streak"} & set(card["features"])


def test_the_rows_training_built_at_the_cut_are_the_rows_the_engine_scores_there(history, live, members):
    events = [event for _, event, _ in (item for items in history.members.values() for item in items)]
    rows = churn_rows(sorted(events, key=lambda e: (e.time, e.id)), CUT, HORIZON, MEMBER_FEATURES, history)
    built = dict(zip(rows.members, rows.rows, strict=True))
    members = [m for m in members if m in built]
    assert any(built[m]["streak"] > 0 for m in members) and len({built[m]["tier"] for m in members}) == 4
    for member in members:
        row, engine = live_row(live, history, member, CUT)
        assert row == built[member], member
        state = engine.member(member)
        assert state is not None and state.activity == history.before(member, [(CUT, AFTER_ALL)])[0].profile


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_a_member_scored_live_gets_the_row_training_builds_at_that_moment(history, live, members, data):
    member = data.draw(st.sampled_from(members), label="member")
    times = [key[0] for key, _, _ in history.members[member]]
    first, last = times[0].replace(tzinfo=None), times[-1].replace(tzinfo=None)
    at = data.draw(st.one_of(
        st.sampled_from(times),  # the moment of one of its events: the event counts
        st.datetimes(min_value=first - dt.timedelta(days=3), max_value=last + dt.timedelta(days=400),
                     timezones=st.just(TOKYO)),  # past 2026's end: tier windows close, streaks break
    ), label="at")
    row, _ = live_row(live, history, member, at)
    assert row == training_row(history, member, at)


def test_a_ruleset_without_tiers_or_streaks_cannot_name_the_model(trained, tmp_path):
    copy_model(trained, tmp_path / "models")
    (tmp_path / "ruleset.yaml").write_text(MODEL_RULESET, encoding="utf-8")
    with pytest.raises(PunchcardError) as raised:
        punchcard.compile(tmp_path / "ruleset.yaml")
    problems = {d.message: d for d in raised.value.diagnostics}
    assert set(problems) == {"model 'churn' reads the member's tier, and this ruleset has no tiers: section to give it",
                             "model 'churn' reads the member's streak, and this ruleset has no streaks: section to "
                             "give it"}
    line = MODEL_RULESET.splitlines().index("  churn: models/churn.skops") + 1
    assert all(d.code == Code.SCHEMA_ERROR and d.span.line == line for d in problems.values())
    assert "trained without --ruleset" in str(raised.value)


def test_a_ruleset_with_tiers_and_no_streaks_misses_only_the_streak(trained, tmp_path):
    copy_model(trained, tmp_path / "models")
    text = RULESET.read_text(encoding="utf-8")
    streaks = text[text.index("streaks:\n"):text.index("fraud:\n")]
    (tmp_path / "ruleset.yaml").write_text(text.replace(streaks, "").split("tests:\n")[0] + LIVE, encoding="utf-8")
    with pytest.raises(PunchcardError) as raised:
        punchcard.compile(tmp_path / "ruleset.yaml")
    assert [d.message for d in raised.value.diagnostics] == [
        "model 'churn' reads the member's streak, and this ruleset has no streaks: section to give it"]


def test_evaluate_and_score_fold_the_events_through_the_ruleset_too(trained, history, members):
    plain = RUNNER.invoke(app, ["model", "evaluate", str(trained), "--events", str(SAMPLES)])
    assert plain.exit_code == 2 and "give --ruleset" in plain.output and "retail-tiers@1.0.0" in plain.output
    report = RUNNER.invoke(app, ["model", "evaluate", str(trained), "--events", str(SAMPLES), "--ruleset",
                                 str(RULESET), "--format", "json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["auc"] > json.loads(report.stdout)["baseline"]["auc"]
    at = "2026-10-01T00:00:00+09:00"
    scored = RUNNER.invoke(app, ["model", "score", str(trained), "--events", str(SAMPLES), "--ruleset", str(RULESET),
                                 "--at", at])
    lines = {line["member"]: line for line in map(json.loads, scored.stdout.splitlines())}
    scorer, moment = load_scorer("churn", trained), dt.datetime.fromisoformat(at)
    for member in members[:5]:
        [expected] = scorer.score_many([training_row(history, member, moment)])
        assert Decimal(lines[member]["score"]) == expected


def test_a_ruleset_that_does_not_compile_is_a_usage_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("punchcard: 1\nruleset: bad\n", encoding="utf-8")
    result = RUNNER.invoke(app, ["model", "train", "--events", str(SAMPLES), "--target", "churn", "--until", UNTIL,
                                 "--ruleset", str(tmp_path / "bad.yaml"), "--out", str(tmp_path / "m.skops")])
    assert result.exit_code == 2 and "does not compile" in result.output
    assert not (tmp_path / "m.skops").exists()


def test_read_raw_reads_what_read_events_reads():
    assert [event for event, _ in read_raw(SAMPLES)] == read_events(SAMPLES)
