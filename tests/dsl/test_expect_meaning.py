"""What `expect:` keys mean when `punchcard test` runs a ruleset's tests (docs/ruleset-format.md#tests).

`badges` are badge names: on an event, the badges that event earned; on the test, every
badge the member holds. `streak` is each streak's length after the event (or the last one).
"""

from __future__ import annotations

import pytest

from punchcard.dsl.errors import PunchcardError
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.testing import run_tests

RULESET = """\
punchcard: 1
ruleset: expect-lab
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
streaks:
  - {id: daily, on: purchase, period: day}
achievements:
  - {id: big-spender, on: purchase, when: event.amount >= 100, badge: Big spender}
  - {id: regular, on: purchase, when: "count(purchase, within: 7 days) >= 2", badge: Regular}
  - {id: quiet, on: purchase, when: event.amount == 7}
tests:
  - name: the case
    member: {id: ann}
    events:
      - {type: purchase, time: "2026-03-02T12:00:00", amount: 150, expect: EXPECT1}
      - {type: purchase, time: "2026-03-03T12:00:00", amount: 7, expect: EXPECT2}
    expect: EXPECT3
"""


def failures(first: str = "{}", second: str = "{}", last: str = "{}") -> list[str]:
    text = RULESET.replace("EXPECT1", first).replace("EXPECT2", second).replace("EXPECT3", last)
    [case] = run_tests(compile_ruleset(text))
    return case.failures


@pytest.mark.parametrize("first, second, last", [
    ("{badges: [Big spender], streak: {daily: 1}}", "{badges: [Regular], streak: {daily: 2}}",
     "{badges: [Big spender, Regular], streak: {daily: 2}}"),
    ("{badges: [Big spender]}", "{badges: [Regular]}", "{badges: [Regular, Big spender]}"),
    ("{streak: {daily: 1}}", "{badges: [Regular]}", "{streak: {daily: 2}}"),
])
def test_badges_and_streaks_mean_what_the_docs_say(first, second, last):
    assert failures(first, second, last) == []


def test_an_event_that_earns_no_badge_expects_none():
    assert failures("{badges: [Big spender]}", "{badges: []}") == [
        "event e2: badges: expected [], got ['Regular']"]


def test_achievement_ids_are_not_badge_names():
    text = (RULESET.replace("EXPECT1", "{}").replace("EXPECT2", "{}")
            .replace("EXPECT3", "{badges: [big-spender, regular]}"))
    with pytest.raises(PunchcardError) as refused:
        compile_ruleset(text)
    assert [d.message for d in refused.value.diagnostics] == [
        "expect names badge 'big-spender', which no achievement awards",
        "expect names badge 'regular', which no achievement awards"]


def test_a_wrong_streak_length_after_an_event_fails():
    assert failures(second="{streak: {daily: 1}}") == ["event e2: streak: expected {'daily': 1}, got {'daily': 2}"]
