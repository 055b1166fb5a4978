"""The public, in-process API (re-exported from ``punchcard``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from punchcard.dsl.check import CheckedRuleset, check_path, check_text, load_checked
from punchcard.dsl.model import Ruleset

__all__ = ["check", "check_text", "check_many", "load_checked", "ruleset_json_schema", "plugin_functions"]


def plugin_functions():
    """DSL functions contributed by plugins (empty until plugins are loaded)."""
    try:
        from punchcard.plugins.manager import get_plugin_manager
    except ImportError:  # plugins are optional for the language itself
        return []
    return get_plugin_manager().functions()


def check(path: str | os.PathLike) -> CheckedRuleset:
    """Load and check one ruleset file or folder; never raises for problems in it."""
    return check_path(path, plugin_functions())


def check_many(paths: Iterable[str | os.PathLike]) -> list[CheckedRuleset]:
    functions = plugin_functions()
    return [check_path(Path(p), functions) for p in paths]


def ruleset_json_schema() -> dict:
    schema = Ruleset.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "punchcard ruleset"
    return schema
