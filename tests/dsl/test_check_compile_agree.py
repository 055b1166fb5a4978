"""check finds what compile would refuse: code is generated only from a checked tree.

Every bad ruleset of the test suite (the golden ones and the docs' examples) and the cost
limit are reported by check with a position, and compile refuses the same rulesets with the
same codes; every good ruleset that checks clean compiles."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from punchcard.api import compile as compile_with_plugins
from punchcard.api import plugin_functions
from punchcard.dsl.check import CheckedRuleset, check_path, check_text
from punchcard.dsl.cost import MAX_COST, event_costs, node_cost
from punchcard.dsl.errors import Code, PunchcardError, render_all
from punchcard.dsl.parser import parse_expression
from punchcard.engine.compiler.stages import compile_ruleset
from tests.dsl.conftest import ruleset_text
from tests.dsl.test_docs_examples import BAD as BAD_DOC_EXAMPLES
from tests.dsl.test_docs_examples import check_bad_example

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
BAD = TESTS / "dsl" / "bad_rulesets"

HEADER = """punchcard: 1
ruleset: durations
version: 1.0.0
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  events:
    purchase: {{amount: money}}
let:
  recent: {let}
earning:
  base: {{on: purchase, points: {points}}}
"""


@pytest.mark.parametrize("let, points, where", [
    ("event.amount > 1", "if 30 days == 30 days then event.amount else 0", "points"),
    ("30 days == 30 days", "if recent then event.amount else 0", "let"),
])
def test_a_duration_used_as_a_value_is_a_check_error_at_the_duration(let, points, where):
    text = HEADER.format(let=let, points=points)
    result = check_text(text, "r.yaml")
    found = [d for d in result.diagnostics if d.code is Code.TYPE_ERROR]
    assert len(found) == 2  # each side of the comparison
    diagnostic = found[0]
    assert diagnostic.message == "a duration can only be added to a date or time, or given to within:"
    line = text.splitlines()[diagnostic.span.line - 1]
    assert line[diagnostic.span.column - 1:].startswith("30 days")
    assert (where == "let") == line.lstrip().startswith("recent:")
    with pytest.raises(PunchcardError) as refused:
        compile_ruleset(text)
    assert [d.message for d in refused.value.diagnostics if d.code is Code.TYPE_ERROR] == [diagnostic.message] * 2


def test_durations_where_they_belong_pass_both():
    text = HEADER.format(let="'count(purchase, within: 30 days) > 1'", points="if recent then 2 else 1")
    assert check_text(text, "r.yaml").ok
    assert compile_ruleset(text).model.ruleset == "durations"


# -- the same verdict over every ruleset of the suite ------------------------------------

def assert_agree(checked: CheckedRuleset, compile_it) -> None:
    """compile refuses exactly what check reports as errors, with the same codes, and
    check gives each of those errors a place in the file."""
    errors = checked.errors
    shown = render_all(checked.diagnostics, checked.sources)
    try:
        compile_it()
    except PunchcardError as refused:
        assert errors, f"compile refused what check passed:\n{refused}"
        assert sorted(d.code for d in refused.diagnostics) == sorted(d.code for d in errors)
        assert all(d.span.line >= 1 and d.span.column >= 1 for d in errors), shown
    else:
        assert not errors, f"compile accepted what check refused:\n{shown}"


def bad_files() -> list[Path]:
    files = sorted(BAD.glob("*.yaml")) + sorted(p / "ruleset.yaml" for p in BAD.iterdir() if p.is_dir())
    assert len(files) > 30
    return files


@pytest.mark.parametrize("path", bad_files(), ids=lambda p: str(p.relative_to(BAD)))
def test_every_bad_ruleset_check_and_compile_agree(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    checked = check_path(path.name, plugin_functions())
    assert checked.diagnostics
    assert_agree(checked, lambda: compile_ruleset(path.name))


@pytest.mark.parametrize("block", BAD_DOC_EXAMPLES, ids=lambda b: b.where)
def test_every_bad_example_in_the_docs_check_and_compile_agree(block, tmp_path, monkeypatch):
    _code, checked = check_bad_example(block, tmp_path, monkeypatch)
    assert_agree(checked, lambda: compile_ruleset("ruleset.yaml"))


def good_files() -> list[Path]:
    files = [*sorted((REPO / "rulesets").rglob("*.yaml")), *sorted((TESTS / "dsl" / "good_rulesets").glob("*.yaml")),
             *sorted((TESTS / "engine" / "rulesets").glob("*.yaml")),
             *sorted((TESTS / "storage" / "rulesets").glob("*.yaml")), TESTS / "sim" / "ledger.yaml"]
    assert len(files) > 15
    return files


@pytest.mark.parametrize("path", good_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_good_ruleset_checks_clean_and_compiles(path):
    checked = check_path(path, plugin_functions())
    assert checked.ok, render_all(checked.errors, checked.sources)
    assert compile_with_plugins(path).model is not None  # a ruleset may name models: the plugins load them


# -- the cost limit ----------------------------------------------------------------------

def window_sum(terms: int, start: int = 1) -> str:
    """``terms`` window counts added up: 53 each (the count 50, its event, within: and the
    duration 1 each) and 1 for each ``+``."""
    return " + ".join(f"count(purchase, within: {start + i} days)" for i in range(terms))


def costly_ruleset(lets: tuple[int, ...], direct: int, pad: int = 0, negate: bool = False,
                   spare: int = 0) -> tuple[str, int]:
    """A ruleset whose purchase rules cost a known amount, and that amount, counted by hand.

    ``lets``: window counts in each let the rule ``heavy`` reads; ``direct``: counts written in
    heavy's when:; ``pad``: extra ``+ 1`` in its bonus; ``negate``: when: written with not;
    ``spare``: counts in a let nothing reads (it costs nothing)."""
    names = [f"w{i}" for i in range(len(lets))]
    terms = names + ([window_sum(direct, 100)] if direct else [])
    summed = " + ".join(terms) or "event.amount"
    when = f"not ({summed} < 0)" if negate else f"{summed} >= 0"
    let_lines = [f"  {name}: '{window_sum(size)}'" for name, size in zip(names, lets, strict=True)]
    let_lines += [f"  spare: '{window_sum(spare)}'"] if spare else []
    again = "    - {id: again, on: purchase, when: 'w0 >= 0', bonus: 1}\n" if lets else ""
    body = ("let:\n" + "\n".join(let_lines) + "\n" if let_lines else "") + f"""earning:
  base: {{on: purchase, points: event.amount}}
  rules:
    - id: heavy
      on: purchase
      when: '{when}'
      bonus: {" + ".join(["1"] * (pad + 1))}
{again}"""
    added = len(names) + direct
    summed_cost = (len(names) + 53 * direct + added - 1) if added else 2  # one + between each two
    cost = (2  # base: event.amount
            + summed_cost + (3 if negate else 2)  # heavy's when:
            + 2 * pad + 1  # heavy's bonus:
            + sum(54 * size - 1 for size in lets)  # each let once
            + (4 if lets else 0))  # again: its when: and bonus:, w0 already paid for
    return ruleset_text(body, "costly"), cost


def test_the_cost_of_the_documented_example():
    assert node_cost(parse_expression("count(purchase, within: 30 days) > 2")) == 55  # docs/expressions.md
    assert node_cost(parse_expression("sum(purchase.amount, within: 1 days)")) == 54


def limit_errors(checked: CheckedRuleset):
    return [d for d in checked.diagnostics if d.code is Code.LIMIT_ERROR]


@settings(max_examples=40, deadline=None)
@given(lets=st.lists(st.integers(1, 38), max_size=4).map(tuple), direct=st.integers(0, 38),
       pad=st.integers(0, 30), negate=st.booleans(), spare=st.integers(0, 38))
@example(lets=(38, 38), direct=16, pad=0, negate=False, spare=38)
@example(lets=(38, 38), direct=17, pad=0, negate=True, spare=0)
def test_check_refuses_exactly_the_rulesets_over_the_cost_limit_and_compile_agrees(lets, direct, pad, negate,
                                                                                   spare):
    text, cost = costly_ruleset(lets, direct, pad, negate, spare)
    checked = check_text(text, "costly.yaml")
    assert event_costs(checked)["purchase"].total == cost
    over = limit_errors(checked)
    assert bool(over) == (cost > MAX_COST)
    if over:
        assert over[0].message == f"rules for purchase are too costly to evaluate ({cost} > {MAX_COST})"
    assert_agree(checked, lambda: compile_ruleset(checked))


def at_cost(target: int) -> str:
    """A ruleset costing exactly ``target``: padding changes the cost by 2, not: by 1."""
    for negate in (False, True):
        _text, cost = costly_ruleset((38, 38), 16, 0, negate)
        if (target - cost) % 2 == 0 and target >= cost:
            text, cost = costly_ruleset((38, 38), 16, (target - cost) // 2, negate)
            assert cost == target
            return text
    raise AssertionError(f"no ruleset costs {target}")


def test_the_limit_is_inclusive():
    assert MAX_COST == 5_000
    assert check_text(at_cost(MAX_COST), "costly.yaml").ok
    compile_ruleset(at_cost(MAX_COST))
    refused = check_text(at_cost(MAX_COST + 1), "costly.yaml")
    assert [d.code for d in refused.errors] == [Code.LIMIT_ERROR]
    with pytest.raises(PunchcardError) as caught:
        compile_ruleset(at_cost(MAX_COST + 1))
    def seen(diagnostics):  # compile names text "<ruleset>"; the rest is check's diagnostic
        return [(d.code, d.message, d.span.line, d.span.column, d.hint) for d in diagnostics]

    assert seen(caught.value.diagnostics) == seen(refused.errors)


def test_the_cost_error_points_at_the_costliest_rule_with_a_hint():
    text, cost = costly_ruleset((38, 38), 17)
    checked = check_text(text, "costly.yaml")
    [diagnostic] = limit_errors(checked)
    line = text.splitlines()[diagnostic.span.line - 1]
    assert line.lstrip().startswith("when: ")
    assert line[diagnostic.span.column - 1:].startswith("w0 + w1 + count(purchase")
    heavy = cost - 2 - 4 - 1  # all but the base, the rule again and heavy's bonus
    assert f"the when: of rule heavy costs {heavy}" in diagnostic.hint
    assert "50" in diagnostic.hint and "let:" in diagnostic.hint
    rendered = render_all([diagnostic], checked.sources)
    assert rendered.startswith(f"costly.yaml:{diagnostic.span.line}:{diagnostic.span.column}: error[limit_error]")
    assert "^" in rendered


def test_gates_and_lets_count_for_each_event_type_they_run_on():
    heavy = window_sum(38)
    text = ruleset_text(f"""\
        let:
          recent: '{heavy}'
        earning:
          base: {{on: purchase, points: event.amount}}
        fraud:
          - {{id: burst, on: [], when: 'recent > 2'}}
        compliance:
          forbid:
            - {{id: busy, when: '{window_sum(30, 50)} > 0'}}
        """)
    costs = event_costs(check_text(text, "gates.yaml"))
    gate = 54 * 38 - 1 + 3  # recent, and recent > 2
    forbid = 54 * 30 - 1 + 2
    assert costs["purchase"].total == 2 + gate + forbid
    assert costs["redeem"].total == gate + forbid
    assert costs["tick"].total == 54 * 38 - 1  # gates skip tick, but recent is read on every event type


def test_a_costly_gate_without_on_is_refused_for_each_event_type_it_runs_on():
    text = ruleset_text(f"""\
        let:
          a: '{window_sum(38)}'
          b: '{window_sum(38, 50)}'
        earning:
          base: {{on: purchase, points: event.amount}}
        compliance:
          forbid:
            - {{id: busy, when: 'a + b + {window_sum(17, 100)} > 0'}}
        """)
    checked = check_text(text, "gate.yaml")
    refused = {d.message.split()[2]: d for d in limit_errors(checked)}
    skipped = {"tick", "review_decision"}  # the lets alone stay under the limit there
    assert set(refused) == set(checked.model.event_fields()) - skipped
    assert all("the when: of compliance rule busy costs" in d.hint for d in refused.values())
    assert "(5027 > 5000)" in refused["purchase"].message  # base 2, when: 923, the lets 2 x 2051
    assert_agree(checked, lambda: compile_ruleset(text))
