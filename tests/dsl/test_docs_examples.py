"""Every example in docs/*.md is tested, so the documentation cannot drift from the code.

Conventions (also described in docs/ruleset-format.md, "Examples in these docs"):

* a fenced ``yaml`` block whose first line that is not a comment is ``punchcard: 1`` is a
  complete ruleset and must check with no errors;
* a ``yaml bad`` block names the code it must produce on its first line, ``# expect: CODE``;
  when it is not a complete ruleset it is checked after :data:`EXAMPLE_HEADER`. It is
  checked as ``ruleset.yaml`` in an empty folder, and a ``text`` block right after it that
  starts with ``ruleset.yaml:`` must be exactly the rendered diagnostics;
* each line of a ``punchcard-expr`` block is one expression that must parse;
* a ``lark`` block must be the grammar file itself.

New documents in docs/ are picked up automatically.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from punchcard.api import plugin_functions
from punchcard.dsl.check import check_path, check_text
from punchcard.dsl.errors import Code, render_all
from punchcard.dsl.parser import parse_expression
from punchcard.grammar import grammar_text

DOCS = Path(__file__).resolve().parents[2] / "docs"

EXAMPLE_HEADER = """\
punchcard: 1
ruleset: example
version: 1.0.0
rounding: {mode: floor, scope: event, step: 1}
schema:
  member: {birth_date: optional date}
  events:
    purchase: {amount: money, category: string, channel: optional string}
"""

_FENCE = re.compile(r"^(?P<indent> *)```(?P<info>[^`\n]*)\n(?P<body>.*?)^(?P=indent)``` *$", re.M | re.S)
_EXPECT = re.compile(r"^# expect: (\w+)\s*$")


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    info: tuple[str, ...]
    body: str
    end: int  # offset just after the closing fence

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def is_complete_ruleset(self) -> bool:
        lines = [ln.strip() for ln in self.body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        return bool(lines) and lines[0] == "punchcard: 1"


def blocks_of(doc: str, text: str) -> list[Block]:
    """The fenced blocks of a markdown text, dedented when they sit inside a list item."""
    found = []
    for match in _FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] if line.startswith(" " * indent) else line
                       for line in match["body"].splitlines(keepends=True))
        found.append(Block(doc, text.count("\n", 0, match.start()) + 1, tuple(match["info"].split()),
                           body, match.end()))
    return found


def all_blocks() -> list[Block]:
    return [b for path in sorted(DOCS.glob("*.md")) for b in blocks_of(path.name, path.read_text(encoding="utf-8"))]


def select(*info: str) -> list[Block]:
    return [b for b in all_blocks() if b.info == info]


def output_after(block: Block) -> str | None:
    """The text block directly after ``block`` that shows its output, if there is one."""
    text = (DOCS / block.doc).read_text(encoding="utf-8")
    following = [b for b in blocks_of(block.doc, text) if b.line > block.line]
    if not following or following[0].info != ("text",):
        return None
    between = text[block.end:text.index("```", block.end + 1)]
    if between.strip() or not following[0].body.startswith("ruleset.yaml:"):
        return None
    return following[0].body


COMPLETE = [b for b in select("yaml") if b.is_complete_ruleset]
BAD = select("yaml", "bad")
EXPRESSIONS = select("punchcard-expr")


@pytest.mark.parametrize("block", COMPLETE, ids=lambda b: b.where)
def test_complete_rulesets_in_the_docs_check_clean(block):
    result = check_text(block.body, block.where, plugin_functions())
    assert result.errors == [], render_all(result.errors, result.sources)


def check_bad_example(block: Block, folder: Path, monkeypatch):
    lines = block.body.splitlines(keepends=True)
    match = _EXPECT.match(lines[0]) if lines else None
    assert match, f"{block.where}: a `yaml bad` block starts with `# expect: <code>`"
    code = Code(match[1])
    text = block.body if block.is_complete_ruleset else EXAMPLE_HEADER + block.body
    (folder / "ruleset.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(folder)
    return code, check_path("ruleset.yaml", plugin_functions())


@pytest.mark.parametrize("block", BAD, ids=lambda b: b.where)
def test_bad_examples_produce_their_error(block, tmp_path, monkeypatch):
    code, result = check_bad_example(block, tmp_path, monkeypatch)
    assert code in [d.code for d in result.diagnostics], render_all(result.diagnostics, result.sources)
    shown = output_after(block)
    if shown is not None:
        assert block.is_complete_ruleset, f"{block.where}: output is shown only for complete rulesets"
        assert shown.rstrip("\n") == render_all(result.diagnostics, result.sources)


@pytest.mark.parametrize("block", EXPRESSIONS, ids=lambda b: b.where)
def test_expression_examples_parse(block):
    lines = [ln for ln in block.body.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines
    for line in lines:
        parse_expression(line)


@pytest.mark.parametrize("block", select("lark"), ids=lambda b: b.where)
def test_grammar_in_the_docs_is_the_grammar(block):
    assert block.body == grammar_text()


def test_the_docs_have_examples_of_each_kind():
    # guards the collector: a broken pattern must not make every test above vacuous
    assert len(COMPLETE) >= 3 and len(BAD) >= 15 and len(EXPRESSIONS) >= 5
    assert any(b.doc == "expressions.md" for b in select("lark"))


def test_the_collector_reads_indented_and_labelled_fences():
    text = textwrap.dedent("""\
        intro
        ```yaml bad
        # expect: type_error
        a: 1
        ```

        * item

          ```punchcard-expr
          1 + 1
          ```
        """)
    blocks = blocks_of("x.md", text)
    assert [(b.line, b.info, b.body) for b in blocks] == [
        (2, ("yaml", "bad"), "# expect: type_error\na: 1\n"), (9, ("punchcard-expr",), "1 + 1\n")]


def test_a_wrong_expectation_is_caught(tmp_path, monkeypatch):
    block = Block("x.md", 1, ("yaml", "bad"), "# expect: cycle_error\nlet: {a: 1}\n", 0)
    code, result = check_bad_example(block, tmp_path, monkeypatch)
    assert code is Code.CYCLE_ERROR and code not in [d.code for d in result.diagnostics]
