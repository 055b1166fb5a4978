"""`check` reads the tier, badge and streak names a test's `expect:` holds, as `test` would
compare them: an unknown one is an error at its place, with a did-you-mean."""

from __future__ import annotations

BODY = """\
earning:
  base: {on: purchase, points: event.amount}
tiers:
  metric: spend
  levels:
    - {name: silver, min: 0}
    - {name: gold, min: 1000}
streaks:
  - {id: weekly, on: purchase, period: week, rewards: [{at: 2, bonus: 10}]}
achievements:
  - {id: big, on: purchase, when: event.amount >= 100, badge: Big spender}
tests:
  - name: names
    events:
      - {type: purchase, time: "2026-03-02T09:00:00", amount: 5, category: tea,
         expect: {tier: silver, badges: [Big spender], streak: {weekly: 1}}}
    expect: {tier: gold, badges: [Big spender], streak: {weekly: 1}}
"""


def test_known_names_pass(check_body):
    result = check_body(BODY)
    assert result.ok, result.diagnostics


def test_an_unknown_tier_is_an_error_at_it_with_a_hint(check_body, codes):
    result = check_body(BODY.replace("{tier: gold", "{tier: gols"))
    assert codes(result) == ["unknown_name"]
    [problem] = result.diagnostics
    assert problem.message == "expect names tier 'gols', which is not a tier of this ruleset"
    assert problem.hint == "did you mean `gold`?"
    assert (problem.span.line, problem.span.column) == (25, 20)


def test_an_unknown_badge_on_an_event_is_an_error(check_body, codes):
    result = check_body(BODY.replace("badges: [Big spender], streak: {weekly: 1}}}",
                                     "badges: [Big spendr], streak: {weekly: 1}}}"))
    assert codes(result) == ["unknown_name"]
    [problem] = result.diagnostics
    assert problem.message == "expect names badge 'Big spendr', which no achievement awards"
    assert problem.hint == "did you mean `Big spender`?"
    assert (problem.span.line, problem.span.column) == (24, 42)


def test_an_unknown_streak_is_an_error_at_its_key(check_body, codes):
    result = check_body(BODY.replace("streak: {weekly: 1}}\n", "streak: {weekyl: 1}}\n"))
    assert codes(result) == ["unknown_name"]
    [problem] = result.diagnostics
    assert problem.message == "expect names streak 'weekyl', which is not a streak of this ruleset"
    assert problem.hint == "did you mean `weekly`?"
    assert (problem.span.line, problem.span.column) == (25, 58)


def test_a_ruleset_without_tiers_or_badges_lists_none(check_body, codes):
    result = check_body("""\
earning:
  base: {on: purchase, points: event.amount}
tests:
  - name: none
    events:
      - {type: purchase, time: "2026-03-02T09:00:00", amount: 5, category: tea}
    expect: {tier: nope, badges: [x], streak: {a: 1}}
""")
    assert codes(result) == ["unknown_name"] * 3
    assert [d.hint for d in result.diagnostics] == ["this ruleset has no tiers", "no achievement awards a badge",
                                                    "this ruleset has no streaks"]


def test_no_tier_and_no_badges_are_fine(check_body):
    assert check_body(BODY.replace("{tier: gold, badges: [Big spender]", "{tier: null, badges: []")).ok
