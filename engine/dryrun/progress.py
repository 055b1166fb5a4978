"""A rich progress bar on stderr: rows read, then events replayed per second and time left."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["RichProgress"]


class RichProgress:
    """Implements the runner's Progress protocol; use as a context manager."""

    def __init__(self, console: Console, unit: str = "events"):
        self.unit = unit
        self.bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
                            TimeRemainingColumn(), console=console, transient=False)
        self.task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self._rate()
        self.bar.stop()

    def phase(self, name: str, total: int | None) -> None:
        if self.task is not None:
            self._rate()
            self.bar.update(self.task, total=self.bar.tasks[self.task].completed)
        self.task = self.bar.add_task(name, total=total, rate="")

    def advance(self, amount: int) -> None:
        if self.task is not None:
            self.bar.advance(self.task, amount)
            self._rate()

    def _rate(self) -> None:
        if self.task is None:
            return
        task = self.bar.tasks[self.task]
        speed = task.finished_speed or task.speed
        self.bar.update(self.task, rate=f"{speed:,.0f} {'rows' if 'read' in task.description else self.unit}/s"
                        if speed else "")
