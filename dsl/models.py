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


_TARGETS = ("churn", "engagement", "anomaly")  # what `punchcard model train --target` takes


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
    """A model file outside the ruleset's folder (by its text, or by where a link leads), a
    folder, or not there: an error at its entry."""
    folder = _folder(state.raw.path).resolve()
    files = model_files(state.valid_model, state.raw.path)
    out = []
    for name, file in state.valid_model.models.items():
        where = state.source.value(("models", name)).span
        problem = _file_problem(name, file, files[name], folder)
        if problem is not None:
            code, message, hint = problem
            out.append(Diagnostic(code, f"model {name!r}: {message}", where, hint=hint))
    return out


def _file_problem(name: str, file: str, path: Path, folder: Path) -> tuple[Code, str, str] | None:
    if Path(file).is_absolute() or ".." in Path(file).parts or not path.resolve().is_relative_to(folder):
        return (Code.INCLUDE_ERROR, f"the file {file!r} must stay inside the ruleset's folder",
                "give a path relative to this ruleset's folder, to a file (not a link) inside it")
    if path.is_dir():
        return Code.NOT_FOUND, f"{file!r} is a folder, not a model file", "name the .skops file inside it"
    if not path.is_file():
        target = name if name in _TARGETS else "churn|engagement|anomaly"
        return (Code.NOT_FOUND, f"the file {file!r} was not found",
                f"train it: punchcard model train --events FILE --target {target} --until TIME --out {file}")
    return None


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
