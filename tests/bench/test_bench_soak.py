"""The soak benchmark runs on every store with tiny settings, reports its figures, and
stops with the failing seed when a history does not match the oracle."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "bench_soak.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_soak", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_tiny_soak_reports_steps_kills_drops_and_rate_per_store(postgres_url):
    done = subprocess.run([sys.executable, str(SCRIPT), "--steps", "150", "--seconds", "60", "--events", "150",
                           "--members", "6", "--workers", "2", "--postgres-url", postgres_url],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    lines = {line.split()[0]: line for line in done.stdout.splitlines() if line.strip()}
    assert set(lines) == {"memory", "sqlite", "postgresql"}, done.stdout
    for line in lines.values():
        steps = int(line.split()[1])
        assert steps >= 150 and "kills" in line and "drops survived" in line and "events/s" in line, line


def test_a_history_that_differs_from_the_oracle_stops_the_soak_with_its_seed(monkeypatch, capsys):
    bench = _load()
    from punchcard.engine.policies.lifecycle import lots as ledger

    monkeypatch.setattr(ledger, "_spend_order", lambda lot: (-lot.earned_at.timestamp(), lot.id))
    assert bench.main(["--stores", "memory", "--steps", "5000", "--events", "500", "--seed", "9"]) == 1
    out = capsys.readouterr().out
    assert "memory: FAILED: seed 9 on memory" in out and "PUNCHCARD_SIM_SEED=9" in out
