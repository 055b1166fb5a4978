"""Compiling a ruleset's ``models:``: each model loaded once, through the scorer plugins.

A model that is missing, was changed after training, or reads features punchcard does not
define stops the compile with an error at its ``models:`` entry (docs/models.md): no live
decision ever meets it. So does a model that reads a feature this ruleset cannot give: the
member's tier without ``tiers:``, the streak without ``streaks:`` (a model trained with
``--ruleset`` reads both), an offer's features without ``offers:``. Without plugins handed
in, a ruleset with models does not compile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from punchcard.dsl.check import CheckedRuleset
from punchcard.dsl.errors import Code, Diagnostic
from punchcard.dsl.model import Ruleset
from punchcard.dsl.models import SEGMENT_MODEL, model_files, reads_segment

from ..policies.features import MEMBER_FEATURES, OFFER_FEATURES

__all__ = ["LoadsModels", "load_models"]

KNOWN = frozenset((*MEMBER_FEATURES, *OFFER_FEATURES))


@runtime_checkable
class LoadsModels(Protocol):
    """Plugins that load models (``punchcard.plugins.manager.Plugins`` is one)."""

    def scorers(self, models: dict[str, Path]) -> dict[str, Any]: ...


def load_models(checked: CheckedRuleset, plugins: object) -> tuple[dict[str, Any], list[Diagnostic]]:
    """(model name -> scorer, the problems) for the ruleset's models: section."""
    model = checked.valid_model
    files = model_files(model, checked.raw.path)
    if not files:
        return {}, []
    first = checked.source.value(("models", next(iter(files)))).span
    if not isinstance(plugins, LoadsModels):
        return {}, [Diagnostic(Code.NOT_FOUND, "this ruleset names models, and no scorer plugins were handed in "
                               "to load them", first, hint="compile with punchcard.compile(), which hands in the "
                               "installed plugins, or pass plugins=")]
    try:
        scorers = plugins.scorers(files)
    except ValueError as exc:  # the plugin's words: it names the model and the file, never its content
        return {}, [Diagnostic(Code.SCHEMA_ERROR, f"the models could not be loaded: {exc}", first,
                               hint="train the model again (punchcard model train), or restore its file")]
    problems = []
    segments = scorers.get(SEGMENT_MODEL)
    if reads_segment(checked) and segments is not None and not callable(getattr(segments, "segments_of", None)):
        problems.append(Diagnostic(Code.SCHEMA_ERROR, f"model {SEGMENT_MODEL!r} is not a segments model, and "
                                   "member.segment reads it", checked.source.value(("models", SEGMENT_MODEL)).span,
                                   hint="train it with punchcard model train --target segments"))
    for name, scorer in scorers.items():
        problems.extend(_feature_problems(checked, name, tuple(scorer.features)))
    return scorers, problems


def _feature_problems(checked: CheckedRuleset, name: str, reads: tuple[str, ...]) -> list[Diagnostic]:
    """A model's features that punchcard does not define, or this ruleset cannot give."""
    span = checked.source.value(("models", name)).span
    unknown = sorted(set(reads) - KNOWN)
    if unknown:
        return [Diagnostic(Code.SCHEMA_ERROR, f"model {name!r} reads features punchcard does not define: "
                           f"{', '.join(unknown[:5])}", span, hint="train it again with this version of punchcard")]
    return [Diagnostic(Code.SCHEMA_ERROR, f"model {name!r} reads the {feature}, and this ruleset has no {section} "
                       "section to give it", span, hint=hint)
            for feature, (section, hint) in _missing(checked.valid_model, reads).items()]


def _missing(model: Ruleset, reads: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """What the model reads that needs a section this ruleset lacks: feature -> (section, hint)."""
    wanted = set(reads)
    retrain = ("or name a model trained with a --ruleset that has {0} too, or trained without --ruleset "
               "(which leaves the tier and streak out)")
    out = {}
    if "tier" in wanted and model.tiers is None:
        out["member's tier"] = ("tiers:", "add tiers:, " + retrain.format("tiers:"))
    if "streak" in wanted and not model.streaks:
        out["member's streak"] = ("streaks:", "add streaks:, " + retrain.format("streaks:"))
    if wanted & set(OFFER_FEATURES) and model.offers is None:
        out["offer's features"] = ("offers:", "an engagement model scores offers: name it in a ruleset with offers:")
    return out
