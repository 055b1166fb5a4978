"""Without PostgreSQL the storage tests skip locally but fail in CI."""

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


@pytest.mark.parametrize("name, value", [("PUNCHCARD_REQUIRE_POSTGRES", "1"), ("CI", "true")])
def test_required_postgres_fails(unavailable, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(pytest.fail.Exception, match=f"PostgreSQL is required \\({name} is set\\)"):
        unavailable("initdb was not found")


@pytest.mark.parametrize("ci", [None, "false", "0"])
def test_optional_postgres_skips(unavailable, monkeypatch, ci):
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not available: initdb was not found"):
        unavailable("initdb was not found")
