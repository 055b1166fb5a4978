"""The checked ruleset's own guarantees: the stages after validation read a model and a schema
that are there, and callers of ``punchcard.dsl.check`` still find its types where they were."""

from __future__ import annotations

import pytest

from punchcard.dsl import check, checked
from punchcard.dsl.check import check_text
from punchcard.dsl.errors import Code


def test_the_types_are_still_importable_from_check() -> None:
    assert check.CheckedRuleset is checked.CheckedRuleset
    assert check.CheckedExpr is checked.CheckedExpr


def test_a_valid_ruleset_hands_out_its_model_and_schema(check_body) -> None:
    result = check_body()
    assert result.ok
    assert result.valid_model is result.model
    assert result.valid_schema is result.schema
    assert "purchase" in result.valid_schema.events


def test_a_document_that_does_not_validate_has_no_model_to_hand_out() -> None:
    result = check_text("punchcard: 1\nruleset: [not, an, id]\n", "ruleset.yaml")
    assert result.model is None and not result.ok
    assert Code.SCHEMA_ERROR in [d.code for d in result.diagnostics]
    with pytest.raises(ValueError, match="did not validate"):
        _ = result.valid_model
    with pytest.raises(ValueError, match="schema has not been read"):
        _ = result.valid_schema
