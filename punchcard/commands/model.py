"""``punchcard model train|evaluate|score|simulate-offers``: churn, engagement and anomaly models (docs/models.md).

Exit codes: 0 done; 1 the data cannot train or evaluate the model (one class only, a holdout
past the end of the events); 2 a usage problem (a missing or unreadable file, a bad time or
duration, a model file that was changed or does not match).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from pydantic import TypeAdapter, ValidationError
from rich.table import Table

from punchcard.api import compile as compile_ruleset
from punchcard.cli import OutputFormat, app, format_option, stderr, stdout
from punchcard.dsl.duration import DurationField
from punchcard.dsl.errors import PunchcardError, render
from punchcard.engine.runtime.decision import to_jsonable
from punchcard.engine.runtime.display import shown
from punchcard.plugins.sklearn.data import EventsError, RulesetHistory, read_events, read_raw
from punchcard.plugins.sklearn.io import ModelFileError
from punchcard.plugins.sklearn.simulate import offer_lines, simulate_offers
from punchcard.plugins.sklearn.train import TARGETS, TrainingError, evaluate, score_members, train

__all__ = ["model_app", "train_command", "evaluate_command", "score_command", "simulate_offers_command"]

model_app = typer.Typer(help="Scoring models: train, evaluate and score churn, engagement and anomaly models.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")
EXIT_DATA, EXIT_USAGE = 1, 2
HORIZONS = {"churn": "60 days", "engagement": "14 days", "anomaly": "30 days", "segments": "30 days"}
_EVENTS_HELP = "Events as JSON Lines (.gz too), as sample-events writes them."
_FORMAT = format_option()
_RULESET_HELP = ("Fold the events through the engine with this ruleset (file or folder), so the member's tier and "
                 "streak, as the engine keeps them, are features too; times are read in its timezone.")


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    stderr.print(f"error: {shown(message)}", markup=False, soft_wrap=True)
    return typer.Exit(code)


def _zone(name: str | None) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(f"{name!r} is not an IANA timezone such as Asia/Tokyo") from None


def _events(path: Path, zone: ZoneInfo | None) -> list[Any]:
    try:
        with stderr.status(f"reading {shown(path.name)}…"):
            return read_events(path, zone)
    except (EventsError, OSError, EOFError) as exc:
        raise _fail(str(exc) if isinstance(exc, EventsError) else f"{path}: cannot be read") from None


def _history(ruleset: Path | None, path: Path, zone: ZoneInfo | None) -> tuple[list[Any], RulesetHistory | None]:
    """(the events, in time order) and, with a ruleset, the events folded through the engine with it
    (compiled with the installed plugins handed in, as every command does)."""
    if ruleset is None:
        return _events(path, zone), None
    try:
        compiled = compile_ruleset(ruleset)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(shown(render(diag, getattr(exc, "sources", None) or {})), highlight=False)
        raise _fail(f"--ruleset {ruleset} does not compile") from None
    except OSError:
        raise _fail(f"--ruleset {ruleset}: cannot be read") from None
    try:
        with stderr.status(f"reading {shown(path.name)}…"):
            pairs = read_raw(path)
    except (EventsError, OSError, EOFError) as exc:
        raise _fail(str(exc) if isinstance(exc, EventsError) else f"{path}: cannot be read") from None
    events = [event for event, _ in pairs]
    for event in events:
        event.time = event.time.astimezone(zone or compiled.tz)
    return events, RulesetHistory(compiled, pairs)


def _time(text: str, events: list[Any], zone: ZoneInfo | None) -> dt.datetime:
    """A time from the command line; without an offset, in --timezone or the events' own."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(f"{text!r} is not a time like 2026-09-01 or 2026-09-01T00:00:00+09:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone or (events[0].time.tzinfo if events else dt.UTC))
    return moment


def _horizon(text: str) -> dt.timedelta:
    try:
        duration = TypeAdapter(DurationField).validate_python(text)
    except ValidationError:
        raise _fail(f"--horizon {text!r} is not a duration like '60 days' or '8 weeks'") from None
    return duration.timedelta() or dt.timedelta(days=int(duration.approx_days()))


def _model_error(exc: Exception) -> typer.Exit:
    if isinstance(exc, TrainingError):
        return _fail(str(exc), EXIT_DATA)
    if isinstance(exc, ModelFileError):
        return _fail(str(exc))
    raise exc


@model_app.command("train")
def train_command(
    events: Path = typer.Option(..., "--events", metavar="FILE", help=_EVENTS_HELP),
    target: str = typer.Option(..., "--target", metavar="churn|engagement|anomaly|segments",
                               help="What the model predicts; segments: RFM segments (member.segment)."),
    until: str = typer.Option(..., "--until", metavar="TIME", help="Train on history up to this time, no later."),
    horizon: str | None = typer.Option(None, "--horizon", metavar="DURATION",
                                       help="Churn: no purchase within it; engagement: the offer used within it "
                                            "(default 60 days for churn, 14 for engagement)."),
    out: Path = typer.Option(..., "--out", metavar="MODEL", help="The model file (.skops); its card goes beside it."),
    timezone: str | None = typer.Option(None, "--timezone", metavar="ZONE",
                                        help="Read times in this IANA zone, as the ruleset does (default: as "
                                             "written)."),
    method: str = typer.Option("quantile", "--method", metavar="quantile|kmeans",
                               help="Segments: quintile cut points, or k-means clusters named by them."),
    ruleset: Path | None = typer.Option(None, "--ruleset", metavar="RULESET", help=_RULESET_HELP),
    format: OutputFormat = _FORMAT,
) -> None:
    """Train a model on history up to --until, and write it with its model card."""
    if target not in TARGETS:
        raise _fail(f"--target {target!r} is not one of {', '.join(TARGETS)}")
    if out.suffix != ".skops":
        raise _fail(f"--out {out.name!r}: a model file ends in .skops")
    zone = _zone(timezone)
    history, engine = _history(ruleset, events, zone)
    moment = _time(until, history, zone or (engine.compiled.tz if engine else None))
    length = _horizon(horizon or HORIZONS[target])
    try:
        with stderr.status(f"training the {target} model…"):
            card = train(history, target, moment, length, out, events.name, method, engine)
    except Exception as exc:
        raise _model_error(exc) from None
    if format == OutputFormat.json:
        stdout.out(json.dumps(card, indent=2), highlight=False)
        return
    auc = card["metrics"]["training"].get("auc")
    stdout.print(f"trained {target} model {shown(out)} (version {card['version']}): {card['data']['rows']} rows, "
                 f"{card['data']['positives']} positive" + (f"; training AUC {auc}" if auc is not None else ""),
                 markup=False, soft_wrap=True)


