"""What the checker builds: a :class:`CheckedRuleset` and its :class:`CheckedExpr` entries.

The stages that fill them (:mod:`.check`) and the whole-ruleset checks they call (:mod:`.semantics`,
:mod:`.cost`, :mod:`.expects`) all read these types; keeping them here, apart from the stage table,
lets those modules import them without importing the stages that import them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from . import ast
from .checker import SchemaView, Scope
from .errors import Diagnostic, PunchcardError
from .functions import FunctionSpec
from .loader import RawRuleset
from .model import Ruleset
from .parser import Locator
from .sourcemap import Path, SourceMap
from .types import Type

__all__ = ["CheckedExpr", "CheckedRuleset"]


@dataclass
class CheckedExpr:
    path: Path
    text: str
    node: ast.Node
    type: Type
    scope: Scope
    owner: str
    lets: frozenset[str] = frozenset()
    aggregates: tuple[ast.Call, ...] = ()


@dataclass
class CheckedRuleset:
    raw: RawRuleset
    functions: dict[str, FunctionSpec]
    model: Ruleset | None = None
    schema: SchemaView | None = None
    lets: dict[str, ast.Node] = field(default_factory=dict)
    exprs: dict[Path, CheckedExpr] = field(default_factory=dict)
    let_types: dict[tuple[str, Scope], Type] = field(default_factory=dict)
    let_uses: dict[str, set[str]] = field(default_factory=dict)  # let -> lets it reads
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    variants: dict[str, CheckedRuleset] = field(default_factory=dict)  # variant name -> its whole ruleset, checked

    @property
    def source(self) -> SourceMap:
        return self.raw.source

    @property
    def sources(self) -> dict[str, str]:
        return self.raw.sources

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return self.model is not None and not self.errors

    @property
    def valid_model(self) -> Ruleset:
        """The validated model: the stages after validation run only when there is one."""
        if self.model is None:
            raise ValueError("the ruleset did not validate: it has no model")
        return self.model

    @property
    def valid_schema(self) -> SchemaView:
        """The schema's names and types, there from the schema stage on."""
        if self.schema is None:
            raise ValueError("the ruleset's schema has not been read")
        return self.schema

    def raise_for_errors(self) -> CheckedRuleset:
        if not self.ok:
            raise PunchcardError(self.errors or self.diagnostics, self.sources)
        return self

    def locator(self, path: Path) -> Locator:
        return self.source.value(path).locate
