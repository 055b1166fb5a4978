"""The type checker: names, fields, operators, functions and aggregates, with their messages."""

from __future__ import annotations

import pytest

from punchcard.dsl.checker import ERROR, ExprChecker, SchemaView, Scope
from punchcard.dsl.errors import Code, Span
from punchcard.dsl.functions import BUILTINS
from punchcard.dsl.parser import parse_expression
from punchcard.dsl.types import BOOL, DATE, DATETIME, DURATION, MONEY, NOTHING, NUMBER, STRING, TIME, list_of

SCHEMA = SchemaView(
    events={"purchase": {"amount": MONEY, "category": STRING, "items": NUMBER},
            "visit": {"store": STRING}, "tick": {}},
    member={"birth_date": DATE, "segment": STRING},
    tiers=("bronze", "silver", "gold"),
)
LETS = {"big": BOOL, "spend": MONEY}
PURCHASE = Scope(("purchase",))  # an expression of a rule on purchase events


def check(text: str, scope: Scope = PURCHASE):
    checker = ExprChecker(SCHEMA, dict(BUILTINS), set(LETS), lambda name, s: LETS[name],
                          lambda line, column: Span("r.yaml", line, column), scope)
    result = checker.check(parse_expression(text))
    return result, checker.diagnostics


def type_of(text: str, scope: Scope = PURCHASE):
    result, diagnostics = check(text, scope)
    assert diagnostics == [], diagnostics
    return result


def problem(text: str, scope: Scope = PURCHASE):
    result, diagnostics = check(text, scope)
    assert result is ERROR or diagnostics
    [diagnostic] = diagnostics
    return diagnostic


@pytest.mark.parametrize("text, expected", [
    ("event.amount * 2", MONEY),
    ("event.amount + 1.5", MONEY),
    ("2 * 3", NUMBER),
    ("event.amount / event.amount", NUMBER),  # a ratio
    ("event.amount >= 1300", BOOL),
    ("event.time", DATETIME),
    ("event.id", STRING),
    ("event.member", STRING),
    ("member.tier", STRING),
    ("member.balance", NUMBER),
    ("member.birth_date + 7 days", DATE),
    ("event.time - 2 hours", DATETIME),
    ("now", DATETIME),
    ("hour(event.time)", NUMBER),
    ("weekday(event.time) in [\"sat\", \"sun\"]", BOOL),
    ("time_of_day(event.time) < 10:00", BOOL),
    ("date(event.time) == 2026-03-02", BOOL),
    ("days_between(member.birth_date, event.time)", NUMBER),
    ("max(event.amount, 10, 20)", MONEY),
    ("round(event.amount / 3, 2)", MONEY),
    ("len([1, 2])", NUMBER),
    ("starts_with(lower(event.category), \"cof\")", BOOL),
    ("if big then spend else 0", MONEY),
    ("[]", list_of(NOTHING)),
    ("[1, event.amount]", list_of(MONEY)),
    ("count(purchase, within: 30 days)", NUMBER),
    ("sum(purchase.amount, within: 1 year)", MONEY),
    ("-event.amount", MONEY),
    ("10:00", TIME),
    ("7 days", DURATION),
])
def test_types(text, expected):
    assert type_of(text) == expected


