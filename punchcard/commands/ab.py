"""``punchcard ab report``: each variant of a ruleset, per member, against the control
(docs/variants.md).

Exit codes: 0 done; 1 the ruleset has errors, or the split does not match the stated shares
(a sample-ratio mismatch); 2 a usage problem (a missing file, a ruleset without variants, an
unknown control).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout, store_option
from punchcard.engine.runtime.display import shown, shown_lines

from .store_access import open_store, shown_url

__all__ = ["ab_app", "ab_report_command"]

ab_app = typer.Typer(help="A/B variants: what each variant did, and whether it is more than chance.",
                     no_args_is_help=True)
app.add_typer(ab_app, name="ab")
_FORMAT_OPTION = format_option()  # made once: typer reads it for each command
_FIGURES = {"spend": "spend", "visits": "visits", "points": "points cost"}


def _usage(message: str) -> typer.Exit:
    stderr.print(f"error: {message}", markup=False, soft_wrap=True)
    return typer.Exit(2)


@ab_app.command("report")
def ab_report_command(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset with variants: the history ran through."),
    events: Path | None = typer.Option(None, "--events", metavar="FILE", help="The history to replay, as dry-run "
                                                                             "reads it: JSON Lines, CSV or Parquet; "
                                                                             ".gz; - for stdin."),
    store: str | None = store_option(required=False),
    decisions: Path | None = typer.Option(None, "--decisions", metavar="FILE", help="The decisions a dry-run "
                                                                                   "wrote (dry-run --decisions): "
                                                                                   "read, not replayed."),
    members: Path | None = typer.Option(None, "--members", metavar="FILE", help="JSON Lines naming every member "
                                                                                "assigned (as dry-run --members): "
                                                                                "those without events count too."),
    control: str | None = typer.Option(None, "--control", metavar="VARIANT", help="The variant the others are "
                                                                                    "compared with (default: the "
                                                                                    "first)."),
    report: Path | None = typer.Option(None, "--report", metavar="FILE", help="Write the HTML report here too."),
    format: OutputFormat = _FORMAT_OPTION,
) -> None:
    """Compare each variant of a ruleset with the control: history replayed from --events, as a
    store (--store URL) decided it, or as a dry-run decided it (--decisions FILE)."""
    from punchcard.api import compile
    from punchcard.dsl.errors import PunchcardError
    from punchcard.engine.dryrun.ab import ab_report, decision_figures, figures_of, replay_figures
    from punchcard.engine.dryrun.formats import InputError, is_stdin
    from punchcard.engine.dryrun.partial import BadRows

    if sum(source is not None for source in (events, store, decisions)) != 1:
        raise _usage("give the history as --events FILE, --store URL or --decisions FILE (one of them)")
    missing = [p for p in (ruleset, *(None if f is None or is_stdin(f) else f for f in (events, decisions)), members)
               if p is not None and not p.exists()]
    if missing:
        raise _usage(f"no such file: {shown(missing[0])}")
    bad = BadRows()
    try:
        compiled = compile(ruleset)
        file = events or decisions  # a file of history: replayed, or decided by a dry-run
        figures = replay_figures(compiled, events, bad, members) if events is not None else \
            decision_figures(compiled, decisions, bad, members) if decisions is not None else \
            figures_of(compiled, _stored_history(store or ""))
        result = ab_report(compiled, figures, control, str(file) if file is not None else shown_url(store or ""))
    except PunchcardError as exc:
        stderr.print(shown_lines(exc), markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (ValueError, InputError) as exc:
        raise _usage(str(exc)) from None
    _note_what_is_missing(result, bad.count)
    _output(result, report, format)
    if result["srm"]["mismatch"]:
        raise typer.Exit(1)


def _note_what_is_missing(result: dict[str, Any], bad_rows: int) -> None:
    """Bad rows are said on stderr, not only counted in the JSON; a history of nobody is trouble."""
    result["bad_rows"] = bad_rows
    if bad_rows:
        stderr.print(f"left out {bad_rows} bad rows (the JSON report counts them as bad_rows)", markup=False)
    if not result["members"]:
        raise _usage("the history has no member in any variant: there is nothing to compare")


def _stored_history(url: str) -> list[tuple[dict[str, Any], Any]]:
    """Every decision a SQL store holds, with the body of its event, in the order stored."""
    from sqlalchemy import select

    from punchcard.plugins.sql.models import ProcessedEventRow
    from punchcard.plugins.sql.repository import to_processed

    store = open_store(url, create=False)
    try:
        if not hasattr(store, "read"):
            raise ValueError(f"{shown_url(url)} cannot list its history: ab report reads SQL stores")
        table = ProcessedEventRow.__table__
        query = select(table).where(table.c.decision.is_not(None)).order_by(table.c.id)
        with store.read() as conn, conn.begin():
            return [(row.body or {}, to_processed(row).decision) for row in conn.execute(query)]
    finally:
        store.close()


def _output(result: dict[str, Any], report: Path | None, format: OutputFormat) -> None:
    from punchcard.engine.dryrun.ab_html import render_ab_html
    from punchcard.engine.runtime.decision import to_jsonable

    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render_ab_html(result), encoding="utf-8")
        stderr.print(f"wrote {shown(report)}", markup=False, soft_wrap=True)
    if format == OutputFormat.json:
        stdout.out(json.dumps(to_jsonable(result), indent=2), highlight=False)
        return
    stdout.print(_variants_table(result))
    stdout.print(_uplift_table(result))
    srm = result["srm"]
    verdict = "MISMATCH: the split differs from the stated shares" if srm["mismatch"] else \
        "the split matches" if srm["df"] else "not tested (it needs two variants with a share)"
    stdout.print(f"sample ratio: {verdict} (chi-square {srm['chi_square']}, df {srm['df']}, p = {srm['p_value']})",
                 markup=False)


def _variants_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"{result['ruleset']}: variants (salt {shown(result['salt'])})")
    for name in ("variant", "share", "members", "expected", "spend/member", "visits/member", "points/member"):
        table.add_column(name, justify="left" if name == "variant" else "right")
    for v in result["variants"]:
        table.add_row(shown(v["variant"]), f"{v['share']}%", str(v["members"]), str(v["expected_members"]),
                      *(str(v[f"{f}_per_member"]) for f in _FIGURES))
    return table


def _uplift_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"against {shown(result['control'])}, 95% intervals")
    for name in ("variant", "per member", "difference", "interval", "uplift", "interval"):
        table.add_column(name, justify="left" if name in ("variant", "per member") else "right")
    for u in result["uplift"]:
        table.add_row(shown(u["variant"]), _FIGURES[u["figure"]], str(u["difference"]),
                      f"{u['difference_low']} to {u['difference_high']}", _pct(u["uplift"]),
                      f"{_pct(u['uplift_low'])} to {_pct(u['uplift_high'])}")
    return table


def _pct(value: Any) -> str:
    return "–" if value is None else f"{float(value) * 100:+.1f}%"
