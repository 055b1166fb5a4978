"""Finding rulesets on disk: a file, a folder with ruleset.yaml, or a folder of rulesets."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from punchcard.dsl.loader import MAIN_FILE

__all__ = ["find_rulesets", "bundled_rulesets_dir", "none_found", "EXIT_NOTHING_TO_DO"]

# `check` and `test` exit 5 when there was nothing to check or run, as pytest does.
EXIT_NOTHING_TO_DO = 5


def bundled_rulesets_dir() -> Path:
    import punchcard.rulesets

    return Path(punchcard.rulesets.__file__).parent


def find_rulesets(paths: Iterable[str | Path]) -> list[Path]:
    """Expand each path into rulesets, looking into every sub-folder. A folder with a
    ruleset.yaml is one ruleset (its other files are fragments). A missing path is returned
    as is (and fails to load); an empty list means no ruleset was found."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not (path / MAIN_FILE).is_file():
            found.extend(_walk(path, set()))
        else:
            found.append(path)
    return found


def _walk(folder: Path, seen: set[Path]) -> list[Path]:
    if folder.resolve() in seen:  # a link back up the tree is walked once
        return []
    seen.add(folder.resolve())
    found: list[Path] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "__")):  # .git, .venv, __pycache__: never rulesets
            continue
        if path.is_dir():
            found.extend([path] if (path / MAIN_FILE).is_file() else _walk(path, seen))
        elif path.suffix in (".yaml", ".yml"):
            found.append(path)
    return found


def none_found(paths: Iterable[str | Path]) -> str:
    """What `check` and `test` say when the paths hold no ruleset."""
    return f"no rulesets found in {', '.join(str(p) for p in paths)}"
