"""``sample-events --offers``: members of a variant answer offers with the purchases they bring, a
known lift the A/B report's interval must hold; offers are taken as the engagement model's
simulated history takes them (engine/dryrun/responses.py)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import punchcard
from punchcard.cli import app
from punchcard.engine.dryrun.ab import ab_report, replay_figures
from punchcard.engine.dryrun.partial import BadRows
from punchcard.engine.dryrun.samples import SampleOptions, csv_columns, generate, member_id
from punchcard.engine.dryrun.writers import write_events

ROOT = Path(__file__).resolve().parents[2]
RULESET = ROOT / "rulesets/coffee-ab.yaml"
TRUTH = Decimal("0.2")
runner = CliRunner()


@pytest.fixture(scope="module")
def compiled():
    return punchcard.compile(RULESET)


def _events(compiled, seed: int, count: int = 20_000, members: int = 2500, offers=(("triple-mornings", TRUTH),)):
    return list(generate(compiled, SampleOptions(count, members, seed, offers=offers)))


def test_the_report_finds_the_lift_the_offers_bring(compiled, tmp_path):
    """Five seeds: the 95% interval of the visits (and the spend) uplift may miss the truth once, not
    more; none of the visits' may hold 0."""
    people = tmp_path / "members.jsonl"
    people.write_text("".join(json.dumps({"member": member_id(i)}) + "\n" for i in range(2500)), encoding="utf-8")
    held: Counter = Counter()
    for seed in range(21, 26):
        events = tmp_path / f"events-{seed}.jsonl"
        write_events(_events(compiled, seed), str(events), csv_columns(compiled, offers=True))
        bad = BadRows()
        report = ab_report(compiled, replay_figures(compiled, events, bad, people))
        for row in report["uplift"]:  # baskets are drawn alike, so spend follows visits
            held[row["figure"]] += row["uplift_low"] <= TRUTH <= row["uplift_high"]
        (visits,) = [u for u in report["uplift"] if u["figure"] == "visits"]
        assert visits["uplift_low"] > 0, visits
        assert report["members"] == 2500 and not report["srm"]["mismatch"]
        assert bad.count > 0  # the offer events: not events of a ruleset without offers, left out
    assert held["visits"] >= 4 and held["spend"] >= 4


def test_each_purchase_an_offer_brings_follows_three_offers_shown_and_one_taken(compiled):
    events = _events(compiled, 3, count=6000, members=600)
    by_id = {e["id"]: e for e in events}
    shown = [e for e in events if e["type"] == "offer_presented"]
    used = [e for e in events if e["type"] == "offer_used"]
    assert used and len(shown) == 3 * len(used)
    split = compiled.split
    assert {split.variant_of(e["member"]) for e in shown + used} == {"triple-mornings"}
    for use in used:
        seen = by_id[f"{use['offer']}-presented"]
        assert {k: seen[k] for k in ("member", "offer", "offer_type", "category", "value")} == \
            {k: use[k] for k in ("member", "offer", "offer_type", "category", "value")}
        assert seen["time"] < use["time"]
    # the purchase just before each use is the member's, in the taken offer's category
    position = {id(e): i for i, e in enumerate(events)}
    for use in used:
        before = [e for e in events[:position[id(use)]] if e["type"] == "purchase" and e["member"] == use["member"]]
        assert before[-1]["category"] == use["category"]


def test_members_take_offers_in_what_they_buy(compiled):
    """The taken offer of three is in the member's most bought category far more often than chance."""
    events = _events(compiled, 5, count=20_000, members=1000)
    bought: dict[str, Counter] = defaultdict(Counter)
    groups: dict[str, list[dict]] = defaultdict(list)
    hits = chances = 0.0
    for event in events:
        if event["type"] == "purchase":
            bought[event["member"]][event["category"]] += 1
        elif event["type"] == "offer_presented":
            groups[event["member"]].append(event)
        elif event["type"] == "offer_used":
            group, groups[event["member"]] = groups[event["member"]][-3:], []
            favourite = bought[event["member"]].most_common(1)
            if not favourite:
                continue
            matching = [o for o in group if o["category"] == favourite[0][0]]
            if matching and len(matching) < 3:
                hits += event["category"] == favourite[0][0]
                chances += len(matching) / 3
    assert chances > 50 and hits > 1.5 * chances, (hits, chances)


def test_without_offers_the_same_bytes_and_with_them_the_same_bytes_again(compiled, tmp_path):
    plain, none, a, b = (tmp_path / f"{n}.jsonl" for n in ("plain", "none", "a", "b"))
    write_events(generate(compiled, SampleOptions(800, 80, 7)), str(plain), csv_columns(compiled))
    write_events(generate(compiled, SampleOptions(800, 80, 7, offers=())), str(none), csv_columns(compiled))
    assert plain.read_bytes() == none.read_bytes()
    assert csv_columns(compiled) == csv_columns(compiled, offers=False)
    for path in (a, b):
        write_events(_events(compiled, 7, 800, 80), str(path), csv_columns(compiled, offers=True))
    assert a.read_bytes() == b.read_bytes() != plain.read_bytes()


def test_the_command(compiled, tmp_path):
    out = tmp_path / "o.csv"
    result = runner.invoke(app, ["sample-events", "-o", str(out), "--ruleset", str(RULESET), "--count", "3000",
                                 "--members", "300", "--offers", "triple-mornings=0.3"])
    assert result.exit_code == 0, result.output
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"offer", "offer_type", "value"} <= set(header) and "offer_used" in out.read_text(encoding="utf-8")
    for bad, message in ((["--offers", "triple-mornings=-0.1"], "0 or more"),
                         (["--offers", "nope=0.2"], "unknown variant 'nope'"),
                         (["--offers", "triple-mornings"], "VARIANT=FRACTION")):
        failed = runner.invoke(app, ["sample-events", "-o", str(tmp_path / "x.jsonl"), "--ruleset", str(RULESET),
                                     *bad])
        assert failed.exit_code == 2 and message in failed.output, failed.output
    plain = runner.invoke(app, ["sample-events", "-o", str(tmp_path / "y.jsonl"), "--offers", "a=0.1"])
    assert plain.exit_code == 2 and "needs a ruleset with variants" in plain.output
