"""Without PostgreSQL the storage tests fail, locally as in CI: they never pass by skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture
def unavailable(request, monkeypatch):
    for name in ("PUNCHCARD_REQUIRE_POSTGRES", "CI"):
        monkeypatch.delenv(name, raising=False)
    plugin = next(p for p in request.config.pluginmanager.get_plugins()
                  if getattr(p, "__file__", None) and Path(p.__file__).resolve() == ROOT_CONFTEST)
    return plugin.postgres_unavailable


@pytest.mark.parametrize("env", [{}, {"CI": "false"}, {"CI": "0"}, {"CI": "true"},
                                 {"PUNCHCARD_REQUIRE_POSTGRES": "1"}])
def test_missing_postgres_fails_whatever_the_environment(unavailable, monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is not available: initdb was not found") as failed:
        unavailable("initdb was not found")
    assert "scripts/ensure-postgres" in str(failed.value)
    assert "PUNCHCARD_TEST_POSTGRES_URL" in str(failed.value)
