"""Installed plugins are found through the ``punchcard`` entry-point group."""

from __future__ import annotations

import json
import sys
import textwrap
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.plugins.manager import DISABLE_ENV, PluginError, get_plugin_manager

PLUGIN_SOURCE = """\
from decimal import Decimal

from punchcard.plugins import hookimpl


class HalfScorer:
    name = "half"
    version = "1"
    features = ("recency_days",)

    def score_many(self, rows):
        return [Decimal("0.5") for _ in rows]


@hookimpl
def punchcard_scorers():
    return [HalfScorer()]
"""


def install_fake_distribution(root, monkeypatch, module: str, source: str, entry_name: str = "fakeplug"):
    """A tiny installed distribution: a module plus a *.dist-info folder declaring the entry point."""
    (root / f"{module}.py").write_text(source)
    info = root / "punchcard_fakeplug-1.2.3.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text("Metadata-Version: 2.1\nName: punchcard-fakeplug\nVersion: 1.2.3\n")
    info.joinpath("entry_points.txt").write_text(f"[punchcard]\n{entry_name} = {module}\n")
    monkeypatch.syspath_prepend(str(root))


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    module = f"fakeplug_{tmp_path.name.replace('-', '_')}"
    install_fake_distribution(tmp_path, monkeypatch, module, PLUGIN_SOURCE)
    yield module
    sys.modules.pop(module, None)


def test_an_entry_point_plugin_is_loaded(fake_plugin):
    plugins = get_plugin_manager()
    assert plugins.scorers()["half"].score_many([{}]) == [Decimal("0.5")]
    info = {i.name: i for i in plugins.describe()}["fakeplug"]
    assert (info.kind, info.distribution, info.version) == ("entrypoint", "punchcard-fakeplug", "1.2.3")
    assert info.hooks == ("punchcard_scorers",)


def test_punchcard_plugins_lists_it_as_json(fake_plugin):
    result = CliRunner().invoke(app, ["plugins", "--format", "json"])
    assert result.exit_code == 0, result.output
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert listed["fakeplug"] == {"name": "fakeplug", "kind": "entrypoint", "where": "punchcard-fakeplug 1.2.3",
                                  "hooks": ["punchcard_scorers"], "distribution": "punchcard-fakeplug",
                                  "version": "1.2.3"}
    assert listed["functions_extra"]["kind"] == "builtin"


def test_punchcard_plugins_text_output(fake_plugin):
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("fakeplug"))
    assert line.split() == ["fakeplug", "entrypoint", "punchcard-fakeplug", "1.2.3"]
    assert "hooks: punchcard_scorers" in result.stdout


def test_the_environment_blocks_an_entry_point_before_it_is_imported(fake_plugin, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "fakeplug")
    plugins = get_plugin_manager()
    assert "fakeplug" not in [info.name for info in plugins.describe()]
    assert "half" not in plugins.scorers()
    assert fake_plugin not in sys.modules


def test_a_plugin_that_fails_to_import_is_named(tmp_path, monkeypatch):
    module = f"brokenplug_{tmp_path.name.replace('-', '_')}"
    install_fake_distribution(tmp_path, monkeypatch, module, "raise ImportError('needs acme-sdk')\n", "broken")
    with pytest.raises(PluginError, match=rf"plugin 'broken' .* failed to load: needs acme-sdk; "
                                          rf"disable it with {DISABLE_ENV}=broken"):
        get_plugin_manager()
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 1
    assert "plugin 'broken'" in result.stderr


def test_a_plugin_with_an_unknown_hook_is_refused(tmp_path, monkeypatch):
    module = f"typoplug_{tmp_path.name.replace('-', '_')}"
    source = textwrap.dedent("""\
        from punchcard.plugins import hookimpl

        @hookimpl
        def punchcard_scorer():
            return []
    """)
    install_fake_distribution(tmp_path, monkeypatch, module, source, "typo")
    try:
        with pytest.raises(PluginError, match=r"plugin 'typo' .*unknown hook 'punchcard_scorer'"):
            get_plugin_manager()
    finally:
        sys.modules.pop(module, None)
