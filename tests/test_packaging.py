"""A plain (non-editable) install ships every module and data file.

The package maps top-level folders into ``punchcard.*`` through setuptools
``package-dir``, so a module or data file missing from pyproject.toml works in an
editable install and breaks in a plain one. Build the wheel and look inside.
"""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"punchcard": "punchcard", "dsl": "punchcard/dsl", "grammar": "punchcard/grammar",
           "engine": "punchcard/engine", "plugins": "punchcard/plugins", "rulesets": "punchcard/rulesets"}


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True)
    (wheel,) = out.glob("punchcard-*.whl")
    return set(zipfile.ZipFile(wheel).namelist())


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


def test_the_console_script_is_declared(wheel_names):
    entry_points = next(n for n in wheel_names if n.endswith("entry_points.txt"))
    assert entry_points
