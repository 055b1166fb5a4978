"""What every command has in common: --version, completion, placeholders, --store, --format,
text from outside printed escaped, and sample-events writing what its name says (README.md,
"What is in the box")."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import typer
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

import punchcard
from punchcard import cli as cli_module
from punchcard.cli import app
from punchcard.engine.runtime.display import markup_safe, shown, shown_lines

ROOT = Path(__file__).resolve().parents[1]
COFFEE = ROOT / "rulesets/coffee-club.yaml"
RUNNER = CliRunner()
# An id that would recolour the terminal, set its title, forge a line, hide text and be read as markup.
HOSTILE = "m\x1b[31mred\x1b]0;pwned\x07\nforged line\r\x00\u202eevil\u2028[bold]x[/bold]"
UNSAFE = {"\x1b", "\x07", "\x00", "\r", "\u202e", "\u2028"}


def _commands(group=None, prefix: tuple = ()):
    group = group or typer.main.get_command(app)
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


ALL = list(_commands())
CONTEXT = typer.main.get_command(app).make_context("punchcard", ["--help"], resilient_parsing=True)
NUMBERS = {"<int>", "<int range>"}  # a number's type is its own placeholder


def _visible(command):
    return [p for p in command.params if not p.hidden and "--help" not in p.opts]


def test_version():
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"punchcard {punchcard.__version__}"


def test_shell_completion_is_offered():
    help_text = RUNNER.invoke(app, ["--help"]).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text
    # The shell is detected from the parent process, so the command runs under bash, as a user's would.
    punchcard_bin = Path(sys.executable).with_name("punchcard")
    # (bash would exec a lone command in place of itself; the trailing exit keeps bash as the parent)
    script = subprocess.run(["bash", "-c", f"'{punchcard_bin}' --show-completion; exit $?"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert script.returncode == 0 and "_PUNCHCARD_COMPLETE" in script.stdout, script.stderr


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_value_has_a_readable_placeholder(path, command):
    for param in _visible(command):
        if param.param_type_name == "argument":
            shown_as = param.display_name_raw
        elif param.is_flag or param.type_descriptor.is_choice:
            continue  # a flag takes no value; choices are listed
        else:
            shown_as = param.display_type_rich(CONTEXT)
        if shown_as in NUMBERS:
            continue
        assert shown_as.isupper() or "|" in shown_as, f"{' '.join(path)} {param.name}: {shown_as!r}"
        assert shown_as.strip("[].") not in ("TEXT", "PATH", "STR", "FILENAME")


@pytest.mark.parametrize("path,command", ALL, ids=[" ".join(p) for p, _ in ALL])
def test_a_store_is_always_named_by_store_url(path, command):
    for param in _visible(command):
        if "store" in param.name or param.name == "url":
            assert param.opts == ["--store"] and param.display_type_rich(CONTEXT) == "URL", path


def test_format_names_are_shared():
    names = {}
    for path, command in ALL:
        for param in command.params:
            if "--format" in param.opts:
                names[" ".join(path)] = set(param.display_type_rich(CONTEXT).strip("<>").split("|"))
    assert len(names) >= 10
    assert names["dry-run"] == names["demo"] == {"text", "json"}
    graph = names.pop("graph")
    assert graph == {"mermaid", "dot", "json"}  # renderings of a graph, not output styles
    assert set().union(*names.values()) <= {"text", "json", "jsonl"}, names


def _migrated(store_urls) -> str:
    return store_urls.new("sqlite")


def test_old_spellings_still_work_with_a_note(store_urls, tmp_path):
    url = _migrated(store_urls)
    audit = RUNNER.invoke(app, ["audit", url])
    assert audit.exit_code == 0 and "deprecated" in audit.stderr and "--store URL" in audit.stderr
    assert RUNNER.invoke(app, ["audit", "--store", url]).exit_code == 0
    current = RUNNER.invoke(app, ["db", "current", "--store", url])
    assert current.exit_code == 0 and "this punchcard needs" in current.stdout
    both = RUNNER.invoke(app, ["audit", url, "--store", url])
    assert both.exit_code == 2
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"type": "purchase", "id": "o-1", "member": "masha", "time": "2026-03-02T08:15:00",
                                  "amount": "150", "category": "coffee"}) + "\n")
    table = RUNNER.invoke(app, ["dry-run", str(COFFEE), "--events", str(events), "--format", "table",
                                "--no-progress"])
    assert table.exit_code == 0 and "--format text" in table.stderr and "Fired" in table.stdout


# -- text from outside is escaped ------------------------------------------------------
@given(st.text())
def test_shown_text_has_no_control_characters(text):
    out = shown(text)
    assert not any(unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs") for c in out)
    assert "\u202e" not in out
    if text.isprintable():
        assert out == text


@given(st.text(alphabet=st.sampled_from("\\[]/b a#@=")) | st.text())
@example("\\[")
@example("\\\\")
@example("[b]\\")
@example("\\\\[x")
def test_markup_safe_text_renders_as_itself(text):
    from rich.text import Text

    assert Text.from_markup(f"[bold]{markup_safe(text)}[/bold]", emoji=False).plain == shown(text)


@pytest.mark.parametrize("console_name", ["stdout", "stderr"])
def test_the_consoles_show_emoji_codes_as_written(console_name):
    console = getattr(cli_module, console_name)
    with console.capture() as captured:
        console.print(f"member [bold]{markup_safe(':cat: :smile:')}[/bold]")
    assert captured.get().strip() == "member :cat: :smile:"


_INVISIBLE = st.characters(whitelist_categories=("Cf", "Zl", "Zp", "Cc", "Co", "Cn"))


@given(st.text(), _INVISIBLE, st.text())
def test_shown_escapes_every_invisible_character(before, char, after):
    out = shown(before + char + after)
    assert char not in out
    assert not any(unicodedata.category(c) in ("Cf", "Cc", "Zl", "Zp", "Cs", "Co", "Cn") for c in out)


@pytest.mark.parametrize("char, escape", [("\u200b", "\\u200b"), ("\u2060", "\\u2060"), ("\ufeff", "\\ufeff"),
                                          ("\u00ad", "\\xad"), ("\u200d", "\\u200d"), ("\u3164", "\\u3164"),
                                          ("\U000e0001", "\\U000e0001")])
def test_shown_escapes_zero_width_and_format_characters(char, escape):
    assert shown(f"m{char}1") == f"m{escape}1"


def test_shown_lines_keeps_line_breaks_only():
    assert shown_lines("a\x1b[2J\nb\rc\td") == "a\\x1b[2J\nb\\rc\td"


def _assert_clean(output: str) -> None:
    assert not UNSAFE & set(output), repr(output)


# Ids may hold rich markup (the engine accepts them); other fields may hold raw control
# characters, which reach the output through trace values and rejection reasons.
MARKUP_ID = "m[bold]x[/bold]"
CATEGORY = "co\x1b[31mred\x1b]0;pwned\x07\nforged line\r\u202eevil\u2028ffee"  # NUL is rejected in any text


def _hostile_events(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.jsonl"
    rows = [{"type": "purchase", "id": "o-" + MARKUP_ID, "member": MARKUP_ID, "time": "2026-03-02T08:15:00",
             "amount": "150", "category": CATEGORY},
            {"type": "redeem", "id": "r-" + MARKUP_ID, "member": MARKUP_ID, "time": "2026-03-03T08:15:00",
             "points": "100000"},
            {"type": "purchase", "id": HOSTILE, "member": HOSTILE, "time": HOSTILE, "amount": "1"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_process_and_member_print_ids_escaped(store_urls, tmp_path):
    url = _migrated(store_urls)
    processed = RUNNER.invoke(app, ["process", str(COFFEE), "--store", url, "--events", str(_hostile_events(tmp_path))])
    _assert_clean(processed.stdout + processed.stderr)
    assert f"o-{MARKUP_ID}  {MARKUP_ID}  applied" in processed.stdout  # markup is printed, not applied
    shown_member = RUNNER.invoke(app, ["member", MARKUP_ID, "--store", url])
    assert shown_member.exit_code == 0, shown_member.output
    _assert_clean(shown_member.stdout + shown_member.stderr)
    assert f"member {MARKUP_ID}" in shown_member.stdout and f"r-{MARKUP_ID}" in shown_member.stdout
    missing = RUNNER.invoke(app, ["member", "no\x1b[2Jbody", "--store", url])
    assert missing.exit_code == 1 and "\x1b" not in missing.stderr and "\\x1b[2J" in missing.stderr


def test_explain_prints_values_escaped_and_markup_literally():
    event = json.dumps({"type": "purchase", "id": "o-" + MARKUP_ID, "member": MARKUP_ID, "time": "2026-03-02T08:15:00",
                        "amount": "150", "category": CATEGORY})
    result = RUNNER.invoke(app, ["explain", str(COFFEE), "--event", event])
    _assert_clean(result.stdout + result.stderr)
    assert f"o-{MARKUP_ID}" in result.stdout and "\\x1b[31mred" in result.stdout


def test_dry_run_prints_ids_and_bad_rows_escaped(tmp_path):
    events = _hostile_events(tmp_path)
    with events.open("a") as handle:
        handle.write('{"type": "purchase", "id": "bad", "member": "x", "time": "no\\u001b[31m\\u202e"}\n')
    result = RUNNER.invoke(app, ["dry-run", str(COFFEE), "--events", str(events), "--no-progress"])
    assert result.exit_code == 0, result.output
    _assert_clean(result.stdout + result.stderr)
    assert MARKUP_ID in result.stdout and "\\x1b[31m" in result.stdout


def test_test_prints_case_names_escaped(tmp_path):
    ruleset = tmp_path / "r.yaml"
    text = COFFEE.read_text().replace("name: weekday morning coffee earns double",
                                      'name: "[red]weekday\\e[2J\\u202e"').replace("points: 300", "points: 299")
    ruleset.write_text(text)
    result = RUNNER.invoke(app, ["test", str(ruleset)])
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "[red]weekday" in result.stdout


def test_sample_events_writes_to_standard_output_for_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = RUNNER.invoke(app, ["sample-events", "-o", "-", "--count", "30", "--members", "5"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 30 and not Path("-").exists()


@pytest.mark.parametrize("name", ["e.jsonl", "e.jsonl.gz", "e.csv", "e.csv.gz", "e.parquet"])
def test_sample_events_writes_the_format_its_name_says(tmp_path, name):
    from punchcard.engine.dryrun.formats import detect, read_rows

    path = tmp_path / name
    result = RUNNER.invoke(app, ["sample-events", "-o", str(path), "--count", "40", "--members", "6"])
    assert result.exit_code == 0, result.output
    head = path.read_bytes()[:4]
    assert (head == b"PAR1") == name.endswith(".parquet")
    assert (head[:2] == b"\x1f\x8b") == name.endswith(".gz")
    kind = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}[name.split(".")[1]]
    assert detect(path)[0] == kind
    rows = [row for _, row in read_rows(path)]
    assert len(rows) == 40 and all(isinstance(r, dict) for r in rows)
    reference = tmp_path / "reference.jsonl"
    RUNNER.invoke(app, ["sample-events", "-o", str(reference), "--count", "40", "--members", "6"])
    expected = [row for _, row in read_rows(reference)]
    assert [_text(r) for r in rows] == [_text(r) for r in expected]


@pytest.mark.parametrize("count, members", [(10, 2), (3, 1), (10, 2500), (25, 7)])
def test_sample_events_writes_as_many_events_as_asked(tmp_path, count, members):
    from punchcard.engine.dryrun.formats import read_rows

    path = tmp_path / "e.jsonl"
    result = RUNNER.invoke(app, ["sample-events", "--ruleset", str(COFFEE), "-o", str(path), "--count", str(count),
                                "--members", str(members)])
    assert result.exit_code == 0, result.output
    assert len(list(read_rows(path))) == count


@pytest.mark.parametrize("name", ["x.weird", "x.txt", "x.gz", "x"])
def test_sample_events_refuses_a_name_it_cannot_tell_the_format_of(tmp_path, name):
    result = RUNNER.invoke(app, ["sample-events", "-o", str(tmp_path / name), "--count", "5"])
    assert result.exit_code == 2, result.output
    assert all(suffix in result.stderr for suffix in (".jsonl", ".csv", ".parquet", ".gz"))
    assert not (tmp_path / name).exists()


def test_sample_events_says_what_parquet_needs(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if the "parquet" extra were not installed
    result = RUNNER.invoke(app, ["sample-events", "-o", str(tmp_path / "e.parquet"), "--count", "5"])
    assert result.exit_code == 2 and "pip install 'punchcard[parquet]'" in result.stderr


def _text(row: dict) -> dict:
    # every format carries the same values; CSV and Parquet hold them as text
    return {k: str(v) for k, v in row.items() if v not in (None, "")}


# -- the docs show the commands as they are --------------------------------------------
def _documented_commands():
    """Each ``punchcard ...`` command in the sh blocks of README.md and docs/, as tokens."""
    import re
    import shlex

    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```sh\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                for part in line.split("#")[0].split("|"):
                    tokens = shlex.split(part.replace("[", " ").replace("]", " "))
                    if tokens[:1] == ["punchcard"]:
                        yield doc.name, tokens[1:]


def test_documented_commands_and_options_exist():
    root = typer.main.get_command(app)
    seen = 0
    for doc, tokens in _documented_commands():
        command, rest = root, tokens
        while hasattr(command, "commands") and rest and rest[0] in command.commands:
            command, rest = command.commands[rest[0]], rest[1:]
        assert command is not root, f"{doc}: punchcard {' '.join(tokens)}"
        known = {o for p in command.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
        unknown = [t.split("=")[0] for t in rest if t.startswith("--") and t.split("=")[0] not in known]
        assert not unknown, f"{doc}: punchcard {' '.join(tokens)}: {unknown}"
        seen += 1
    assert seen >= 10