@model_app.command("evaluate")
def evaluate_command(
    path: Path = typer.Argument(..., metavar="MODEL", help="The model file (.skops), its card beside it."),
    events: Path = typer.Option(..., "--events", metavar="FILE", help=_EVENTS_HELP + " They must run past the "
                                                                      "model's training window: that is the holdout."),
    timezone: str | None = typer.Option(None, "--timezone", metavar="ZONE", help="Read times in this IANA zone."),
    ruleset: Path | None = typer.Option(None, "--ruleset", metavar="RULESET", help=_RULESET_HELP + " A model "
                                        "trained with one needs one."),
    format: OutputFormat = _FORMAT,
) -> None:
    """AUC, calibration and lift over a simple baseline, on the time after the training window."""
    history, engine = _history(ruleset, events, _zone(timezone))
    try:
        with stderr.status("evaluating…"):
            report = evaluate(path, history, engine)
    except Exception as exc:
        raise _model_error(exc) from None
    if format == OutputFormat.json:
        stdout.out(json.dumps(report, indent=2), highlight=False)
        return
    _print_evaluation(report)


def _print_evaluation(report: dict[str, Any]) -> None:
    baseline = report["baseline"]
    stdout.print(f"{shown(report['model'])} {report['version']} ({report['target']}), holdout from "
                 f"{report['holdout']['from']}: {report['rows']} rows, {report['positives']} positive",
                 markup=False, soft_wrap=True)
    stdout.print(f"AUC {report['auc']}  baseline ({baseline['name']}) {baseline['auc']}  lift {report['lift']}  "
                 f"Brier {report['brier']}", markup=False, soft_wrap=True)
    table = Table("score bin", "predicted", "observed", "rows", title="calibration")
    for i, row in enumerate(report["calibration"], 1):
        table.add_row(str(i), f"{row['predicted']:.3f}", f"{row['observed']:.3f}", str(row["rows"]))
    stdout.print(table)


def _offer(text: str | None) -> Any:
    if text is None:
        return None
    parts = text.split(":")
    try:
        if len(parts) != 3:  # noqa: PLR2004 - type, category, value
            raise ValueError
        return parts[0], parts[1] or None, Decimal(parts[2])
    except (ValueError, InvalidOperation):
        raise _fail(f"--offer {text!r} is not TYPE:CATEGORY:VALUE, e.g. double_points:coffee:2") from None


@model_app.command("score")
def score_command(
    path: Path = typer.Argument(..., metavar="MODEL", help="The model file (.skops), its card beside it."),
    events: Path = typer.Option(..., "--events", metavar="FILE", help=_EVENTS_HELP),
    at: str = typer.Option(..., "--at", metavar="TIME", help="Score each member as of this time."),
    offer: str | None = typer.Option(None, "--offer", metavar="TYPE:CATEGORY:VALUE",
                                     help="An engagement model scores this offer for every member."),
    timezone: str | None = typer.Option(None, "--timezone", metavar="ZONE", help="Read times in this IANA zone."),
    ruleset: Path | None = typer.Option(None, "--ruleset", metavar="RULESET", help=_RULESET_HELP + " A model "
                                        "trained with one needs one."),
    format: str = typer.Option("jsonl", "--format", metavar="jsonl|json", help="jsonl: one member a line; json: "
                                                                               "one list."),
) -> None:
    """One line per member: {"member", "score", "model", "version", "segment"}; for churn, the
    probability of no purchase within the horizon."""
    if format not in ("jsonl", "json"):
        raise _fail(f"--format {format!r} is not one of jsonl, json")
    zone, wanted = _zone(timezone), _offer(offer)
    history, engine = _history(ruleset, events, zone)
    moment = _time(at, history, zone or (engine.compiled.tz if engine else None))
    try:
        with stderr.status("scoring…"):
            lines = [to_jsonable(line) for line in score_members(path, history, moment, wanted, engine)]
    except Exception as exc:
        raise _model_error(exc) from None
    if format == "json":
        stdout.out(json.dumps(lines, indent=2), highlight=False)
        return
    for line in lines:
        stdout.out(json.dumps(line), highlight=False)


@model_app.command("simulate-offers")
def simulate_offers_command(
    events: Path = typer.Option(..., "--events", metavar="FILE", help=_EVENTS_HELP),
    out: Path = typer.Option(..., "--out", metavar="FILE", help="Write the events, with the offer events, here."),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same offers."),
) -> None:
    """Add simulated offer_presented and offer_used events to a history of purchases, to try an
    engagement model before a host sends real ones."""
    history = _events(events, None)
    with out.open("w", encoding="utf-8") as handle:
        for line in offer_lines(simulate_offers(history, seed)):
            handle.write(json.dumps(line) + "\n")
    stderr.print(f"wrote {shown(out)}", markup=False, soft_wrap=True)
