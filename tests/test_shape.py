"""The shape of the code, checked on every run: what may import what, and how big things get.

Every module of the folders named in pyproject's ``package-dir`` (dsl/, engine/, plugins/, the
front door punchcard/, and grammar/ and rulesets/) is read with ``ast``, nothing imported, its path
mapped to a dotted name as ``package-dir`` does. An import of a package's submodule is an edge to
that submodule only, not to the package's __init__. The rules:

- no import cycles among these modules (imports under ``if TYPE_CHECKING:`` and imports inside
  functions are edges too; a cycle only hidden that way is still a cycle);
- no upward imports: ``LAYERS`` below, lowest first, is the layering of the code; a module may
  import modules of its own layer or lower ones only;
- no imports inside functions, except those deferring a heavy optional dependency (``DEFERRED``);
- modules shorter than ``MODULE_LINES`` lines, functions shorter than ``FUNCTION_LINES`` lines of
  code in their body (docstring, blank lines and comment-only lines not counted).

Today's offenders are listed, with their sizes, in tests/shape_allowlist.json. The list is a
ratchet: the tests fail when an offender grows, when a new one appears, and when a listed one is
no longer an offender (remove it from the allowlist), so the list only shrinks. After fixing
offenders, or after deliberately accepting a new one, regenerate the list with

    .venv/bin/python tests/test_shape.py --update

and review its diff.
"""

from __future__ import annotations

import ast
import itertools
import json
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = Path(__file__).with_name("shape_allowlist.json")

# The layering, lowest first. A name ending in ".*" stands for that package and every module in
# it; any other name for that one module only (so a package's __init__ can sit above its own
# submodules, as punchcard.engine's re-exports do). Every module must match an entry.
LAYERS: list[tuple[str, ...]] = [
    ("punchcard.grammar", "punchcard.rulesets"),  # data: the grammar file, the bundled rulesets
    ("punchcard.dsl.*",),  # the ruleset language: parse, check, model; knows nothing of the engine
    ("punchcard.engine.program",),  # the compiled program as plain data
    ("punchcard.engine.runtime.*", "punchcard.engine.hooks"),  # numbers, events, decisions, state
    ("punchcard.engine.policies.*",),  # earning, caps and budgets, tiers, streaks, the lot lifecycle
    ("punchcard.engine.housekeeping",),  # each policy's upkeep, in order, and the next due instant
    ("punchcard.engine.evaluate",),  # one event: housekeeping, then its phases, each run by its policy
    ("punchcard.engine.compiler.*",),  # ruleset -> program, the walks generated from evaluate's phase table
    ("punchcard.engine.engine", "punchcard.engine.answers", "punchcard.engine.store", "punchcard.engine.outbox",
     "punchcard.engine.store_deployments", "punchcard.engine"),
    ("punchcard.engine.dryrun.*", "punchcard.engine.testing", "punchcard.engine.explain",
     "punchcard.engine.messaging.*"),  # what runs on the engine: the dry-run, tests, composing and sending messages
    ("punchcard.plugins.*",),  # stores and extra functions, found through pluggy
    (  # the front door: the public API and the command line
        "punchcard",
        "punchcard.api",
        "punchcard.cli",
        "punchcard.commands.*",
        "punchcard.discovery",
        "punchcard.service.*",
    ),
]

# Imports allowed inside functions: deferring these keeps `import punchcard` and the command
# line fast, and lets an optional extra be missing. A punchcard package listed here is a
# deferral only when imported from outside it.
DEFERRED: dict[str, str] = {
    "dask": "the dask extra",
    "distributed": "the dask extra",
    "pyarrow": "the parquet extra",
    "sqlalchemy": "start-up time; listing plugins must not load it (tests/storage/test_store_plugin.py)",
    "alembic": "start-up time, as SQLAlchemy",
    "psycopg": "start-up time, as SQLAlchemy",
    "sklearn": "start-up time: only training and a ruleset's models load scikit-learn",
    "skops": "start-up time, as scikit-learn",
    "numpy": "start-up time, as scikit-learn",
    "punchcard.plugins.sql": "loads SQLAlchemy, alembic and psycopg",
    "anthropic": "start-up time: only composing a message with a model loads the SDK",
    "lingua": "start-up time and memory: only the language guardrail loads its models",
    "punchcard.service": "start-up time: loads FastAPI, uvicorn and httpx; only serve and webhooks need it",
    "fastapi": "start-up time, as punchcard.service",
    "uvicorn": "start-up time, as punchcard.service",
    "httpx": "start-up time, as punchcard.service",
}

