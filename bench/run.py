"""Run every benchmark in this folder, one after another (``make bench``).

Each ``bench_*.py`` measures its own baseline in the same run and prints ratios
against it. Pass ``--quick`` for smaller inputs when only checking that they run.

``run.py table [--events 1000000] [--format json] ...`` prints the engine's performance
table alone (bench_table.py; docs/performance.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_engine.py": ["--events", "100000", "--members", "2000"],
    "bench_walk.py": ["--events", "20000", "--members", "1000", "--rounds", "2"],
    "bench_dryrun.py": ["--events", "100000", "--members", "10000", "--small", "25000"],
    "bench_table.py": ["--events", "100000", "--members", "2000", "--dryrun-members", "10000"],
    "bench_store.py": ["--events", "4000", "--single", "800", "--workers", "1,4"],
    "bench_models.py": ["--calls", "300", "--events", "2000"],
    "bench_memory_store.py": ["--events", "6000", "--members", "300", "--rounds", "1"],
    "bench_messages.py": ["--events", "4000", "--members", "200", "--rounds", "1", "--outbox", "300"],
    "bench_service.py": ["--seconds", "10", "--users", "5", "--rate", "10", "--workers", "1"],
}


def main() -> int:
    if sys.argv[1:2] == ["table"]:
        return subprocess.run([sys.executable, str(HERE / "bench_table.py"), *sys.argv[2:]], check=False).returncode
    quick = "--quick" in sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        args = QUICK.get(script.name, []) if quick else []
        failed += subprocess.run([sys.executable, str(script), *args], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