@pytest.mark.parametrize("text, code, message, hint", [
    ("event.amont", Code.UNKNOWN_NAME, "event.amont is not a field on purchase", "did you mean `event.amount`?"),
    ("member.segmnt", Code.UNKNOWN_NAME, "member.segmnt is not a member field", "did you mean `member.segment`?"),
    ("spnd + 1", Code.UNKNOWN_NAME, "unknown name 'spnd'", "did you mean `spend`?"),
    ("houre(event.time)", Code.UNKNOWN_NAME, "unknown function 'houre'", "did you mean `hour`?"),
    ("event", Code.TYPE_ERROR, "event is not a value on its own", "read one of its fields, e.g. event.amount"),
    ("purchase > 1", Code.TYPE_ERROR, "purchase is an event type, not a value",
     "count it over a window: count(purchase, within: 30 days)"),
    ("event.category > 10", Code.TYPE_ERROR, "cannot compare string > number",
     "text and numbers never compare; quote the number or compare with another field"),
    ("event.time > 10", Code.TYPE_ERROR, "cannot compare datetime > number",
     "use hour(event.time) to compare the hour, or a date like 2026-03-02"),
    ("event.time < 10:00", Code.TYPE_ERROR, "cannot compare datetime < time",
     "use time_of_day(event.time) to compare with a time like 10:00"),
    ("event.amount * event.amount", Code.TYPE_ERROR, "cannot compute money * money", None),
    ("event.amount * event.category", Code.TYPE_ERROR, "cannot compute money * string",
     "text takes no arithmetic: compare it with == or in, or read a number field"),
    ("event.category + \"x\"", Code.TYPE_ERROR, "cannot compute string + string",
     "join text in the host, not in rules"),
    ("not event.amount", Code.TYPE_ERROR, "the operand of 'not' must be bool, but the expression is money", None),
    ("big and 1", Code.TYPE_ERROR, "each side of 'and' must be bool, but the expression is number", None),
    ("if big then 1 else \"x\"", Code.TYPE_ERROR, "'then' gives number but 'else' gives string", None),
    ("[1, \"a\"]", Code.TYPE_ERROR, "a list mixes number and string", None),
    ("1 in [\"a\"]", Code.TYPE_ERROR, "a number is never in a list of string", None),
    ("1 in 2", Code.TYPE_ERROR, "'in' needs a list on its right, not number", None),
    ("-event.category", Code.TYPE_ERROR, "cannot negate a string", None),
    ("hour(event.time, 1)", Code.ARITY_ERROR, "hour() takes 1 arguments, got 2", BUILTINS["hour"].doc),
    ("max(1)", Code.ARITY_ERROR, "max() takes 2 or more arguments, got 1", BUILTINS["max"].doc),
    ("round(1, 2, 3)", Code.ARITY_ERROR, "round() takes 1 to 2 arguments, got 3", BUILTINS["round"].doc),
    ("hour(x: event.time)", Code.TYPE_ERROR, "hour() takes no named arguments", None),
    ("lower(1)", Code.TYPE_ERROR, "argument 1 of lower() must be string, not number", BUILTINS["lower"].doc),
    ("count(purchase)", Code.ARITY_ERROR, "count() takes an event and within: a duration",
     "for example count(purchase, within: 60 minutes)"),
    ("sum(purchase.category, within: 7 days)", Code.TYPE_ERROR, "purchase.category is not a number field", None),
    ("count(purchas, within: 7 days)", Code.TYPE_ERROR, "count() needs an event type as its first argument",
     "for example count(purchase, within: 60 minutes)"),
    ("count(purchase, within: 7)", Code.TYPE_ERROR, "within: must be duration, but the expression is number", None),
    ("member.tier == \"platinum\"", Code.UNKNOWN_NAME, "there is no tier 'platinum'", None),
    ("streak.length", Code.UNKNOWN_NAME, "streak.length is not available here",
     "streak.length can be used inside a streak's rewards"),
    ("a.b.c", Code.TYPE_ERROR, "fields can be read only as event.x, member.x or streak.length", None),
])
def test_problems(text, code, message, hint):
    diagnostic = problem(text)
    assert (diagnostic.code, diagnostic.message) == (code, message)
    if hint is not None:
        assert diagnostic.hint == hint


@pytest.mark.parametrize("text", ["event.__class__", "member.__dict__", "__import__(\"os\")", "__builtins__"])
def test_dunder_names_are_unknown(text):
    assert problem(text).code is Code.UNKNOWN_NAME


def test_fields_are_checked_on_every_event_type_in_scope():
    diagnostic = problem("event.store", Scope(("purchase", "visit")))
    assert diagnostic.message == "event.store is not a field on purchase"
    assert type_of("event.store", Scope(("visit",))) == STRING


def test_streak_length_inside_streak_rewards():
    assert type_of("streak.length * 10", Scope(("purchase",), streak=True)) == NUMBER


def test_one_mistake_gives_one_message():
    _, diagnostics = check("(event.amont + 1) * 2 > 3 and big")
    assert [d.code for d in diagnostics] == [Code.UNKNOWN_NAME]


def test_expected_type_of_a_site():
    checker = ExprChecker(SCHEMA, dict(BUILTINS), set(), lambda n, s: ERROR,
                          lambda line, column: Span("r.yaml", line, column), Scope(("purchase",)))
    checker.check(parse_expression("event.amount > 1"), (NUMBER, MONEY), "points:")
    [diagnostic] = checker.diagnostics
    assert diagnostic.message == "points: must be number or money, but the expression is bool"


def test_diagnostics_are_positioned_by_the_locator():
    diagnostic = problem("1 +\n  event.amont")
    assert diagnostic.span == Span("r.yaml", 2, 9)


def test_aggregates_are_recorded_for_the_engine():
    checker = ExprChecker(SCHEMA, dict(BUILTINS), set(), lambda n, s: ERROR,
                          lambda line, column: Span("r.yaml", line, column), Scope(("purchase",)))
    checker.check(parse_expression("count(visit, within: 7 days) > 2 and sum(purchase.amount, within: 30 days) > 0"))
    assert [call.function for call in checker.aggregates] == ["count", "sum"]


def test_a_let_is_checked_where_it_is_used(check_body, codes):
    result = check_body("""
        let:
          online: event.channel == "web"
        earning:
          base:
            on: purchase
            points: event.amount
            when: online
    """)
    assert result.ok and codes(result) == []


def test_a_let_used_on_the_wrong_event_type_is_reported_inside_the_let(ruleset_text):
    from punchcard.dsl.check import check_text

    text = ruleset_text("""
        let:
          online: event.channel == "web"
        earning:
          base:
            on: visit
            points: 1
            when: online
    """).replace("events:\n", "events:\n    visit: {store: string}\n")
    result = check_text(text, "r.yaml")
    [diagnostic] = result.diagnostics
    assert diagnostic.code is Code.UNKNOWN_NAME and diagnostic.message == "event.channel is not a field on visit"
    assert text.splitlines()[diagnostic.span.line - 1][diagnostic.span.column - 1:].startswith("channel")