MODULE_LINES = 400
FUNCTION_LINES = 30


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    text: str
    tree: ast.Module


@dataclass(frozen=True)
class Import:
    """``import module`` or ``from module import name``, ``module`` made absolute."""

    source: str
    module: str
    name: str | None
    function: str | None  # qualified name of the enclosing function, if any
    type_checking: bool


def read_modules(root: Path = ROOT) -> dict[str, Module]:
    """Every module of every folder in pyproject's [tool.setuptools.package-dir], by dotted name."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    by_dir = {folder: package for package, folder in config["tool"]["setuptools"]["package-dir"].items()}
    modules: dict[str, Module] = {}
    for folder, package in by_dir.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            name = ".".join([package, *parts])
            text = path.read_text(encoding="utf-8")
            modules[name] = Module(name, path, text, ast.parse(text, str(path)))
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return ast.unparse(test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package.pop()
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports_of(module: Module, node: ast.AST, function: str | None, scope: str, tc: bool) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(module.name, alias.name, None, function, tc)
    elif isinstance(node, ast.ImportFrom):
        base = _absolute(module, node)
        for alias in node.names:
            yield Import(module.name, base, alias.name, function, tc)
    elif isinstance(node, ast.If) and _is_type_checking(node.test):
        for child in node.body:
            yield from _imports_of(module, child, function, scope, True)
        for child in node.orelse:
            yield from _imports_of(module, child, function, scope, tc)
    else:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            scope = f"{scope}.{node.name}" if scope else node.name
            if not isinstance(node, ast.ClassDef):
                function = scope
        for inner in ast.iter_child_nodes(node):
            yield from _imports_of(module, inner, function, scope, tc)


def all_imports(modules: dict[str, Module]) -> list[Import]:
    return [imp for module in modules.values() for imp in _imports_of(module, module.tree, None, "", False)]


def resolve(imp: Import, modules: dict[str, Module]) -> str | None:
    """The punchcard module an import is for: ``from a import b`` may import module ``a.b``, or name b of ``a``."""
    if imp.name and f"{imp.module}.{imp.name}" in modules:
        return f"{imp.module}.{imp.name}"
    return imp.module if imp.module in modules else None


def import_graph(modules: dict[str, Module]) -> nx.DiGraph:
    """Module -> module edges; each edge's ``kinds`` says how it is imported (top, function, type-checking)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for imp in all_imports(modules):
        target = resolve(imp, modules)
        if target is None or target == imp.source:
            continue
        kind = "type-checking" if imp.type_checking else "function" if imp.function else "top"
        if not graph.has_edge(imp.source, target):
            graph.add_edge(imp.source, target, kinds=set())
        graph.edges[imp.source, target]["kinds"].add(kind)
    return graph


def runtime_edges(graph: nx.DiGraph) -> list[tuple[str, str]]:
    """Edges imported at run time: not only under ``if TYPE_CHECKING:``."""
    return [(a, b) for a, b, kinds in graph.edges(data="kinds") if kinds != {"type-checking"}]


def edge_key(source: str, target: str) -> str:
    return f"{source} -> {target}"


def cycle_offenders(graph: nx.DiGraph) -> dict[str, None]:
    """Every import edge that lies on a cycle (both ends in one strongly connected component)."""
    component = {}
    for index, members in enumerate(nx.strongly_connected_components(graph)):
        for member in members:
            component[member] = index
    return {edge_key(a, b): None for a, b in sorted(graph.edges) if component[a] == component[b]}


def describe_cycle_edge(graph: nx.DiGraph, key: str) -> str:
    source, target = key.split(" -> ")
    path = [source, *nx.shortest_path(graph, target, source)]
    steps = [f"{a} -> {b}{_kind_note(graph, a, b)}" for a, b in itertools.pairwise(path)]
    return "cycle: " + ",  ".join(steps)


def _kind_note(graph: nx.DiGraph, a: str, b: str) -> str:
    kinds = graph.edges[a, b]["kinds"]
    return "" if kinds == {"top"} else f" [{', '.join(sorted(kinds))}]"


def layer_of(name: str) -> int | None:
    """Index in LAYERS of the most specific entry matching ``name``."""
    best: tuple[int, int] | None = None  # (specificity, layer)
    for layer, entries in enumerate(LAYERS):
        for entry in entries:
            whole = entry.endswith(".*")  # an exact name is more specific than its package's ".*"
            matches = _within(name, entry[:-2]) if whole else name == entry
            specificity = entry.count(".") * 2 - (2 if whole else -1)
            if matches and (best is None or specificity > best[0]):
                best = (specificity, layer)
    return None if best is None else best[1]


