"""Finding rulesets on disk: a file, a folder with ruleset.yaml, or a folder of rulesets."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from punchcard.dsl.loader import MAIN_FILE

__all__ = ["find_rulesets", "bundled_rulesets_dir"]


def bundled_rulesets_dir() -> Path:
    import punchcard.rulesets

    return Path(punchcard.rulesets.__file__).parent


def find_rulesets(paths: Iterable[str | Path]) -> list[Path]:
    """Expand each path into rulesets. A missing path is returned as is (and fails to load)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not (path / MAIN_FILE).is_file():
            found.extend(sorted(p for p in path.iterdir() if _is_ruleset(p)))
        else:
            found.append(path)
    return found


def _is_ruleset(path: Path) -> bool:
    if path.is_dir():
        return (path / MAIN_FILE).is_file()
    return path.suffix in (".yaml", ".yml") and not path.name.startswith(".")
