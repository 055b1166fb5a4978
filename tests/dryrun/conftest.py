"""Shared inputs for the dry-run tests: the bundled demo's run, small generated samples.

The demo's dry-run is run once per session; tests that need other inputs make small
files of their own, so the folder stays quick.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dryrun_helpers import V1, V2, demo_options

from punchcard.engine.compiler.stages import compile_ruleset
from punchcard.engine.dryrun import build_report, dry_run, to_json_report
from punchcard.engine.dryrun.samples import SampleOptions, generate
from punchcard.engine.dryrun.writers import write_events


@pytest.fixture(scope="session")
def demo_run():
    return dry_run(demo_options())


@pytest.fixture(scope="session")
def demo_report(demo_run):
    return build_report(demo_run)


@pytest.fixture(scope="session")
def demo_json(demo_report):
    return json.loads(json.dumps(to_json_report(demo_report)))


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory) -> Path:
    """3,000 generated retail events over 300 members: refunds, reviews, bursts and retries included."""
    path = tmp_path_factory.mktemp("samples") / "retail-3k.jsonl"
    write_events(generate(compile_ruleset(V1), SampleOptions(count=3000, members=300, seed=11)), path)
    return path


@pytest.fixture(scope="session")
def tight_v2(tmp_path_factory) -> Path:
    """Version 2 with a budget small enough to run out within the small sample."""
    path = tmp_path_factory.mktemp("rulesets") / "retail-tiers-v2-tight.yaml"
    text = V2.read_text().replace("max_points: 15000", "max_points: 1234")
    assert text != V2.read_text()
    path.write_text(text)
    return path
