"""``punchcard test``, ``punchcard explain`` and ``punchcard graph``."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from punchcard.cli import OutputFormat, app, stderr, stdout
from punchcard.discovery import find_rulesets

__all__ = ["test", "explain", "graph"]


def _compile_or_exit(path: Path):
    from punchcard.dsl.errors import PunchcardError
    from punchcard.engine.compile import compile_ruleset

    if not path.exists():
        stderr.print(f"no such ruleset: {path}")
        raise typer.Exit(2)
    try:
        return compile_ruleset(path)
    except PunchcardError as exc:
        stdout.out(str(exc))
        raise typer.Exit(1)


@app.command()
def test(
    paths: List[Path] = typer.Argument(..., help="Ruleset files or folders whose tests: to run."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Run every ruleset's own tests: through the engine. Exit 1 on any failure."""
    from punchcard.engine.testing import run_tests

    results = []
    for path in find_rulesets(paths):
        compiled = _compile_or_exit(path)
        cases = run_tests(compiled)
        results.append((path, cases))
        if format is OutputFormat.text:
            marks = "".join("." if c.passed else "F" for c in cases)
            stdout.out(f"{path} {marks}")
    failed = [(p, c) for p, cases in results for c in cases if not c.passed]
    total = sum(len(cases) for _, cases in results)
    if format is OutputFormat.json:
        stdout.out(json.dumps([{"ruleset": str(p), "test": c.name, "passed": c.passed, "failures": c.failures}
                               for p, cases in results for c in cases], indent=2))
    else:
        _print_failures(failed)
        stdout.out(f"{total - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(1 if failed else 0)


def _print_failures(failed) -> None:
    from punchcard.engine.explain import trace_tree

    for path, case in failed:
        stdout.rule(f"[red]{path}: {case.name}")
        for failure in case.failures:
            stdout.out(f"  {failure}")
        if case.decision is not None:
            stdout.print(trace_tree(case.decision))


@app.command()
def explain(
    ruleset: Path = typer.Argument(..., help="The ruleset file or folder."),
    event: str = typer.Option(..., "--event", help="The event as JSON, or @FILE."),
    member: Optional[str] = typer.Option(None, "--member", help="Member profile as JSON (id and fields), or @FILE."),
    history: Optional[Path] = typer.Option(None, "--history", help="JSON Lines of earlier events of the member."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", help="text for people, json for machines."),
) -> None:
    """Evaluate one event and print why it earned what it did, as a tree."""
    from punchcard.engine.evaluate import evaluate, new_member
    from punchcard.engine.explain import trace_tree

    compiled = _compile_or_exit(ruleset)
    raw = _json_arg(event, "--event")
    profile = _json_arg(member, "--member") if member else {}
    member_id = str(profile.pop("id", raw.get("member", "member")))
    raw.setdefault("member", member_id)
    state = new_member(member_id, profile)
    for line_no, line in enumerate(history.read_text().splitlines() if history else [], 1):
        if line.strip():
            decision, state = evaluate(compiled, state, {"member": member_id, **json.loads(line)})
            if decision.outcome == "rejected":
                stderr.print(f"{history}:{line_no}: history event rejected: {decision.reason}")
    decision, _ = evaluate(compiled, state, raw)
    if format is OutputFormat.json:
        stdout.out(json.dumps(decision.to_json(), indent=2))
    else:
        stdout.print(trace_tree(decision))
    raise typer.Exit(1 if decision.outcome == "rejected" else 0)


def _json_arg(value: str, option: str) -> dict:
    try:
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        stderr.print(f"{option}: not valid JSON ({exc})")
        raise typer.Exit(2)
    if not isinstance(data, dict):
        stderr.print(f"{option}: must be a JSON object")
        raise typer.Exit(2)
    return data


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    dot = "dot"
    json = "json"


@app.command()
def graph(
    ruleset: Path = typer.Argument(..., help="The ruleset file or folder."),
    format: GraphFormat = typer.Option(GraphFormat.mermaid, "--format", help="mermaid, dot or json."),
) -> None:
    """Print the rule graph: facts, rules, caps, tiers, streaks, fraud and compliance, by phase."""
    from punchcard.engine.graph import to_dot, to_json, to_mermaid

    compiled = _compile_or_exit(ruleset)
    render = {GraphFormat.mermaid: to_mermaid, GraphFormat.dot: to_dot, GraphFormat.json: to_json}[format]
    stdout.out(render(compiled.graph))
