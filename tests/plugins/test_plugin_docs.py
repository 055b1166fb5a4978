"""docs/plugins.md documents every hook, and its examples are real, valid plugins."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from decimal import Decimal
from pathlib import Path

import pluggy
import pytest

from punchcard.dsl.functions import FunctionSpec
from punchcard.engine.runtime.message import CHANNELS, Draft, MessageRequest
from punchcard.plugins import hookspecs
from punchcard.plugins.manager import Plugins

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def hookspec_functions() -> dict[str, object]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if callable(fn) and hasattr(fn, "punchcard_spec")}


def python_blocks(text: str) -> list[str]:
    return PYTHON_BLOCK.findall(text)


def undocumented_hooks(text: str) -> list[str]:
    """Hooks without a heading showing their exact signature, or without an example."""
    examples = "\n".join(python_blocks(text))
    missing = []
    for name, fn in hookspec_functions().items():
        signature = f"{name}({', '.join(inspect.signature(fn).parameters)})"
        heading = re.search(rf"^#+ `{re.escape(signature)}`\s*$", text, re.MULTILINE)
        example = re.search(rf"@hookimpl\s*\ndef {name}\(", examples)
        if not (heading and example):
            missing.append(name)
    return missing


def test_hookspecs_are_found():
    assert set(hookspec_functions()) >= {"punchcard_open_store", "punchcard_functions", "punchcard_scorers",
                                         "punchcard_messengers", "punchcard_decision_committed"}


def test_every_hookspec_has_a_docstring():
    for name, fn in hookspec_functions().items():
        doc = fn.__doc__ or ""
        assert "Called" in doc and ":returns:" in doc, name


def test_every_hook_is_documented_with_an_example():
    assert undocumented_hooks(DOC.read_text()) == []


def test_a_hook_missing_from_the_docs_is_reported():
    text = DOC.read_text().replace("### `punchcard_scorers(models)`", "### scorers")
    assert undocumented_hooks(text) == ["punchcard_scorers"]


EXAMPLES = python_blocks(DOC.read_text())


def test_the_docs_have_one_example_per_hook_at_least():
    assert len(EXAMPLES) >= len(hookspec_functions())


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_docs_example_registers_against_the_real_hookspecs(index, bare_pm, make_module):
    module = make_module(f"docs_example_{index}", EXAMPLES[index])
    bare_pm.register(module, name=f"example{index}")
    bare_pm.check_pending()
    hooks = [caller.name for caller in bare_pm.get_hookcallers(module)]
    assert hooks, "the example implements no hook"
    _exercise(Plugins(bare_pm), hooks)


SAMPLE_REQUEST = MessageRequest(
    "e-1:points", "masha", "e-1", "coffee@1.0.0", "points", "earn", "push", "en",
    dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), {"first_name": "Masha", "points": Decimal(300)},
    "{first_name}, {points} points are yours.")


def _exercise(plugins: Plugins, hooks: list[str]) -> None:
    """Run what each example implements through the wrapper, as the engine would."""
    if "punchcard_functions" in hooks:
        assert plugins.functions() and all(isinstance(s, FunctionSpec) for s in plugins.functions())
    if "punchcard_scorers" in hooks:
        for scorer in plugins.scorers({"lapse": Path("lapse.lapse")}).values():
            assert [Decimal(0) <= v <= Decimal(1) for v in scorer.score_many([{"recency_days": Decimal(45)}])] == [True]
    if "punchcard_messengers" in hooks:
        for messenger in plugins.messengers().values():
            draft = messenger.compose(SAMPLE_REQUEST)
            assert isinstance(draft, Draft) and draft.text and draft.messenger == messenger.name
    if "punchcard_deliveries" in hooks:
        for channel, delivery in plugins.deliveries().items():
            assert channel in CHANNELS
            delivery.deliver({"id": "m-1", "member_id": "masha", "channel": channel, "locale": "en",
                              "text": "Masha, 300 points are yours."})
    if "punchcard_open_store" in hooks:
        assert plugins.pm.hook.punchcard_open_store(url="nobody-knows://x", create=True, migrating=False) is None
    if "punchcard_decision_committed" in hooks:
        plugins.decision_committed(object())
    if "punchcard_store_retried" in hooks:
        plugins.store_retried("transient", 2)


def test_a_misspelled_hook_fails_validation(bare_pm, make_module):
    module = make_module("typo_plugin", """
        from punchcard.plugins import hookimpl

        @hookimpl
        def punchcard_functoins():
            return []
    """)
    bare_pm.register(module)
    with pytest.raises(pluggy.PluginValidationError, match="punchcard_functoins"):
        bare_pm.check_pending()


def test_wrong_hook_arguments_fail_registration(bare_pm, make_module):
    module = make_module("bad_args_plugin", """
        from punchcard.plugins import hookimpl

        @hookimpl
        def punchcard_open_store(uri):
            return None
    """)
    with pytest.raises(pluggy.PluginValidationError, match="uri"):
        bare_pm.register(module)