def upward_offenders(graph: nx.DiGraph) -> dict[str, None]:
    found: dict[str, None] = {}
    for source, target in sorted(graph.edges):
        low, high = layer_of(source), layer_of(target)
        if low is not None and high is not None and high > low:
            found[edge_key(source, target)] = None
    return found


def describe_upward_edge(graph: nx.DiGraph, key: str) -> str:
    source, target = key.split(" -> ")
    return f"layer {layer_of(source)} imports layer {layer_of(target)}{_kind_note(graph, source, target)}"


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def is_deferral(imp: Import) -> bool:
    return any(_within(imp.module, name) and not _within(imp.source, name) for name in DEFERRED)


def function_import_offenders(modules: dict[str, Module]) -> dict[str, None]:
    found: dict[str, None] = {}
    for imp in all_imports(modules):
        if imp.function and not is_deferral(imp):
            target = resolve(imp, modules) or imp.module
            found[f"{imp.source}:{imp.function} imports {target}"] = None
    return dict(sorted(found.items()))


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, source_lines: list[str]) -> int:
    """Lines of code in the body: no docstring, blank lines or comment-only lines."""
    body = node.body[1:] if ast.get_docstring(node, clean=False) is not None else node.body
    if not body:
        return 0
    span = source_lines[body[0].lineno - 1 : node.end_lineno]
    return sum(1 for line in span if line.strip() and not line.strip().startswith("#"))


def _functions(node: ast.AST, scope: str) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name = f"{scope}.{child.name}" if scope else child.name
            if not isinstance(child, ast.ClassDef):
                yield name, child
            yield from _functions(child, name)
        else:
            yield from _functions(child, scope)


def long_function_offenders(modules: dict[str, Module]) -> dict[str, int]:
    found: dict[str, int] = {}
    for module in modules.values():
        source_lines = module.text.splitlines()
        for name, node in _functions(module.tree, ""):
            size = body_lines(node, source_lines)
            key = f"{module.name}:{name}"
            if size >= FUNCTION_LINES:  # a property's getter and setter share a name: keep the larger
                found[key] = max(size, found.get(key, 0))
    return dict(sorted(found.items()))


def long_module_offenders(modules: dict[str, Module]) -> dict[str, int]:
    sizes = {name: len(module.text.splitlines()) for name, module in sorted(modules.items())}
    return {name: size for name, size in sizes.items() if size >= MODULE_LINES}


Offenders = Mapping[str, int | None]  # offender -> its size, or None where there is no size


def current_offenders() -> dict[str, Offenders]:
    modules = read_modules()
    graph = import_graph(modules)
    return {
        "import_cycles": cycle_offenders(graph),
        "upward_imports": upward_offenders(graph),
        "function_imports": function_import_offenders(modules),
        "long_modules": long_module_offenders(modules),
        "long_functions": long_function_offenders(modules),
    }


SIZED = ("long_modules", "long_functions")  # sections stored with sizes; the others are plain lists


def load_allowlist() -> dict[str, Offenders]:
    raw = json.loads(ALLOWLIST.read_text()) if ALLOWLIST.exists() else {}
    return {section: dict.fromkeys(v) if isinstance(v, list) else v for section, v in raw.items()}


def write_allowlist(offenders: dict[str, Offenders]) -> None:
    raw = {section: found if section in SIZED else list(found) for section, found in offenders.items()}
    ALLOWLIST.write_text(json.dumps(raw, indent=2) + "\n")


def ratchet(
    section: str,
    current: Offenders,
    describe: Callable[[str], str] = lambda key: "",
    allowed: Offenders | None = None,
) -> dict[str, str]:
    """Offender -> problem, against the allowlist's ``section``: new, grown, or fixed but still listed."""
    allowed = load_allowlist().get(section, {}) if allowed is None else allowed
    problems = {}
    for key, size in current.items():
        detail = describe(key)
        if key not in allowed:
            problems[key] = f"new: {key}{'' if size is None else f' ({size} lines)'}{f'  ({detail})' if detail else ''}"
        elif size is not None and size > (allowed[key] or 0):
            problems[key] = f"grew: {key} is {size} lines, the allowlist has {allowed[key]}"
    for key in allowed:
        if key not in current:
            problems[key] = f"fixed: {key} is no longer an offender; remove it from the allowlist"
    return problems


