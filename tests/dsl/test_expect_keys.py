"""`check` reads a test's `expect:` keys, on the test and on each event, as `test` would."""

from __future__ import annotations

from punchcard.dsl.vocabulary import EXPECT_KEYS
from punchcard.engine import testing

TESTS = """\
earning:
  base: {on: purchase, points: event.amount}
tests:
  - name: a typo
    events:
      - {type: purchase, time: "2026-03-02T09:00:00", amount: 5, category: tea, expect: {pionts: 5}}
    expect: {balanse: 5, points: 5}
"""


def test_unknown_expect_keys_are_errors_with_a_hint(check_body, codes):
    result = check_body(TESTS)
    assert codes(result) == ["schema_error", "schema_error"]
    event, test = result.diagnostics
    assert (event.message, event.hint) == ("unknown expect key 'pionts'", "did you mean `points`?")
    assert (event.span.line, event.span.column) == (14, 90)
    assert (test.message, test.hint) == ("unknown expect key 'balanse'", "did you mean `balance`?")
    assert (test.span.line, test.span.column) == (15, 14)


def test_a_key_far_from_any_lists_them_all(check_body):
    result = check_body(TESTS.replace("balanse", "zzz"))
    assert result.diagnostics[-1].hint == "known keys: " + ", ".join(EXPECT_KEYS)


def test_known_keys_pass(check_body):
    assert check_body(TESTS.replace("pionts", "points").replace("balanse", "balance")).ok


def test_the_engine_reads_the_same_keys():
    assert testing.EXPECT_KEYS is EXPECT_KEYS
