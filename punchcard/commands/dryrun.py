"""``punchcard dry-run``, ``punchcard demo`` and ``punchcard sample-events`` (docs/dry-run.md).

Exit codes: 0 done; 1 the ruleset has errors, or ``--strict`` and the input has bad
rows; 2 a usage problem (a missing or unreadable file, a bad option).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

import typer

from punchcard.cli import OutputFormat, app, format_option, stderr, stdout
from punchcard.engine.runtime.display import shown, shown_lines
from punchcard.plugins.manager import get_plugin_manager  # handed to the dry-run: the engine never looks it up

__all__ = ["dry_run", "demo", "sample_events"]

log = logging.getLogger("punchcard.dryrun")
_DEMO_NEW = "changes/retail-tiers-v2.yaml"
_DEMO_OLD = "retail-tiers.yaml"
_DEMO_EVENTS = "samples/retail-tiers.jsonl.gz"
_OLD_FORMATS = {"table": "text"}  # --format table was the dry-run's name for text
_FORMAT_OPTION = format_option(old_names=_OLD_FORMATS)  # made once: typer reads it for each command
_DATE_LENGTH = len("2026-12-31")  # --from/--until: a date alone, else a time
# the demo runs on past the sample's year, to the end of June 2028: points earned in the first half
# of 2026 expire (24 months, to the month's end), the rest are still owed, and tiers drop in 2028
_DEMO_UNTIL = "2028-06-30"


def _usage(message: str) -> typer.Exit:
    stderr.print(f"error: {shown_lines(message)}", style="red", markup=False, soft_wrap=True)
    return typer.Exit(2)


def _when(value: str | None, option: str):
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value) if len(value) == _DATE_LENGTH else dt.datetime.fromisoformat(value)
    except ValueError:
        raise _usage(f"{option} {value!r} is not a date (2026-12-31) or an ISO time "
                     "(2026-12-31T18:00:00+09:00)") from None


def _existing(path: Path | None, option: str) -> Path | None:
    if path is not None and not path.exists():
        raise _usage(f"{option} {path}: no such file")
    return path


def _uplifts(values: list[str], option: str = "--uplift") -> tuple[tuple[str, Decimal], ...]:
    """``--uplift control=0 --uplift double=0.2`` (or ``--offers``) as (variant, fraction) pairs."""
    pairs = []
    for value in values:
        name, _, number = value.partition("=")
        try:
            fraction = Decimal(number)
        except InvalidOperation:
            fraction = Decimal("NaN")
        if not name or not fraction.is_finite() or fraction <= -1:
            raise _usage(f"{option} {value!r} is not VARIANT=FRACTION with a fraction above -1 (such as double=0.2)")
        pairs.append((name, fraction))
    return tuple(pairs)


def _write_members(path: Path, count: int) -> None:
    """Every generated member, including those the draws gave no event: the whole population."""
    from punchcard.engine.dryrun.samples import member_id

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps({"member": member_id(i)}) + "\n" for i in range(count))
    except OSError as exc:
        raise _usage(f"cannot write {shown(path)}: {exc.strerror}") from None


def _logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def _run(options, dask: str | None, show_progress: bool):
    """The dry-run itself; every problem becomes an exit code and a message on stderr."""
    from punchcard.dsl.errors import PunchcardError, render
    from punchcard.engine.dryrun import InputError, StrictError
    from punchcard.engine.dryrun import dry_run as run

    try:
        if dask:
            from punchcard.engine.dryrun.dask_job import dry_run_on_dask

            return dry_run_on_dask(options, dask)
        if not show_progress:
            return run(options)
        from punchcard.engine.dryrun.progress import RichProgress

        with RichProgress(stderr) as progress:
            options.progress = progress
            return run(options)
    except PunchcardError as exc:
        for diag in exc.diagnostics:
            stderr.out(shown_lines(render(diag, exc.sources)))
        raise typer.Exit(1) from None
    except StrictError as exc:
        _bad_rows(exc.bad)
        raise typer.Exit(1) from None
    except (InputError, ImportError) as exc:
        raise _usage(str(exc)) from None


def _bad_rows(bad) -> None:
    stderr.print(f"--strict: {bad.count} bad row{'s' * (bad.count != 1)}", style="red")
    for file, line, reason in sorted(bad.rows)[:20]:
        stderr.print(f"  {shown(file)} line {line}: {shown(reason)}", markup=False, soft_wrap=True)


def _output(result, report_path: Path | None, format: OutputFormat, map_json=None) -> None:
    from punchcard.engine.dryrun import build_report, to_json_report
    from punchcard.engine.dryrun.html import render_html
    from punchcard.engine.dryrun.tables import print_tables

    report = build_report(result, map_json)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(render_html(report), encoding="utf-8")
        stderr.print(f"report written to {shown(report_path)}", markup=False, soft_wrap=True)
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(to_json_report(report), indent=2, ensure_ascii=False) + "\n")
    else:
        print_tables(report, stdout)
    log.info("%d rows, %d passes, %d partitions, %d workers", result.rows, result.passes, result.partitions,
             result.workers)


@app.command("dry-run")
def dry_run(
    ruleset: Path = typer.Argument(..., metavar="RULESET", help="The ruleset to replay the history through."),
    events: Path = typer.Option(..., "--events", metavar="FILE", help="JSON Lines, CSV or Parquet; .gz is read as "
                                                                      "gzip."),
    members: Path | None = typer.Option(None, "--members", metavar="FILE", help="JSON Lines of member profiles, "
                                                                                   "opening balances and tiers."),
    against: Path | None = typer.Option(None, "--against", metavar="RULESET", help="Another version to compare "
                                                                                      "with, in one pass."),
    since: str | None = typer.Option(None, "--from", metavar="TIME", help="Only events at or after this date or "
                                                                             "time."),
    until: str | None = typer.Option(None, "--until", metavar="TIME", help="Only events before the end of this "
                                                                              "date (or this time); housekeeping "
                                                                              "runs up to it."),
    report: Path | None = typer.Option(None, "--report", metavar="FILE", help="Write a self-contained HTML report "
                                                                                 "here."),
    format: OutputFormat = _FORMAT_OPTION,
    column_map: Path | None = typer.Option(None, "--map", metavar="FILE", help="YAML: columns to event fields, "
                                                                                  "constants."),
    strict: bool = typer.Option(False, "--strict", help="A bad row is fatal (exit 1)."),
    workers: int = typer.Option(1, "--workers", min=1, help="Processes; the figures do not depend on it."),
    dask: str | None = typer.Option(None, "--dask", metavar="ADDRESS", help="Run the partitions on a Dask cluster: "
                                                                              "a scheduler address, or 'local' for a "
                                                                              "local one."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="A progress bar on stderr."),
    decisions: Path | None = typer.Option(None, "--decisions", metavar="FILE", help="Also write every decision of "
                                          "RULESET here, one JSON line each (.jsonl or .jsonl.gz), for ab report "
                                          "--decisions; the replay then runs in this process."),
    ignore_effective: bool = typer.Option(False, "--ignore-effective", help="Replay RULESET (and --against) as if "
                                          "their effective dates allowed every event: what if these terms had "
                                          "applied then?"),
) -> None:
    """Replay event history through a ruleset (and optionally an older one) and report what it would do."""
    from punchcard.api import plugin_functions
    from punchcard.engine.dryrun import InputError, Options, load_map

    _logging()
    stdin = str(events) == "-"  # standard input: read as a file would be, told by its first bytes
    for path, option in ((ruleset, "RULESET"), (None if stdin else events, "--events"), (members, "--members"),
                         (against, "--against"), (column_map, "--map")):
        _existing(path, option)
    try:
        cmap = load_map(column_map)
    except InputError as exc:
        raise _usage(str(exc)) from None
    options = Options(ruleset, events, members, against, _when(since, "--from"), _when(until, "--until"), cmap,
                      strict, workers, functions=tuple(plugin_functions()),
                      plugins=get_plugin_manager,  # a function, so worker processes load the models too
                      decisions=decisions, ignore_effective=ignore_effective)
    if decisions is not None and dask:
        raise _usage("--decisions writes the decisions as this process replays them: not with --dask")
    result = _run(options, dask, progress)
    _output(result, report, format, cmap.to_json() if column_map else None)


@app.command()
def demo(
    report: Path = typer.Option(Path("out/report.html"), "--report", metavar="FILE", help="Where to write the HTML "
                                                                                          "report."),
    format: OutputFormat = _FORMAT_OPTION,
    workers: int = typer.Option(1, "--workers", min=1, help="Processes; the figures do not depend on it."),
    until: str = typer.Option(_DEMO_UNTIL, "--until", metavar="TIME", help="Run housekeeping up to this date: by "
                                                                           "default far enough for the first "
                                                                           "points to expire (breakage) and tiers "
                                                                           "to drop."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="A progress bar on stderr."),
) -> None:
    """Dry-run the bundled retail-tiers 2.0.0 against 1.0.0 on a year of sample events."""
    from punchcard.discovery import bundled_rulesets_dir
    from punchcard.engine.dryrun import Options

    _logging()
    root = bundled_rulesets_dir()
    stderr.print(f"replaying {root / _DEMO_EVENTS} through {_DEMO_NEW} against {_DEMO_OLD}", markup=False,
                 soft_wrap=True)
    options = Options(root / _DEMO_NEW, root / _DEMO_EVENTS, against=root / _DEMO_OLD,
                      until=_when(until, "--until"), workers=workers, plugins=get_plugin_manager)
    _output(_run(options, None, progress), report, format)


@app.command("sample-events")
def sample_events(
    output: str = typer.Option(..., "--output", "-o", metavar="FILE", help="File to write, by its name: .jsonl, "
                                                                          ".csv or .parquet, .gz to compress; - for "
                                                                          "standard output (JSON Lines)."),
    count: int = typer.Option(20_000, "--count", min=1, help="How many events."),
    members: int = typer.Option(2_500, "--members", min=1, help="How many members."),
    seed: int = typer.Option(7, "--seed", help="The same seed gives the same file."),
    ruleset: Path | None = typer.Option(None, "--ruleset", metavar="RULESET", help="Events fit this ruleset's "
                                                                                      "schema (default: the bundled "
                                                                                      "retail-tiers)."),
    start: str = typer.Option("2026-01-01", "--start", metavar="DATE", help="The first day."),
    days: int = typer.Option(365, "--days", min=1, help="Days of habits to spread the events over."),
    uplift: list[str] = typer.Option([], "--uplift", metavar="VARIANT=FRACTION", help="Members in this variant of "
                                     "the ruleset's variants: shop this much more often (0.2: 20% more); repeatable."),
    members_file: Path | None = typer.Option(None, "--members-file", metavar="FILE", help="Also write every "
                                             "member's id here, one JSON line each (for ab report --members)."),
    offers: list[str] = typer.Option([], "--offers", metavar="VARIANT=FRACTION", help="Members in this variant are "
                                     "shown offers and answer them: offer_presented, offer_used and the purchases "
                                     "the offers bring, this much more (0.2: 20% more); repeatable."),
) -> None:
    """Generate deterministic, realistic sample events for a ruleset."""
    from punchcard.api import compile
    from punchcard.discovery import bundled_rulesets_dir
    from punchcard.dsl.errors import PunchcardError
    from punchcard.engine.dryrun import InputError
    from punchcard.engine.dryrun.samples import SampleOptions, csv_columns, generate
    from punchcard.engine.dryrun.writers import write_events

    path = _existing(ruleset, "--ruleset") or bundled_rulesets_dir() / _DEMO_OLD
    first = _when(start, "--start")
    try:
        compiled = compile(path)
        options = SampleOptions(count, members, seed, first.date() if isinstance(first, dt.datetime) else first, days,
                                _uplifts(uplift), _uplifts(offers, "--offers"))
        written = write_events(generate(compiled, options), output, csv_columns(compiled, bool(offers)))
    except PunchcardError as exc:
        stderr.print(shown_lines(exc), markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (ValueError, InputError) as exc:
        raise _usage(str(exc)) from None
    if members_file is not None:
        _write_members(members_file, members)
    where = "standard output" if output == "-" else shown(output)
    stderr.print(f"wrote {written} events for {members} members to {where}", markup=False, soft_wrap=True)
