"""A host's own decimal context never reaches the ledger: a store adds points up exactly
whatever precision the calling thread has set (docs/semantics.md, exact arithmetic)."""

from __future__ import annotations

import decimal
from decimal import Decimal
from pathlib import Path

from punchcard.engine import Engine
from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.plugins.sql.store import SqlStore

HUGE = compile_ruleset(Path(__file__).parent / "rulesets" / "huge.yaml")  # rounds to 0.01
ADJUSTS = [{"type": "adjust", "id": f"a{i}", "member": "m", "time": f"2026-03-02T10:0{i}:00",
            "points": "1000000000000000", "reason": "opening"} for i in range(5)]
CENT = {"type": "purchase", "id": "p", "member": "m", "time": "2026-03-02T11:00:00", "amount": "0.01"}
EXPECTED = Decimal("5000000000000000.01")  # 18 digits: more than a 16-digit context holds


def test_one_by_one_and_in_a_batch_the_ledger_is_exact_under_a_narrow_host_context(sql_url):
    one, batch = Engine(HUGE, store=SqlStore(sql_url())), Engine(HUGE, store=SqlStore(sql_url()))
    with decimal.localcontext(prec=16, rounding=decimal.ROUND_DOWN):
        decisions = [one.process(event) for event in [*ADJUSTS, CENT]]
        batched = batch.process_many([*ADJUSTS, CENT])
        stored = [engine.member("m") for engine in (one, batch)]
    assert [d.balance for d in decisions] == [d.balance for d in batched]
    assert decisions[-1].balance == EXPECTED and decisions[-1].points == Decimal("0.01")
    for engine, state in zip((one, batch), stored, strict=True):
        assert engine.store.audit().ok
        assert state.total() == EXPECTED  # read back in the default context
