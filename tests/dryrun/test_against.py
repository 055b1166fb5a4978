"""--against: both versions over the same events in one pass, and the difference."""

from decimal import Decimal

from dryrun_helpers import V1, V2, purchase, write_jsonl

from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report

SATURDAY = "2026-04-04T12:00:00"


def test_every_figure_is_new_minus_old(demo_json):
    diff, old = demo_json["diff"], demo_json["baseline"]
    for key, value in demo_json["totals"].items():
        if isinstance(value, bool) or key == "breakage":
            continue
        assert Decimal(str(diff["totals"][key])) == Decimal(str(value)) - Decimal(str(old["totals"][key])), key
    months = {m["month"]: m for m in old["by_month"]}
    for row, delta in zip(demo_json["by_month"], diff["by_month"], strict=True):
        assert delta["month"] == row["month"]
        expected = Decimal(row["points_issued"]) - Decimal(months.get(row["month"], {}).get("points_issued", "0"))
        assert Decimal(str(delta["points_issued"])) == expected
    rules = {r["rule"]: Decimal(r["points"]) for r in demo_json["by_rule"]}
    old_rules = {r["rule"]: Decimal(r["points"]) for r in old["by_rule"]}
    for row in diff["by_rule"]:
        assert Decimal(str(row["points"])) == rules.get(row["rule"], 0) - old_rules.get(row["rule"], 0)
    assert "weekend-double" in rules and "weekend-double" not in old_rules


def test_the_cost_is_the_value_of_points_not_taken_back(demo_json):
    def net(side):
        t = side["totals"]
        return Decimal(t["points_issued"]) - sum(Decimal(t[f"points_{n}"]) for n in
                                                 ("expired", "clawed_back", "adjusted_down", "voided"))

    cost = demo_json["diff"]["cost"]
    assert Decimal(cost["points"]) == net(demo_json) - net(demo_json["baseline"])
    assert Decimal(cost["money"]) == Decimal(cost["points"]) * Decimal(demo_json["point_value"])
    assert cost["currency"] == "JPY" and Decimal(cost["points"]) > 0


def test_changed_members_come_with_their_differing_traces(demo_json):
    changed = demo_json["diff"]["changed_members"]
    assert demo_json["diff"]["members_changed"]["members"] >= len(changed) > 0
    scores = [(abs(Decimal(m["points_issued"]["diff"])), abs(Decimal(m["liability_points"]["diff"]))) for m in changed]
    assert scores == sorted(scores, reverse=True)
    for member in changed:
        assert Decimal(member["points_issued"]["diff"]) == (Decimal(member["points_issued"]["new"])
                                                            - Decimal(member["points_issued"]["old"]))
        for pair in member["events"]:
            assert pair["new"]["event_id"] == pair["old"]["event_id"]
            assert (pair["new"]["points"], pair["new"]["outcome"]) != (pair["old"]["points"], pair["old"]["outcome"])
            assert pair["new"]["trace"] and pair["old"]["trace"]


def test_a_member_changes_only_when_a_decision_or_the_end_differs(tmp_path):
    events = write_jsonl(tmp_path / "events.jsonl", [
        purchase("a-1", "ann", "2026-04-01T12:00:00", 1000),  # Wednesday, standard: the same in both
        purchase("b-1", "bob", "2026-04-01T12:00:00", 1200),  # silver after this
        purchase("b-2", "bob", SATURDAY, 1000)])  # a silver Saturday: version 2 pays the weekend double
    report = to_json_report(build_report(dry_run(Options(V2, events, against=V1))))
    changed = report["diff"]["changed_members"]
    assert [m["member"] for m in changed] == ["bob"]
    assert [pair["new"]["event_id"] for pair in changed[0]["events"]] == ["b-2"]
    assert "weekend-double" in changed[0]["events"][0]["new"]["fired"]
    assert report["diff"]["members_changed"] == {"members": 1, "points": 1, "outcome": 0, "tier": 0}
