"""The built-in scikit-learn plugin: loads the skops models a ruleset names (docs/models.md).

Registered like any third-party plugin (plugins/manager.py's BUILTIN_PLUGINS). It answers
the scorer hook for every model file ending in ``.skops``; the rest it leaves to other
plugins. scikit-learn and skops load only when a model does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from punchcard.plugins.hookspecs import hookimpl

from .train import SkopsScorer, load_scorer

__all__ = ["punchcard_scorers", "SUFFIX"]

SUFFIX = ".skops"


@hookimpl
def punchcard_scorers(models: Mapping[str, Path]) -> list[SkopsScorer]:
    return [load_scorer(name, Path(path)) for name, path in models.items() if Path(path).suffix == SUFFIX]
