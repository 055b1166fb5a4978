"""``punchcard referrals``: a member's referral code, and settling the referrers' side of
friends' rewards (docs/referrals.md).

``settle`` drains the outbox's derived events: each friend's qualifying decision queued the
referrer's ``referral_bonus`` event in its own transaction, and settling processes it once,
by its id, under the referrer's lock, where the referrer's caps are counted. ``punchcard
process`` settles inline after each batch, so a store it ran is settled when it ends.

Exit codes: 0 every due derived event was settled (or there was none); 1 the store failed
on one (it stays pending, tried again on the next run) or one was abandoned; 2 a usage or
store error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from punchcard.api import Engine
from punchcard.cli import OutputFormat, app, format_option, stdout, store_option
from punchcard.engine.messaging.referrals import SettleReport, settle
from punchcard.engine.runtime.decision import Decision
from punchcard.engine.runtime.display import shown
from punchcard.engine.runtime.referral import referral_code
from punchcard.engine.store import Outbox, StoreError

from .engine import compile_or_exit
from .store_access import fail, open_store, setup_logging

__all__ = ["referrals_app", "settle_command", "code_command", "settle_inline"]

referrals_app = typer.Typer(help="Referrals: members' codes, and paying referrers for friends who qualified.",
                            no_args_is_help=True)
app.add_typer(referrals_app, name="referrals")

_FORMAT = format_option()


def settle_inline(engine: Any) -> list[Decision]:
    """After a batch of ``punchcard process``: the referrers' decisions of the friends it
    qualified (none for a ruleset without referrals, or a store without an outbox)."""
    store = engine.store
    if engine.compiled.model.referrals is None or not isinstance(store, Outbox):
        return []
    return settle(store, engine).decisions


def _summary(report: SettleReport) -> str:
    outcomes = ", ".join(f"{n} {outcome}" for outcome, n in sorted(report.outcomes.items())) or "nothing due"
    return f"settled {report.settled} referral(s): {outcomes}; {report.retrying} to retry, {report.failed} failed"


@referrals_app.command("settle")
def settle_command(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset the friends' events were decided by."),
    store: str = store_option(),
    limit: int | None = typer.Option(None, "--limit", metavar="N", min=1, help="Settle at most N derived events."),
    format: OutputFormat = _FORMAT,
) -> None:
    """Pay referrers for the friends who qualified: each queued referral_bonus event is
    processed once, by its id, past the referrer's caps rejected with the reason."""
    setup_logging()
    compiled, target = compile_or_exit(ruleset), open_store(store, create=False)
    outbox = target if isinstance(target, Outbox) else None
    if outbox is None:
        target.close()
        raise fail("this store has no outbox: there is nothing to settle")
    try:
        report = settle(outbox, Engine(compiled, store=target), limit=limit)  # plugins hear of each decision
    except StoreError as exc:
        raise fail(f"{exc}\nstopped: what was settled stays settled; run again to settle the rest") from None
    finally:
        target.close()
    if format.value == "json":
        stdout.out(json.dumps(report.to_json()), highlight=False)
    else:
        for decision in report.decisions:
            reason = f"  {shown(decision.reason)}" if decision.reason else ""
            stdout.print(f"{shown(decision.event_id)}  {shown(decision.member_id)}  {decision.outcome}  "
                         f"+{decision.points}{reason}", markup=False, soft_wrap=True)
        stdout.print(_summary(report), markup=False, soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


@referrals_app.command("code")
def code_command(
    member: str = typer.Argument(..., metavar="MEMBER", help="The member id."),
    format: OutputFormat = _FORMAT,
) -> None:
    """A member's referral code: the member id and four check letters, the same for ever."""
    code = referral_code(member)
    if format.value == "json":
        stdout.out(json.dumps({"member": member, "code": code}), highlight=False)
    else:
        stdout.print(code, markup=False, soft_wrap=True)
