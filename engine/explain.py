"""A decision's trace as a tree a ruleset author can read."""

from __future__ import annotations

from collections.abc import Sequence

from rich.tree import Tree

from punchcard.engine.runtime.display import markup_safe as _safe

from .runtime.decision import Decision, Step, TierView, to_jsonable

__all__ = ["trace_tree"]

_MARK = {True: "[green]✔[/]", False: "[dim]✘[/]", None: "•"}


def trace_tree(decision: Decision) -> Tree:
    # Ids, reasons and values come from events: _safe escapes control characters and markup.
    head = (f"[bold]{_safe(decision.event_type or 'event')} {_safe(decision.event_id)}[/] for "
            f"{_safe(decision.member_id)} under {_safe(decision.ruleset)}: [bold]{decision.outcome}[/], "
            f"{_num(decision.points)} points, "
            f"balance {_num(decision.balance)}" + (f", pending {_num(decision.pending)}" if decision.pending else ""))
    tree = Tree(head)
    if decision.reason:
        tree.add(f"[yellow]reason:[/] {_safe(decision.reason)}")
    phases: dict[str, Tree] = {}
    for step in decision.trace:
        branch = phases.get(step.phase)
        if branch is None:
            branch = phases[step.phase] = tree.add(f"[bold cyan]{step.phase}[/]")
        branch.add(_step_line(step))
    if decision.effects:
        effects = tree.add("[bold cyan]effects[/]")
        for effect in decision.effects:
            detail = ", ".join(f"{_safe(k)}={_safe(to_jsonable(v))}" for k, v in effect.detail.items()
                               if v is not None)
            points = f" {_num(effect.points)}" if effect.points is not None else ""
            lot = f" lot {_safe(effect.lot)}" if effect.lot else ""
            effects.add(f"{_safe(effect.kind)}{points}{lot}" + (f" ({detail})" if detail else ""))
    if decision.tier is not None:
        tree.add(_tier_line(decision.tier, decision.trace))
    return tree


def _tier_line(t: TierView, trace: Sequence[Step]) -> str:
    if t.next and t.to_next is None:
        # several metrics: no single figure is "still needed", so the line says what the trace's
        # progress step says (every metric, and what each path to the next level needs)
        notes = [step.note for step in trace if step.phase == "tiers" and step.rule == "progress"]
        if notes and notes[-1]:
            have, _, needs = notes[-1].partition("; ")
            return f"[bold cyan]tier[/] {_safe(t.current)} ({_safe(have)})" + (f"; {_safe(needs)}" if needs else "")
        return f"[bold cyan]tier[/] {_safe(t.current)} (metric {_num(t.metric)})"
    line = f"[bold cyan]tier[/] {_safe(t.current)} (metric {_num(t.metric)})"
    if t.next:
        line += f"; {_num(t.to_next)} more for {_safe(t.next)}"
    if t.to_keep:
        line += f"; {_num(t.to_keep)} more to keep {_safe(t.current)}"
    return line


def _step_line(step: Step) -> str:
    parts = [f"{_MARK[step.fired]} [bold]{_safe(step.rule)}[/]"]
    if step.note:
        parts.append(_safe(step.note))
    if step.values:
        parts.append("(" + ", ".join(f"{_safe(k)}={_safe(to_jsonable(v))}" for k, v in step.values.items()) + ")")
    if step.before is not None and step.after is not None:
        parts.append(f"{_num(step.before)} → {_num(step.after)}")
    elif step.after is not None:
        parts.append(f"→ {_num(step.after)}")
    return " ".join(parts)


def _num(value: object) -> str:
    return str(to_jsonable(value))
