"""Run every benchmark in this folder, one after another (``make bench``).

Each ``bench_*.py`` measures its own baseline in the same run and prints ratios
against it. Pass ``--quick`` for smaller inputs when only checking that they run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "bench_engine.py": ["--events", "100000", "--members", "2000"],
    "bench_kernel.py": ["--events", "20000", "--members", "1000", "--rounds", "2"],
    "bench_dryrun.py": ["--events", "100000", "--members", "10000", "--small", "25000"],
    "bench_store.py": ["--events", "4000", "--single", "800", "--workers", "1,4"],
}


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        args = QUICK.get(script.name, []) if quick else []
        failed += subprocess.run([sys.executable, str(script), *args]).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
