"""``punchcard serve`` freezes what its startup made (``Settings.freeze_gc``), so the collector
stops scanning the compiled rulesets and modules on every full collection; an application a
host embeds leaves the host's collector alone."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from punchcard.service import app
from punchcard.service.state import Settings

RULESET = "rulesets/coffee-club.yaml"


def test_serving_freezes_the_startup_objects_once_started(tmp_path):
    gc.unfreeze()
    api = app([RULESET], f"sqlite:///{tmp_path / 'points.db'}", settings=Settings(freeze_gc=True))
    try:
        assert gc.get_freeze_count() == 0  # building the application freezes nothing
        with TestClient(api) as client:
            frozen = gc.get_freeze_count()
            assert frozen > 1000  # the modules and the compiled ruleset at least
            assert client.get("/readyz").status_code == 200  # and the service still answers
    finally:
        gc.unfreeze()


def test_an_embedded_application_leaves_the_collector_alone(tmp_path):
    gc.unfreeze()
    api = app([RULESET], f"sqlite:///{tmp_path / 'points.db'}")
    with TestClient(api) as client:
        assert client.get("/readyz").status_code == 200
        assert gc.get_freeze_count() == 0
