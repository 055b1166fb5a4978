"""The ``models:`` section: the scoring models a ruleset uses, by name (docs/models.md).

Each entry names a model file, relative to the ruleset's folder; expressions read a model
with ``score("NAME")`` (typed by the checker, :meth:`.checker.ExprChecker._score`). Checking
makes sure each file is there and inside the ruleset's folder; compiling loads it through the
scorer plugins, which refuse a changed or mismatched file. Either way the ruleset fails
before any event is decided with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from . import ast
from .checker import SCORE, SEGMENT, SEGMENT_MODEL
from .errors import Code, Diagnostic

if TYPE_CHECKING:
    from .checked import CheckedRuleset
    from .model import Ruleset

__all__ = ["model_files", "model_diagnostics", "models_used", "reads_segment", "SEGMENT_MODEL"]


def _folder(ruleset_path: str) -> Path:
    """Where model paths start: the ruleset file's folder (the working folder for text)."""
    if ruleset_path.startswith("<"):
        return Path.cwd()
    path = Path(ruleset_path)
    return path if path.is_dir() else path.parent


def model_files(model: Ruleset, ruleset_path: str) -> dict[str, Path]:
    """Each model's file, resolved against the ruleset's folder."""
    folder = _folder(ruleset_path)
    return {name: folder / file for name, file in model.models.items()}


def model_diagnostics(state: CheckedRuleset) -> list[Diagnostic]:
    """A model file outside the ruleset's folder, or not there: an error at its entry."""
    out = []
    files = model_files(state.valid_model, state.raw.path)
    for name, file in state.valid_model.models.items():
        where = state.source.value(("models", name)).span
        if Path(file).is_absolute() or ".." in Path(file).parts:
            out.append(Diagnostic(Code.INCLUDE_ERROR, f"model {name!r}: the file {file!r} must stay inside the "
                                  "ruleset's folder", where, hint="give a path relative to this ruleset's folder"))
        elif not files[name].is_file():
            out.append(Diagnostic(Code.NOT_FOUND, f"model {name!r}: the file {file!r} was not found", where,
                                  hint=f"train it: punchcard model train --events FILE --target churn "
                                       f"--until TIME --out {file}"))
    return out


def models_used(node: ast.Node) -> set[str]:
    """The model names an expression scores with."""
    return {child.args[0].value for child in ast.walk(node)
            if isinstance(child, ast.Call) and child.function == SCORE and child.args
            and isinstance(child.args[0], ast.String)}


def reads_segment(checked: CheckedRuleset) -> bool:
    """Whether an expression reads ``member.segment`` from the segments model (the ruleset
    declares no member field of that name)."""
    if SEGMENT in checked.valid_model.schema_.member:
        return False
    nodes = [*(expr.node for expr in checked.exprs.values()), *checked.lets.values()]
    return any(ast.path_of(child) == ("member", SEGMENT) for node in nodes for child in ast.walk(node)
               if isinstance(child, ast.Field))
