"""Conformance: every ruleset's tests through every evaluator and store.

Every ruleset under rulesets/ and tests/ that carries ``tests:`` is found (conformance_cells),
and each of its cases runs in every cell: each evaluator (``plain``, ``specialised``) on
each store (``memory``, ``sqlite``, ``postgresql``) and through the dry-run (``dryrun``).
Every cell must pass the case's own ``expect``s, and make exactly the reference cell's
(``plain`` on ``memory``) decisions, decision by decision as JSON, leave the member exactly
as it after every event, and at the end. The dry-run shows no member between events, and
differs by design in two ways (conformance_dryrun). Test ids read
``ruleset:case:evaluator:store``.

A cell known to disagree is listed in ``KNOWN`` with what differs, and marked as an
expected failure that must keep failing (strict), so a fix shows up at once.
"""

from __future__ import annotations

import pytest
from conformance_cells import EVALUATORS, REFERENCE, ROOT, STORES, found_rulesets, run_cell, slug
from conformance_dryrun import dry_run_reference, in_time_order

from punchcard.engine.testing import first_difference

FOUND = found_rulesets()

# "ruleset:case:evaluator:store" -> what differs there, for cells known to disagree
KNOWN: dict[str, str] = {}


def _cells() -> list:
    cells = []
    for found in FOUND:
        names: list[str] = []
        for index, case in enumerate(found.cases):
            name = slug(case)
            name = name if name not in names else f"{name}-{index + 1}"
            names.append(name)
            for evaluator in EVALUATORS:
                for store in STORES:
                    cell = f"{found.name}:{name}:{evaluator}:{store}"
                    marks = [pytest.mark.xfail(strict=True, reason=KNOWN[cell])] if cell in KNOWN else []
                    cells.append(pytest.param(found, index, evaluator, store, id=cell, marks=marks))
    return cells


@pytest.mark.parametrize(("found", "index", "evaluator", "store"), _cells())
def test_every_cell_agrees_with_the_reference(found, index, evaluator, store, compiled, reference, store_urls):
    ruleset = compiled(found.path, EVALUATORS[evaluator])
    test = ruleset.model.tests[index]
    result = run_cell(ruleset, test, store, store_urls)
    expected = reference(found.path, index)
    if store == "dryrun":
        expected = dry_run_reference(compiled(found.path, False), test, expected, result)
    if store != "dryrun" or in_time_order(result):  # a history replayed in time order: see conformance_dryrun
        assert not result.failures, "the case's own expectations fail:\n" + "\n".join(result.failures)
    if (evaluator, store) != REFERENCE:
        difference = first_difference(expected, result)
        assert difference is None, f"differs from the reference ({':'.join(REFERENCE)}): {difference}"


def test_every_ruleset_with_tests_checks():
    broken = {str(f.path.relative_to(ROOT)): f.errors for f in FOUND if f.errors}
    assert not broken, f"rulesets with tests: that do not check: {broken}"


def test_the_search_finds_every_known_home_of_rulesets():
    found = {f.path.relative_to(ROOT).as_posix() for f in FOUND}
    homes = sorted(ROOT.glob("rulesets/*.yaml")) + sorted(ROOT.glob("tests/engine/rulesets/*.yaml")) \
        + sorted(ROOT.glob("tests/dsl/good_rulesets/*.yaml"))
    assert homes
    assert {p.relative_to(ROOT).as_posix() for p in homes} <= found
    assert "rulesets/changes/retail-tiers-v2.yaml" in found  # one in a folder of its own
    assert not any(name.startswith("tests/dsl/bad_rulesets/") for name in found)


def test_the_matrix_has_every_cell_of_every_case():
    cases = sum(len(f.cases) for f in FOUND)
    assert cases >= 20
    assert len(_cells()) == cases * len(EVALUATORS) * len(STORES)
    assert len({p.id for p in _cells()}) == len(_cells()), "test ids must be unique"


def test_a_known_disagreement_is_a_strict_expected_failure(monkeypatch):
    cell = _cells()[0].id
    assert all(not p.marks for p in _cells() if p.id not in KNOWN)
    monkeypatch.setitem(KNOWN, cell, "decision 2 differs in points")
    marked = next(p for p in _cells() if p.id == cell)
    assert [(m.name, m.kwargs) for m in marked.marks] == [("xfail", {"strict": True,
                                                                     "reason": "decision 2 differs in points"})]
