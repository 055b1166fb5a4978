"""The messages policy: triggers, consent, compliance, quiet hours, caps and the dry-run's
counts, through the engine as hosts call it."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from policy_rulesets import compiled, program, purchase

import punchcard
from punchcard.dsl.check import check_text
from punchcard.engine import Engine, MemoryStore
from punchcard.engine.dryrun import Options, build_report, dry_run
from punchcard.engine.runtime.calendar import period_key

SOFIA = ZoneInfo("Europe/Sofia")
ADULT = {"first_name": "Vera", "opt_in": True, "birth_date": "1990-05-01"}
PROGRAM = compiled()
QUIET = compiled(quiet='quiet_hours: {from: "21:00", to: "08:00"}')
DROP = compiled(quiet='quiet_hours: {from: "21:00", to: "08:00", then: drop}')


def _engine(program, member: str = "vera", profile: dict | None = None) -> Engine:
    engine = Engine(program, store=MemoryStore(), trace=True)
    engine.process({"type": "profile", "id": f"{member}-profile", "member": member, "time": "2026-01-01T00:00:00",
                    **(ADULT if profile is None else profile)})
    return engine


def _kinds(decision, kind: str = "message") -> list[str]:
    return [e.detail["message"] for e in decision.effects if e.kind == kind]


def _detail(decision, message: str) -> dict:
    return next(e.detail for e in decision.effects if e.kind == "message" and e.detail["message"] == message)


# -- triggers and facts ---------------------------------------------------------------
def test_a_purchase_thanks_a_member_who_agreed_with_the_facts_of_the_decision():
    decision = _engine(PROGRAM).process(purchase("vera", "p-1", "2026-03-02T10:00:00", "42"))
    detail = _detail(decision, "thanks")
    assert detail["facts"] == {"first_name": "Vera", "earned_points": decision.points, "balance": decision.balance}
    assert detail["channel"] == "push" and detail["id"] == "p-1/thanks" and detail["quoted"] == {"first_name": "Vera"}
    assert any(s.phase == "messages" and s.rule == "thanks" and s.fired for s in decision.trace)


def test_without_consent_the_thanks_is_suppressed_and_says_why():
    decision = _engine(PROGRAM, profile={"birth_date": "1990-05-01"}).process(purchase("vera", "p-1",
                                                                                     "2026-03-02T10:00:00"))
    assert _kinds(decision) == [] and _kinds(decision, "message_suppressed") == ["thanks"]
    assert [e.detail["reason"] for e in decision.effects if e.kind == "message_suppressed"] == ["when"]


def test_a_tier_change_a_redemption_and_an_expiry_notice_each_send_their_message():
    engine = _engine(PROGRAM)
    upgrade = engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00", "150"))
    assert sorted(_kinds(upgrade)) == ["gold", "thanks"] and _detail(upgrade, "gold")["facts"]["tier_to"] == "gold"
    spend = engine.process({"type": "redeem", "id": "r-1", "member": "vera", "time": "2026-03-03T10:00:00",
                            "points": "40"})
    assert _kinds(spend) == ["spent"] and _detail(spend, "spent")["facts"]["redeemed_points"] == 40
    notice = engine.process({"type": "tick", "id": "t-1", "member": "vera", "time": "2027-02-20T10:00:00"})
    facts = _detail(notice, "expiring")["facts"]
    assert facts["expiring_points"] == 110 and facts["expires_on"] == dt.date(2027, 3, 2)


def test_compliance_stops_every_message_to_a_minor_and_one_whose_age_is_unknown():
    for profile, why in (({"opt_in": True, "birth_date": "2012-01-01"}, "forbids it"),
                         ({"opt_in": True}, "could not tell")):
        decision = _engine(PROGRAM, profile=profile).process(purchase("vera", "p-1", "2026-03-02T10:00:00"))
        suppressed = [e.detail for e in decision.effects if e.kind == "message_suppressed"]
        assert [(d["reason"], d["rule"]) for d in suppressed] == [("compliance", "no-messages-to-minors")]
        assert any(why in s.note for s in decision.trace if s.phase == "messages")


def test_a_streak_at_risk_is_told_once_in_its_window_and_never_during_the_visit_that_saves_it():
    engine = _engine(PROGRAM)
    engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00"))
    early = engine.process({"type": "tick", "id": "t-0", "member": "vera", "time": "2026-03-03T17:00:00"})
    assert _kinds(early) == []
    warned = engine.process({"type": "tick", "id": "t-1", "member": "vera", "time": "2026-03-03T19:00:00"})
    assert _kinds(warned) == ["keep-going"]
    assert _detail(warned, "keep-going")["facts"] == {"streak_length": 1, "streak_ends": dt.date(2026, 3, 3)}
    again = engine.process({"type": "tick", "id": "t-2", "member": "vera", "time": "2026-03-03T20:00:00"})
    assert _kinds(again) == []
    other = _engine(PROGRAM, member="ivan")
    other.process(purchase("ivan", "i-1", "2026-03-02T10:00:00"))
    saved = other.process(purchase("ivan", "i-2", "2026-03-03T19:00:00"))
    assert "keep-going" not in _kinds(saved)


# -- quiet hours ---------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=24 * 60 - 1))
def test_no_message_is_sent_in_quiet_hours_whatever_the_time_it_is_chosen(minute):
    when = dt.datetime(2026, 3, 2, tzinfo=SOFIA) + dt.timedelta(minutes=minute)
    event = purchase("vera", "p-1", when.isoformat())
    quiet = not dt.time(8) <= when.time() < dt.time(21)
    sent = _detail(_engine(QUIET).process(event), "thanks")
    send_at = dt.datetime.fromisoformat(str(sent["send_at"])) if isinstance(sent["send_at"], str) else sent["send_at"]
    local = send_at.astimezone(SOFIA)
    assert dt.time(8) <= local.time() < dt.time(21) and send_at >= when and send_at - when <= dt.timedelta(hours=11)
    assert (send_at != when) == quiet
    assert sent["quiet"] == ["21:00", "08:00"] and sent["quiet_zone"] == SOFIA.key  # kept at send time in the zone
    dropped = _engine(DROP).process(event)
    assert ("thanks" in _kinds(dropped, "message_suppressed")) == quiet


# -- caps ----------------------------------------------------------------------------
def _day_and_week(detail: dict) -> tuple[int, int]:
    local = detail["send_at"].astimezone(SOFIA)
    return period_key(local, "day"), period_key(local, "week")


CAPS = {"per_day": 2, "per_week": 5, "sms_day": 1}
CAPPED = compiled(**CAPS, quiet='quiet_hours: {from: "21:00", to: "08:00"}')


def _send_day(moment: dt.datetime) -> dt.datetime:
    """The local day a message chosen at ``moment`` is sent on: quiet hours end at 08:00."""
    local = moment.astimezone(SOFIA)
    return local + dt.timedelta(days=1) if local.time() >= dt.time(21) else local


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 13 * 24 * 60), st.sampled_from(["purchase", "redeem"])), min_size=1,
                max_size=40))
def test_caps_hold_and_bite_only_when_full(moves):
    """Counted independently of the engine: every message within its caps, and every message
    suppressed by a cap suppressed exactly when that cap was already full."""
    engine = _engine(CAPPED)
    start = dt.datetime(2026, 3, 2, tzinfo=SOFIA)
    limits = {("all", "day"): 2, ("all", "week"): 5, ("sms", "day"): 1}
    sent: Counter = Counter()
    for n, (minute, kind) in enumerate(moves):  # in any order: hosts send late events
        moment = start + dt.timedelta(minutes=minute)
        raw = purchase("vera", f"e-{n}", moment.isoformat(), "30") if kind == "purchase" else \
            {"type": "redeem", "id": f"e-{n}", "member": "vera", "time": moment.isoformat(), "points": "1"}
        for effect in engine.process(raw).effects:
            day = _send_day(moment)
            if effect.kind == "message":
                assert effect.detail["send_at"].astimezone(SOFIA).date() == day.date()
                for scope, period in limits:
                    if scope in ("all", effect.detail["channel"]):
                        sent[(scope, period, period_key(day, period))] += 1
            elif effect.kind == "message_suppressed" and effect.detail["reason"].startswith("cap:"):
                scope, period = effect.detail["reason"][4:].split("/")
                assert sent[(scope, period, period_key(day, period))] == limits[(scope, period)]
    assert all(count <= limits[(scope, period)] for (scope, period, _key), count in sent.items())


def test_the_compliance_maximum_is_a_cap_and_a_higher_cap_is_an_error():
    low = _engine(punchcard.compile(program(per_day=3, compliance=1).replace("per_day: 3, ", "", 1)))
    first = low.process(purchase("vera", "p-1", "2026-03-02T10:00:00"))
    second = low.process(purchase("vera", "p-2", "2026-03-02T11:00:00"))
    assert _kinds(first) == ["thanks"] and _kinds(second, "message_suppressed") == ["thanks"]
    assert [d.code for d in check_text(program(per_day=4, compliance=3)).errors] == ["compliance_error"]


# -- the checker -----------------------------------------------------------------------
THANKS = '{en: "{first_name}, {earned_points} points are yours. Balance: {balance}."}'


@pytest.mark.parametrize(("old", "new", "message"), [
    ("facts: [first_name, earned_points, balance]", "facts: [first_name, tier_to]",
     "a earned message has no fact 'tier_to'"),
    (THANKS, '{en: "{first_name}, {earned_points} points, {tier}."}', "states {tier}, which is not among the facts"),
    (THANKS, '{en: "{balance:.2f} points"}', "is not a fact placeholder"),
    ("default_locale: en", "default_locale: bg", "no template in the default language 'bg'"),
], ids=["fact", "placeholder", "format", "locale"])
def test_the_checker_points_at_what_is_wrong(old, new, message):
    text = program()
    assert old in text
    errors = check_text(text.replace(old, new, 1)).errors
    assert any(message in e.message for e in errors), [e.message for e in errors]
    assert all(e.span.line > 0 and e.span.column > 0 for e in errors)


def test_first_name_needs_the_member_field():
    text = program().replace("first_name: optional string, ", "")
    errors = check_text(text).errors
    assert any("reads member.first_name" in e.message and e.hint for e in errors)


# -- the dry-run ------------------------------------------------------------------------
def test_the_dry_run_counts_messages_per_kind_channel_and_reason(tmp_path):
    rules = tmp_path / "program.yaml"
    rules.write_text(program(**CAPS))
    events = [{"type": "profile", "id": f"{m}-p", "member": m, "time": "2026-03-01T00:00:00", **ADULT}
              for m in ("vera", "ivan")]
    events += [purchase(m, f"{m}-{i}", f"2026-03-02T{9 + i:02d}:00:00", "60") for m in ("vera", "ivan")
               for i in range(4)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    decisions = tmp_path / "decisions.jsonl"
    report = build_report(dry_run(Options(rules, path, decisions=decisions)))["messages"]
    counted: Counter = Counter()
    for line in decisions.read_text().splitlines():
        for effect in json.loads(line)["effects"]:
            if effect["kind"] == "message":
                counted[(effect["message"], effect["channel"], "sent")] += 1
            elif effect["kind"] == "message_suppressed":
                counted[(effect["message"], effect["channel"], effect["reason"])] += 1
    assert report["sent"] == sum(n for k, n in counted.items() if k[2] == "sent") > 0
    assert report["suppressed"] == sum(n for k, n in counted.items() if k[2] != "sent") > 0
    for row in report["kinds"]:
        assert row["sent"] == counted[(row["message"], row["channel"], "sent")]
        assert all(counted[(row["message"], row["channel"], r)] == n for r, n in row["reasons"].items())
    assert report["by_reason"]["cap:all/day"] == counted[("thanks", "push", "cap:all/day")]
    plain = build_report(dry_run(Options(Path(__file__).parents[2] / "rulesets" / "coffee-club.yaml", path)))
    assert "messages" not in plain



def test_a_restriction_bans_its_words_for_the_members_it_holds_for_or_cannot_tell():
    forbid = "  forbid:\n    - id: no-messages-to-minors\n      when: age(member.birth_date) < 18\n" \
             "      action: no_message\n"
    restrict = "  restrict:\n    - id: no-alcohol-talk-to-minors\n      when: age(member.birth_date) < 18\n" \
               "      words: [wine, beer]\n"
    text = program()
    assert forbid in text
    text = text.replace(forbid, "").replace("  send:\n", restrict + "  send:\n", 1)
    compiled_text = punchcard.compile(text)
    banned = {}
    for member, born in (("adult", "1990-01-01"), ("minor", "2012-01-01"), ("unknown", None)):
        profile = {"opt_in": True, **({"birth_date": born} if born else {})}
        decision = _engine(compiled_text, member, profile).process(purchase(member, f"{member}-1",
                                                                            "2026-03-02T10:00:00"))
        banned[member] = _detail(decision, "thanks")["banned"]
    assert banned == {"adult": ["guaranteed"], "minor": ["guaranteed", "wine", "beer"],
                      "unknown": ["guaranteed", "wine", "beer"]}


def test_a_held_event_tells_nothing_of_what_it_did_before_its_review():
    review = "fraud:\n  - id: big\n    on: purchase\n    when: event.amount > 1000\n    action: review\n"
    engine = _engine(punchcard.compile(program() + review))
    held = engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00", "5000"))
    assert held.outcome == "review" and _kinds(held) == [] and _kinds(held, "message_suppressed") == []


def test_a_cooldown_counts_between_the_times_messages_are_sent():
    text = program(quiet='quiet_hours: {from: "21:00", to: "08:00"}').replace(
        "      when: member.opt_in\n", "      when: member.opt_in\n      cooldown: 12 hours\n", 1)
    engine = _engine(punchcard.compile(text))
    night = engine.process(purchase("vera", "p-1", "2026-03-02T21:30:00"))
    assert _detail(night, "thanks")["send_at"] == dt.datetime(2026, 3, 3, 8, tzinfo=SOFIA)
    morning = engine.process(purchase("vera", "p-2", "2026-03-03T09:31:00"))
    assert [e.detail["reason"] for e in morning.effects if e.kind == "message_suppressed"] == ["cooldown"]
    evening = engine.process(purchase("vera", "p-3", "2026-03-03T20:01:00"))
    assert _kinds(evening) == ["thanks"]


def test_a_message_expires_when_what_it_says_stops_being_true_or_goes_stale():
    engine = _engine(QUIET)
    thanks = _detail(engine.process(purchase("vera", "p-1", "2026-03-02T10:00:00")), "thanks")
    assert thanks["expires_at"] == thanks["send_at"] + dt.timedelta(days=2)
    assert thanks["quiet"] == ["21:00", "08:00"]
    tick = {"type": "tick", "id": "t-1", "member": "vera", "time": "2027-03-01T10:00:00"}
    notice = _detail(engine.process(tick), "expiring")
    assert notice["expires_at"] == dt.datetime(2027, 3, 2, 10, tzinfo=SOFIA)  # the points' expiry: before stale
    assert notice["facts"]["expires_on"] == dt.date(2027, 3, 2)  # the last day they can be spent


def test_streak_warnings_share_one_time_and_a_fixed_length():
    second = "    - id: keep-going-sms\n      on: streak_at_risk\n      channel: sms\n      before: 2 hours\n" \
             "      template: {en: \"Come by today.\"}\n"
    text = program().replace("    - id: expiring\n", second + "    - id: expiring\n", 1)
    assert [e.message for e in check_text(text).errors] == [
        "streak_at_risk messages warn at different times (6 hours, 2 hours)"]
    for before in ("1 month", "0 hours"):
        errors = check_text(program().replace("before: 6 hours", f"before: {before}")).errors
        assert any("fixed length more than 0" in e.message for e in errors), before


def test_library_debug_lines_that_quote_prompts_stay_off(monkeypatch):
    import logging

    from punchcard.commands.store_access import setup_logging

    monkeypatch.setenv("PUNCHCARD_LOG_LEVEL", "DEBUG")
    setup_logging()
    assert all(logging.getLogger(name).getEffectiveLevel() >= logging.INFO for name in ("anthropic", "httpx"))


def test_the_dry_runs_closing_tick_chooses_messages_as_the_engine_would(tmp_path):
    rules = tmp_path / "program.yaml"
    rules.write_text(program())
    events = [{"type": "profile", "id": "v-p", "member": "vera", "time": "2026-03-01T00:00:00", **ADULT},
              purchase("vera", "v-1", "2026-03-02T10:00:00", "60")]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    until = dt.date(2027, 2, 25)  # the closing tick falls in the expiry notice's window
    fast = build_report(dry_run(Options(rules, path, until=until)))["messages"]
    full = build_report(dry_run(Options(rules, path, until=until, decisions=tmp_path / "d.jsonl")))["messages"]
    assert fast == full and any(k["message"] == "expiring" and k["sent"] == 1 for k in fast["kinds"])


@pytest.mark.parametrize(("template", "words"), [
    ('"{first_name}, a FREE coffee and 3x points."', "promises"),
    ('"{first_name}, 20 bonus points."', "states the number '20'"),
    ('"{first_name}, <b>hello</b>."', "holds markup"),
    ('"{first_name}, guaranteed."', "banned word 'guaranteed'"),
])
def test_check_refuses_a_template_whose_own_words_promise_or_state_anything(template, words):
    text = program().replace('{en: "{first_name}, welcome to {tier_to}."}', "{en: " + template + "}", 1)
    errors = check_text(text).errors
    assert any(words in e.message and "template of message gold" in e.message for e in errors), \
        [e.message for e in errors]
