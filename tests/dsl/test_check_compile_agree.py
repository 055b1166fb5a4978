"""check finds what compile would refuse: a duration written where it has no value is a
type error from check, at the duration, and compile refuses the ruleset with that same
diagnostic (code is generated only from a checked tree)."""

from __future__ import annotations

import pytest

from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code, PunchcardError
from punchcard.engine.compiler.stages import compile_ruleset

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
