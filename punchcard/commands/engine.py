"""``punchcard test``, ``punchcard explain`` and ``punchcard graph``."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout
from punchcard.commands.check import rulesets_or_exit
from punchcard.discovery import EXIT_NOTHING_TO_DO
from punchcard.engine.runtime.display import markup_safe, shown, shown_lines

__all__ = ["test", "explain", "graph", "decide_one", "compile_or_exit", "EVENT_HELP", "MEMBER_HELP", "HISTORY_HELP"]


def compile_or_exit(path: Path, format: OutputFormat = OutputFormat.text):
    """The compiled ruleset; when it does not load, its diagnostics as ``check`` prints them
    (text, or ``check --format json``'s list) and exit 1."""
    from punchcard.api import compile
    from punchcard.dsl.errors import PunchcardError

    if not path.exists():
        stderr.print(f"no such ruleset: {shown(path)}", markup=False)
        raise typer.Exit(2)
    try:
        return compile(path)
    except PunchcardError as exc:
        if format is OutputFormat.json:
            stdout.print_json(json.dumps([d.to_json() for d in exc.diagnostics]))
        else:
            stdout.out(shown_lines(exc))
        raise typer.Exit(1) from None


@app.command()
def test(
    paths: list[Path] = typer.Argument(..., metavar="RULESET...", help="Ruleset files or folders whose tests: to "
                                                                       "run."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Run every ruleset's own tests: through the engine, in every sub-folder too. Exit 1 on any
    failure, 5 when no test ran (no ruleset, or none with tests:), as pytest does."""
    from punchcard.engine.testing import run_tests

    found = rulesets_or_exit(paths, format)
    results = []
    for path in found:
        compiled = compile_or_exit(path, format)
        cases = run_tests(compiled)
        results.append((path, cases))
        if format is OutputFormat.text:
            marks = "".join("." if c.passed else "F" for c in cases)
            stdout.out(f"{shown(path)} {marks}")
    failed = [(p, c) for p, cases in results for c in cases if not c.passed]
    total = sum(len(cases) for _, cases in results)
    if format is OutputFormat.json:
        stdout.out(json.dumps([{"ruleset": str(p), "test": c.name, "passed": c.passed, "failures": c.failures}
                               for p, cases in results for c in cases], indent=2))
    else:
        _print_failures(failed)
        stdout.out(f"{total - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(1 if failed else 0 if total else EXIT_NOTHING_TO_DO)


def _print_failures(failed) -> None:
    from punchcard.engine.explain import trace_tree

    for path, case in failed:
        stdout.rule(f"[red]{markup_safe(path)}: {markup_safe(case.name)}")
        for failure in case.failures:
            stdout.out(f"  {shown(failure)}")
        if case.decision is not None:
            stdout.print(trace_tree(case.decision))


EVENT_HELP = "The event as JSON, or @FILE."
MEMBER_HELP = "The member as JSON, or @FILE: id, profile fields, opening points (or balance) and tier."
HISTORY_HELP = "Earlier events of the member: JSON Lines, CSV or Parquet, .gz allowed."


@app.command()
def explain(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset file or folder."),
    event: str = typer.Option(..., "--event", metavar="JSON", help=EVENT_HELP),
    member: str | None = typer.Option(None, "--member", metavar="JSON", help=MEMBER_HELP),
    history: Path | None = typer.Option(None, "--history", metavar="FILE", help=HISTORY_HELP),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Evaluate one event and print why it earned what it did, as a tree."""
    from punchcard.engine.explain import trace_tree

    compiled = compile_or_exit(ruleset, format)
    decision = decide_one(compiled, event, member, history)
    if format is OutputFormat.json:
        stdout.out(json.dumps(decision.to_dict(), indent=2))
    else:
        stdout.print(trace_tree(decision))
    raise typer.Exit(1 if decision.outcome == "rejected" else 0)


def decide_one(compiled, event: str, member: str | None, history: Path | None):
    """The decision of one event (``--event``) for a member (``--member``) after its earlier
    events (``--history``), as ``explain`` and ``message`` take them; a bad option exits 2."""
    from punchcard.engine.evaluate import evaluate

    raw = _json_arg(event, "--event")
    profile = _json_arg(member, "--member") if member else {}
    profile.setdefault("member", profile.pop("id", raw.get("member", "member")))
    earlier = _history(compiled, history, profile["member"])
    member_id, state = _member_state(compiled, profile, [*(e for _, e in earlier), raw])
    if str(raw.setdefault("member", member_id)) != member_id:
        stderr.print(f"--member: id '{shown(member_id)}' is not the event's member '{shown(raw['member'])}'",
                     markup=False)
        raise typer.Exit(2)
    for line_no, row in earlier:
        decision, state = evaluate(compiled, state, row)
        if decision.outcome == "rejected":
            stderr.print(f"{shown(history)}:{line_no}: history event rejected: {shown(decision.reason)}",
                         markup=False)
    return evaluate(compiled, state, raw)[0]


def _history(compiled, path: Path | None, member_id: str) -> list[tuple[int, dict]]:
    """The member's earlier events, read as ``dry-run --events`` reads them; an unreadable row is
    reported and left out, like a history event the ruleset rejects."""
    from punchcard.engine.dryrun import InputError
    from punchcard.engine.dryrun.formats import RowError
    from punchcard.engine.dryrun.mapping import ColumnMap
    from punchcard.engine.dryrun.rows import prepared_rows

    if path is None:
        return []
    rows = []
    try:
        for line_no, read in prepared_rows(path, ColumnMap(), compiled):
            row = read  # another member's event is left out as an unreadable row is
            if not isinstance(row, RowError) and row.setdefault("member", member_id) != member_id:
                row = RowError(f"member {row['member']!r} is not {member_id!r}")
            if isinstance(row, RowError):
                stderr.print(f"{shown(path)}:{line_no}: history row left out: {shown(row.reason)}", markup=False)
            else:
                rows.append((line_no, row))
    except InputError as exc:
        stderr.print(f"--history: {shown(exc)}", markup=False)
        raise typer.Exit(2) from None
    return rows


def _member_state(compiled, profile: dict, events: list[dict]):
    """The member before the first event, read as ``dry-run --members`` reads a member row: profile
    fields through the ruleset's member schema, opening points and tier, as of the first event."""
    import datetime as dt

    from punchcard.engine.dryrun.formats import RowError
    from punchcard.engine.dryrun.members import seed_of, seed_state
    from punchcard.engine.dryrun.rows import row_time

    seed = seed_of(0, profile)
    times = [moment for moment in (row_time(e, compiled) for e in events) if moment is not None]
    try:
        if isinstance(seed, RowError):
            raise ValueError(seed.reason)
        return seed.member, seed_state(compiled, seed, min(times, default=None) or dt.datetime.now(compiled.tz))
    except ValueError as exc:
        stderr.print(f"--member: {shown(exc)}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _json_arg(value: str, option: str) -> dict:
    if value.startswith("@"):
        try:
            value = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            stderr.print(f"{option}: cannot read {shown(value[1:])}: {shown(reason)}", markup=False, soft_wrap=True)
            raise typer.Exit(2) from None
    from punchcard.engine.dryrun.formats import load_json

    try:
        data = load_json(value)  # numbers exact, as the readers take them
    except ValueError as exc:
        stderr.print(f"{option}: not valid JSON ({shown(exc)})", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not isinstance(data, dict):
        stderr.print(f"{option}: must be a JSON object")
        raise typer.Exit(2)
    return data


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


@app.command()
def graph(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset file or folder."),
    format: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", help="mermaid, dot or json."),
) -> None:
    """Print the rule graph: facts, rules, caps, tiers, streaks, fraud and compliance, by phase."""
    from punchcard.engine.compiler.graph import to_dot, to_json, to_mermaid

    compiled = compile_or_exit(ruleset)
    render = {GraphFormat.mermaid: to_mermaid, GraphFormat.dot: to_dot, GraphFormat.json: to_json}[format]
    stdout.out(render(compiled.graph))