def fail_on(problems: list[str], what: str) -> None:
    if problems:
        script = Path(__file__).relative_to(ROOT)
        hint = f"fix the code; once only fixed or deliberate entries differ, run `.venv/bin/python {script} --update`"
        raise AssertionError(f"{what} ({len(problems)}); {hint}:\n  " + "\n  ".join(problems))


def test_every_module_has_a_layer() -> None:
    missing = [name for name in read_modules() if layer_of(name) is None]
    assert not missing, f"add these modules to LAYERS in {Path(__file__).name}: {missing}"


def test_no_new_import_cycles() -> None:
    graph = import_graph(read_modules())
    problems = ratchet("import_cycles", cycle_offenders(graph), lambda key: describe_cycle_edge(graph, key))
    # Cycles that close only through imports under `if TYPE_CHECKING:` are listed apart: they are
    # fixed by moving a type, not code.
    at_run_time = cycle_offenders(graph.edge_subgraph(runtime_edges(graph)))
    late = [problem for key, problem in problems.items() if key not in at_run_time]
    listed = [problem for key, problem in problems.items() if key in at_run_time]
    if late:
        listed += ["-- cycles only through imports under `if TYPE_CHECKING:` --", *late]
    fail_on(listed, "import cycles")


def test_no_upward_imports() -> None:
    graph = import_graph(read_modules())
    fail_on(
        list(ratchet("upward_imports", upward_offenders(graph), lambda key: describe_upward_edge(graph, key)).values()),
        "imports of a higher layer (see LAYERS)",
    )


@pytest.mark.parametrize(
    ("section", "check", "what"),
    [
        ("function_imports", function_import_offenders, "imports inside functions deferring nothing in DEFERRED"),
        ("long_modules", long_module_offenders, f"modules of {MODULE_LINES} lines or more"),
        ("long_functions", long_function_offenders, f"functions of {FUNCTION_LINES} body lines or more"),
    ],
)
def test_no_new_offenders(section: str, check: Callable[[dict[str, Module]], Offenders], what: str) -> None:
    fail_on(list(ratchet(section, check(read_modules())).values()), what)


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    clock_text = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ...dsl import words\n"
        'def now():\n    """Docstring."""\n    import pyarrow\n    from . import helpers\n\n    # why\n'
    ) + "    x = 1\n" * (FUNCTION_LINES - 2)
    files = {
        "pyproject.toml": '[tool.setuptools.package-dir]\n"punchcard.dsl" = "dsl"\n"punchcard.engine" = "engine"\n',
        "dsl/__init__.py": "",
        "dsl/words.py": "from punchcard.engine.runtime import clock\n",
        "engine/__init__.py": "",
        "engine/runtime/__init__.py": "",
        "engine/runtime/helpers.py": "x = 1\n" * MODULE_LINES,
        "engine/runtime/clock.py": clock_text,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    modules = read_modules(tmp_path)
    graph = import_graph(modules)
    words, clock = "punchcard.dsl.words", "punchcard.engine.runtime.clock"
    assert set(cycle_offenders(graph)) == {edge_key(words, clock), edge_key(clock, words)}
    assert graph.edges[clock, words]["kinds"] == {"type-checking"}
    assert not cycle_offenders(graph.edge_subgraph(runtime_edges(graph)))
    assert set(upward_offenders(graph)) == {edge_key(words, clock)}
    assert set(function_import_offenders(modules)) == {f"{clock}:now imports punchcard.engine.runtime.helpers"}
    assert long_function_offenders(modules) == {f"{clock}:now": FUNCTION_LINES}
    assert long_module_offenders(modules) == {"punchcard.engine.runtime.helpers": MODULE_LINES}


def test_the_allowlist_only_shrinks() -> None:
    allowed = {"grown": 40, "shrunk": 40, "fixed": None, "same": None}
    current = {"grown": 41, "shrunk": 39, "same": None, "new": None}
    problems = ratchet("any", current, allowed=allowed)
    assert sorted(problems) == ["fixed", "grown", "new"]
    assert "remove it from the allowlist" in problems["fixed"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: python {sys.argv[0]} --update   (rewrites {ALLOWLIST.name} from the tree as it is)")
    offenders = current_offenders()
    write_allowlist(offenders)
    counts = ", ".join(f"{section} {len(found)}" for section, found in offenders.items())
    print(f"wrote {ALLOWLIST.relative_to(ROOT)}: {counts}")
