"""A plain (non-editable) install ships every module and data file, and building one is quiet.

The package maps top-level folders into ``punchcard.*`` through setuptools
``package-dir``, so a module or data file missing from pyproject.toml works in an
editable install and breaks in a plain one. Build the wheel and look inside.

Both builds run with the project's own environment (no build isolation), so they need
no network; the editable build calls the backend hook pip calls for ``pip install -e .``.
"""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"punchcard": "punchcard", "dsl": "punchcard/dsl", "grammar": "punchcard/grammar",
           "engine": "punchcard/engine", "plugins": "punchcard/plugins", "rulesets": "punchcard/rulesets"}


# What setuptools says when pyproject.toml is out of date: deprecations, data folders it
# would leave out, and any warning raised by the build backend.
NOISE = re.compile(r"Deprecat|would be ignored|absent from the `packages`|BuildBackendWarning|"
                   r"SetuptoolsWarning|_BetaConfiguration|as a TOML table")


@pytest.fixture(scope="module")
def wheel_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-v", "-w", str(out), str(ROOT)], check=True, capture_output=True, text=True)
    (wheel,) = out.glob("punchcard-*.whl")
    return wheel, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel_names(wheel_build):
    return set(zipfile.ZipFile(wheel_build[0]).namelist())


def _noise(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if NOISE.search(line)]


def test_building_the_wheel_prints_no_setuptools_warnings(wheel_build):
    assert _noise(wheel_build[1]) == []


def test_an_editable_build_prints_no_setuptools_warnings(tmp_path):
    # The hook ``pip install -e .`` calls; nothing is installed anywhere.
    hook = f"from setuptools import build_meta; build_meta.build_editable({str(tmp_path)!r})"
    done = subprocess.run([sys.executable, "-W", "default", "-c", hook], cwd=ROOT, check=True, capture_output=True,
                          text=True)
    assert list(tmp_path.glob("punchcard-*.whl"))
    assert _noise(done.stdout + done.stderr) == []


def _source_files(suffixes):
    for folder, target in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in suffixes and "__pycache__" not in path.parts and "tests" not in path.parts:
                yield path, f"{target}/{path.relative_to(ROOT / folder).as_posix()}"


def test_every_module_is_in_the_wheel(wheel_names):
    missing = [target for path, target in _source_files({".py"}) if target not in wheel_names]
    assert not missing, f"add their packages to pyproject.toml: {missing}"


def test_grammar_and_rulesets_ship_as_package_data(wheel_names):
    assert "punchcard/grammar/expr.lark" in wheel_names
    missing = [target for path, target in _source_files({".lark", ".yaml"}) if target not in wheel_names]
    assert not missing, f"add them to package-data: {missing}"


def test_every_data_file_is_in_the_wheel(wheel_names):
    # Everything in the source folders but Python caches and tests: samples, report assets, templates.
    data = {".gz", ".js", ".css", ".md", ".mako", ".lark", ".yaml"}
    missing = [target for path, target in _source_files(data) if target not in wheel_names]
    assert not missing, f"add them to package-data: {missing}"
    assert "punchcard/rulesets/samples/retail-tiers.jsonl.gz" in wheel_names
    assert "punchcard/engine/dryrun/assets/chart.umd.js" in wheel_names


def test_the_console_script_is_declared(wheel_names):
    entry_points = next(n for n in wheel_names if n.endswith("entry_points.txt"))
    assert entry_points


def test_the_wheel_has_the_version_punchcard_reports(wheel_build):
    import punchcard

    assert wheel_build[0].name.startswith(f"punchcard-{punchcard.__version__}-")
