"""The replay's shortcuts give what the long way gives.

Watching a run (``observe``) makes every closing tick through ``evaluate``, as
``Engine`` makes it; without it, a tick is counted from housekeeping alone and its
decision made only for members the report shows. Both must give the same report,
traces included. Rows are validated once, when read, and replayed from the spill;
rulesets whose schemas differ each read the raw row.
"""

from __future__ import annotations

import datetime as dt
import json

from dryrun_helpers import V1, V2, write_jsonl

from punchcard.engine.dryrun import Options, build_report, dry_run
from punchcard.engine.dryrun.rows import event_row, row_event
from punchcard.engine.dryrun.spill import Spill, read_partition
from punchcard.engine.runtime.decision import to_jsonable


def _full(options: Options, watched: bool) -> str:
    if watched:
        options.observe = lambda member, run: None
    return json.dumps(to_jsonable(build_report(dry_run(options))), sort_keys=True)


def _members(tmp_path):
    return write_jsonl(tmp_path / "members.jsonl", [
        {"member": f"m{n:06d}", "balance": 40 * n, **({"tier": "gold"} if n % 4 == 0 else {})} for n in range(1, 40)]
        + [{"member": "no-events", "balance": 300}, {"member": "late", "joined": "2026-05-01T00:00:00+09:00"}])


def test_closing_ticks_counted_from_housekeeping_match_the_engines_ticks(small_sample, tight_v2, tmp_path):
    members = _members(tmp_path)
    for options in (lambda: Options(V2, small_sample, against=V1, members=members, until=dt.date(2028, 6, 30)),
                    lambda: Options(tight_v2, small_sample, against=V1),
                    lambda: Options(V1, small_sample, members=members, since=dt.date(2026, 3, 1))):
        assert _full(options(), watched=False) == _full(options(), watched=True)


def test_a_tick_outside_the_effective_dates_is_still_housekeeping(small_sample, tmp_path):
    ended = tmp_path / "retail-ended.yaml"
    ended.write_text(V1.read_text().replace("timezone: Asia/Tokyo",
                                            "timezone: Asia/Tokyo\neffective: {until: 2026-06-30}", 1))
    options = lambda: Options(ended, small_sample, against=V1, members=_members(tmp_path))  # noqa: E731
    fast, slow = _full(options(), watched=False), _full(options(), watched=True)
    assert fast == slow
    report = json.loads(fast)
    assert report["diff"]["members_changed"]["tier"] > 0  # a refused tick's decision reports no tier


def test_rulesets_reading_events_differently_each_parse_the_row(small_sample, tmp_path):
    strict = tmp_path / "retail-strict.yaml"
    strict.write_text(V1.read_text().replace("channel: optional string", "channel: string"))
    rows = [json.loads(line) for line in small_sample.read_text().splitlines()]
    for row in rows[::5]:
        row.pop("channel", None)
    events = write_jsonl(tmp_path / "events.jsonl", rows)
    report = json.loads(_full(Options(V2, events, against=strict), watched=False))
    refused = [r for r in report["baseline"]["rejections"] if "missing field" in r["reason"]]
    assert refused and report["input"]["bad_rows"] == 0  # the ruleset under test took every row
    assert _full(Options(V2, events, against=strict, workers=2), watched=False) == json.dumps(report, sort_keys=True)


def test_spilled_rows_come_back_as_the_events_they_were(small_sample):
    from punchcard.engine.compiler.stages import compile_ruleset

    compiled = compile_ruleset(V1)
    events = [compiled.schema.parse(json.loads(line)) for line in small_sample.read_text().splitlines()[:500]]
    spill = Spill(3)
    try:
        for line, event in enumerate(events, 1):
            spill.add(event.member, event_row(event, line))
        spill.close()
        back = [row for part in spill.files for row in read_partition(part.path)[0]]
    finally:
        spill.cleanup()
    assert sum(part.rows for part in spill.files) == len(events) == len(back)
    again = {row[2]: row_event(row) for row in back}
    assert [again[line] for line in range(1, len(events) + 1)] == events
    assert all(again[n].time.tzinfo is events[n - 1].time.tzinfo for n in again)
