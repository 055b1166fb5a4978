"""Document validation speaks the analyst's language and points into their file."""

from __future__ import annotations

import pytest

from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code


def diagnostics_of(text: str):
    return [(d.code, d.span.line, d.span.column, d.message, d.hint) for d in check_text(text, "r.yaml").diagnostics]


def only(check_body, body: str):
    result = check_body(body)
    assert len(result.diagnostics) == 1, result.diagnostics
    return result.diagnostics[0]


def test_unknown_key_with_a_close_match(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase, points: event.amount, wehn: x}\n")
    assert (diagnostic.code, diagnostic.message, diagnostic.hint) == (
        Code.SCHEMA_ERROR, "unknown key 'wehn'", "did you mean `when`?")
    assert (diagnostic.span.line, diagnostic.span.column, diagnostic.width) == (10, 46, 4)


def test_unknown_key_lists_the_known_keys(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase, points: event.amount, zzz: x}\n")
    assert diagnostic.hint == "known keys here: on, per_item, points, unless, when"


def test_a_split_flow_mapping_gets_the_quoting_hint(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase, points: max(event.amount, 10)}\n")
    assert diagnostic.message == "unknown key '10)'"
    assert "quote the expression" in diagnostic.hint


def test_a_missing_key(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase}\n")
    assert diagnostic.message == "earning.base needs the key 'points'"


def test_a_choice_lists_the_allowed_values(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase, points: 1}\npoints:\n  refunds: {clawback: some}\n")
    assert diagnostic.message == "points.refunds.clawback: should be 'proportional' or 'none'"
    assert (diagnostic.span.line, diagnostic.span.column) == (12, 23)


def test_a_bad_duration_says_how_to_write_one(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchase, points: 1}\npoints:\n  pending: 14 dayz\n")
    assert diagnostic.message.startswith("'14 dayz' is not a duration; write e.g. '14 days'")


def test_a_rule_gives_exactly_one_effect(check_body):
    diagnostic = only(check_body, """
        earning:
          base: {on: purchase, points: 1}
          rules:
            - {id: r, on: purchase, when: true, multiply: 2, bonus: 1}
          stacking: {multipliers: add, groups: best}
    """)
    assert diagnostic.message == "a rule gives exactly one of multiply: or bonus:"


def test_stacking_must_be_stated_when_two_multipliers_meet(check_body):
    diagnostic = only(check_body, """
        earning:
          base: {on: purchase, points: 1}
          rules:
            - {id: r, on: purchase, when: true, multiply: 2}
            - {id: s, on: purchase, when: true, multiply: 3}
    """)
    assert diagnostic.message == "earning has 2 multipliers but does not say how they stack"
    assert diagnostic.hint.startswith("add stacking:")
    assert (diagnostic.span.line, diagnostic.span.column) == (10, 1)  # at earning:


def test_unknown_event_types(check_body):
    diagnostic = only(check_body, "earning:\n  base: {on: purchse, points: 1}\n")
    assert (diagnostic.code, diagnostic.message, diagnostic.hint) == (
        Code.UNKNOWN_NAME, "unknown event type 'purchse'", "did you mean `purchase`?")


def test_test_events_must_be_declared(check_body):
    diagnostic = only(check_body, """
        earning:
          base: {on: purchase, points: 1}
        tests:
          - name: t
            events:
              - {type: visit, id: x}
    """)
    assert diagnostic.message == "test event type 'visit' is not declared"


def test_errors_are_collected_not_stopped_at(check_body):
    result = check_body("""
        earning:
          base: {on: purchase, points: event.amount > 1}
          rules:
            - {id: Bad_Id, on: purchase, when: true, bonus: 1}
            - {id: r2, on: purchase, bonus: 1, multiply: 2}
          stacking: {multipliers: add, groups: best}
    """)
    assert [(d.code, d.span.line) for d in result.diagnostics] == [
        (Code.TYPE_ERROR, 11), (Code.SCHEMA_ERROR, 13), (Code.SCHEMA_ERROR, 14)]


@pytest.mark.parametrize("text, message", [
    ("- a\n", "a ruleset is a mapping that starts with `punchcard: 1`"),
    ("punchcard: 2\nruleset: x\nversion: 1.0.0\n", "punchcard: should be 1"),
    ("punchcard: 1\nruleset: Coffee Club\nversion: 1.0.0\n",
     "ruleset: use lower-case letters, digits and dashes, like coffee-club"),
    ("punchcard: 1\nruleset: x\nversion: 1.0.0\nrounding: {mode: floor, scope: event, step: 1}\n"
     "timezone: Mars/Olympus\n",
     "'Mars/Olympus' is not an IANA timezone such as Europe/Moscow or Asia/Tokyo"),
    ("punchcard: 1\nruleset: x\nversion: 1.0.0\nrounding: {mode: down}\n",
     "rounding.mode: should be 'floor', 'ceil', 'half_up' or 'half_even'"),
    ("punchcard: 1\nruleset: x\nversion: 1.0.0\nrounding: {step: 0}\n",
     "step must be a positive number with at most 6 decimals, such as 1, 0.1 or 0.01"),
])
def test_header_messages(text, message):
    [(code, _, _, actual, _)] = diagnostics_of(text)
    assert (code, actual) == (Code.SCHEMA_ERROR, message)


def test_a_number_where_text_belongs_gets_a_quoting_hint():
    [(code, line, column, message, hint)] = diagnostics_of("punchcard: 1\nruleset: x\nversion: 2.1\n")
    assert (code, line, column, message) == (Code.SCHEMA_ERROR, 3, 10, "version: input should be a valid string")
    assert "quote it" in hint


def test_unknown_field_types_list_the_known_ones():
    text = ("punchcard: 1\nruleset: x\nversion: 1.0.0\nrounding: {mode: floor, scope: event, step: 1}\n"
            "schema:\n  member: {age: integr}\n")
    [(_, _, _, message, _)] = diagnostics_of(text)
    assert message.startswith("unknown field type 'integr'; use one of money, number, integer")
