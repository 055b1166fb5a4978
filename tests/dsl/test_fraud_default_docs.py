"""Every document names the same default action for a fraud rule: the model's."""

from __future__ import annotations

import json
import re

from punchcard.dsl.model import FraudRule


def test_the_docs_and_the_schema_name_the_models_default(repo):
    default = FraudRule.model_fields["action"].default
    semantics = (repo / "docs" / "semantics.md").read_text(encoding="utf-8")
    section = semantics.split("## Fraud and compliance", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"`(\w+)` is the default", section) == [default]
    schema = json.loads((repo / "docs" / "ruleset.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["FraudRule"]["properties"]["action"]["default"] == default
    reference = (repo / "docs" / "ruleset-format.md").read_text(encoding="utf-8")
    assert f"| `action` | `block`, `review`, `allow` | `{default}` |" in reference
    assert default == "block"
