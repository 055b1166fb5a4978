"""punchcard.engine.dryrun: replay history through a ruleset (or two) and report what it did.

See docs/dry-run.md. The pieces: :mod:`.formats` and :mod:`.mapping` read rows,
:mod:`.rows` validates them, :mod:`.spill` partitions them by member,
:mod:`.replay` runs a partition through the pure core (:mod:`.member` one member,
counted as it goes), :mod:`.budgets` keeps shared budgets exact across partitions,
:mod:`.tally` and :mod:`.report` turn decisions into figures, :mod:`.html` and
:mod:`.tables` show them, :mod:`.samples` makes sample histories and
:mod:`.dask_job` runs the same partitions on a Dask cluster.
"""

from .formats import InputError
from .mapping import ColumnMap, load_map
from .report import SCHEMA, build_report, to_json_report
from .runner import Options, RunResult, StrictError, dry_run

__all__ = ["InputError", "ColumnMap", "load_map", "SCHEMA", "build_report", "to_json_report", "Options",
           "RunResult", "StrictError", "dry_run"]
