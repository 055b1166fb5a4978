"""What one partition's replay returns, and how partials merge.

Everything here merges by addition or by a total order (line numbers, or a score
with the member id as tie-break), so the merge of any split of the members is the
same: the figures do not depend on the number of partitions or workers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from operator import neg

from .tally import Tally

__all__ = ["BadRows", "Leaders", "MemberSummary", "Partial", "TOP", "CHANGED_SAMPLE", "BAD_ROW_SAMPLE"]

TOP = 10
CHANGED_SAMPLE = 10
BAD_ROW_SAMPLE = 100


@dataclass
class BadRows:
    """Rows that are not events: counted, grouped by reason, the first ones kept with line numbers.

    A group is the reason without what varies from row to row (the row's own values, a
    column number: see :class:`.formats.RowError`), and keeps its first row as an example."""

    count: int = 0
    by_reason: dict = field(default_factory=dict)  # (file, group) -> [rows, (line, reason) of the first]
    rows: list = field(default_factory=list)  # (file, line, reason), sorted, at most BAD_ROW_SAMPLE

    def add(self, file: str, line: int, reason: str, group: str | None = None) -> None:
        self.count += 1
        self._group((file, group or reason), 1, (line, reason))
        self.rows.append((file, line, reason))
        if len(self.rows) > 2 * BAD_ROW_SAMPLE:
            self._trim()

    def _group(self, key: tuple, rows: int, example: tuple) -> None:
        entry = self.by_reason.get(key)
        if entry is None:
            self.by_reason[key] = [rows, example]
        else:
            entry[0] += rows
            entry[1] = min(entry[1], example)

    def _trim(self) -> None:
        self.rows = sorted(self.rows)[:BAD_ROW_SAMPLE]

    def merge(self, other: BadRows) -> None:
        self.count += other.count
        for key, (rows, example) in other.by_reason.items():
            self._group(key, rows, example)
        self.rows.extend(other.rows)
        self._trim()

    def groups(self) -> list[dict]:
        """[{file, reason, rows, example: {line, reason}}], the most frequent first."""
        ordered = sorted(self.by_reason.items(), key=lambda item: (-item[1][0], item[0]))
        return [{"file": file, "reason": group, "rows": rows, "example": {"line": line, "reason": reason}}
                for (file, group), (rows, (line, reason)) in ordered]


@dataclass
class MemberSummary:
    member: str
    score: tuple  # larger is higher in the list; ties go to the smaller member id
    figures: dict
    decisions: list = field(default_factory=list)  # compact traces, for the report's anchors

    def order(self) -> tuple:
        return (*map(neg, self.score), self.member)


@dataclass
class Leaders:
    """The first ``size`` members by score, kept small while members stream past."""

    size: int = TOP
    members: list = field(default_factory=list)

    def admits(self, score: tuple, member: str) -> bool:
        if len(self.members) < self.size:
            return True
        return (*map(neg, score), member) < self.members[-1].order()

    def add(self, summary: MemberSummary) -> None:
        self.members.append(summary)
        self.members.sort(key=MemberSummary.order)
        del self.members[self.size:]

    def merge(self, other: Leaders) -> None:
        for summary in other.members:
            if self.admits(summary.score, summary.member):
                self.add(summary)


@dataclass
class Partial:
    index: int
    tallies: list[Tally]
    bad: BadRows = field(default_factory=BadRows)
    uses: list = field(default_factory=list)  # per ruleset: [budgets.Use]
    leaders: list = field(default_factory=list)  # per ruleset: Leaders by points issued
    changed: Leaders = field(default_factory=lambda: Leaders(CHANGED_SAMPLE))
    changed_count: Counter = field(default_factory=Counter)  # members, and by what changed
    events: int = 0
    derived: list = field(default_factory=list)  # referrers' derived event rows (referrals.py)

    def merge(self, other: Partial) -> None:
        for mine, theirs in zip(self.tallies, other.tallies, strict=True):  # one per ruleset of the run
            mine.merge(theirs)
        self.bad.merge(other.bad)
        for mine, theirs in zip(self.uses, other.uses, strict=True):
            mine.extend(theirs)
        for mine, theirs in zip(self.leaders, other.leaders, strict=True):
            mine.merge(theirs)
        self.changed.merge(other.changed)
        self.changed_count.update(other.changed_count)
        self.events += other.events
        self.derived.extend(other.derived)
