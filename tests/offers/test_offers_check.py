"""The offers: section is checked like the rest of a ruleset: each mistake an error at its place
(file:line:col, a caret, a hint), before anything runs."""

from __future__ import annotations

from offers_support import ruleset

from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code, render_all


def errors(text: str) -> list[tuple[str, int, int, str]]:
    checked = check_text(text, "offers.yaml")
    return [(d.code, d.span.line, d.span.column, d.message) for d in checked.errors]


def test_a_clean_catalogue_checks():
    text = ruleset("""\
    - {id: a, type: double_points, category: favourite, hours: usual, eligible: "member.birth_date < 2000-01-01"}
    - {id: b, type: custom, grant: {when: event.amount > offer.min_purchase, bonus: offer.value + 1}}
""")
    assert check_text(text).errors == []


def test_choosing_reads_no_event_and_says_so_at_the_field():
    text = ruleset("    - {id: a, type: basket_bonus, min_purchase: 10, value: 5}\n",
                   choose="{rank: event.amount}")
    checked = check_text(text, "offers.yaml")
    assert [(d.code, d.span.line, d.span.column) for d in checked.errors] == [(Code.UNKNOWN_NAME, 14, 24)]
    shown = render_all(checked.errors, checked.sources)
    assert shown.startswith("offers.yaml:14:24: error[unknown_name]: event.amount is not available here")
    assert "\n" + " " * 27 + "^\n" in shown and "hint: offers are chosen for a member at a time" in shown


def test_offer_fields_are_read_only_where_an_offer_is_and_are_typed():
    text = ruleset("    - {id: a, type: basket_bonus, min_purchase: 10, value: 5, eligible: offer.valu > 1}\n",
                   extra="""\
  rules:
    - {id: r, on: purchase, when: offer.value > 1, bonus: 1}
""")
    found = errors(text)
    assert (Code.UNKNOWN_NAME, 14, 41, "offer.value is not available here") in found
    assert any(m == "offer.valu is not an offer field" for *_, m in found)
    typed = errors(ruleset("    - {id: a, type: basket_bonus, min_purchase: 10, value: 5,"
                           " eligible: offer.category > 1}\n"))
    assert [c for c, *_ in typed] == [Code.TYPE_ERROR]


def test_templates_need_what_their_type_needs_and_unique_ids():
    found = errors(ruleset("""\
    - {id: a, type: category_bonus, category: tea}
    - {id: b, type: basket_bonus, min_purchase: 10, value: 5}
    - {id: b, type: basket_bonus, min_purchase: 10, value: 5}
    - {id: c, type: double_points, category: tea, grant: {bonus: 3}}
"""))
    assert [(c, line) for c, line, _, _ in found] == [(Code.SCHEMA_ERROR, 16), (Code.DUPLICATE_ID, 18),
                                                       (Code.SCHEMA_ERROR, 19)]
    assert "a category_bonus offer needs value:" in found[0][3]


def test_a_granted_rule_on_events_without_the_fields_it_needs_is_an_error_there():
    text = ruleset("    - {id: a, type: double_points, category: tea, grant: {on: [visit]}}\n").replace(
        "    purchase: {amount: money, category: string}", "    purchase: {amount: money, category: string}\n"
                                                           "    visit: {}")
    assert errors(text) == [(Code.TYPE_ERROR, 17, 64, "offer a reads event.category, which visit events do not have")]


def test_the_offer_event_types_are_built_in_only_with_offers():
    text = ruleset("    - {id: a, type: basket_bonus, min_purchase: 10, value: 5}\n").replace(
        "    purchase: {amount: money, category: string}", "    purchase: {amount: money, category: string}\n"
                                                           "    offer_choose: {}")
    assert [c for c, *_ in errors(text)] == [Code.SCHEMA_ERROR]
    plain = text.split("offers:")[0]  # the same ruleset without offers may name its own event offer_choose
    assert errors(plain) == []
