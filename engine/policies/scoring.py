"""``score("NAME")`` in the engine: a member's features, scored by the models a ruleset names.

Compiling loads each model of the ruleset's ``models:`` section through the scorer plugins
(``Compiled.scorers``, model name -> scorer); a ruleset whose models do not load does not
compile, so no live decision ever meets a missing model. While an event is decided, the profile
phase (:func:`.profile.on_event`) hands the expressions a :class:`MemberScores`: the member's
features are read once (:func:`.features.features`, the definition training used), each model
scores them once, and each score is a trace line naming the model and its version. The
decision is stamped with the models it used (:func:`models_used`).

Code that evaluates expressions outside an event's walk (choosing offers, re-pricing an order
for a refund) gives its own context a ``MemberScores(compiled, state, now, offer=...)``: the
offer's fields (``type``, ``category``, ``value``) add the offer features.

Every call into a model goes through :func:`model_scores`. The dry-run replays many members
side by side and scores their rows together (engine/dryrun/batch.py): it sets a batch for the
replaying thread (:func:`scoring_in_batches`), and the rows join it rather than calling the
model one member at a time. A model scores each row on its own, so a row's score is the same
in any batch, and the decisions are the same either way. A scorer whose rows cost the same
alone as in a batch says so (``batches = False``, :func:`batch_pays`), and is called at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import Any, Protocol

from punchcard.dsl.checker import SEGMENT, SEGMENT_MODEL

from ..program import Compiled, Plan
from ..runtime.decision import Step
from ..runtime.run import Run
from ..runtime.state import MemberState
from . import profile
from .features import member_features, offer_features
from .profile import profile_of

__all__ = ["ModelScorer", "MemberScores", "on_event", "reads_segment", "member_scores", "models_used", "score_rows",
           "Batch", "batch_pays", "model_scores", "scoring_in_batches"]

ONE, ZERO = Decimal(1), Decimal(0)


class ModelScorer(Protocol):
    """A loaded model, as :class:`punchcard.plugins.protocols.Scorer` describes it."""

    name: str
    version: str
    features: Sequence[str]

    def score_many(self, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]: ...


# (scorer, rows) -> the model's scores of the rows, as ``scorer.score_many(rows)`` gives them
Batch = Callable[[ModelScorer, Sequence[Mapping[str, Decimal]]], list[Decimal]]
# per thread (each thread starts with a context of its own): the batch its rows join, if any
_BATCH: ContextVar[Batch | None] = ContextVar("punchcard_score_batch", default=None)


def scoring_in_batches(batch: Batch | None) -> None:
    """From now on, this thread's rows are scored by ``batch`` (None: by the model, at once)."""
    _BATCH.set(batch)


def batch_pays(scorer: object) -> bool:
    """Does the scorer gain from scoring many rows in one call? Yes, unless it says otherwise
    (an optional ``batches`` attribute: a model scored as plain arithmetic gains nothing, and
    waiting for a batch costs a thread's turn)."""
    return bool(getattr(scorer, "batches", True))


def model_scores(scorer: ModelScorer, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
    """The model's scores of ``rows``, each held to [0, 1]: from one call, or from the batch
    this thread's rows join (the dry-run's)."""
    batch = _BATCH.get()
    raw = batch(scorer, rows) if batch is not None and batch_pays(scorer) else scorer.score_many(rows)
    return [min(max(value, ZERO), ONE) for value in raw]


class MemberScores:
    """What ``score("NAME")`` calls for one member at one moment (optionally about one offer)."""

    __slots__ = ("_row", "compiled", "now", "offer", "scores", "state", "trace", "used")

    def __init__(self, compiled: Compiled, state: MemberState, now: dt.datetime, trace: list[Step] | None = None,
                 offer: Mapping[str, Any] | None = None) -> None:
        self.compiled, self.state, self.now, self.trace, self.offer = compiled, state, now, trace, offer
        self._row: dict[str, Decimal] | None = None
        self.scores: dict[str, Decimal] = {}
        self.used: dict[str, str] = {}  # model name -> version, for the decision's stamp

    def row(self) -> dict[str, Decimal]:
        """The member's features (and the offer's, when there is one), read once."""
        if self._row is None:
            profile = profile_of(self.state)
            self._row = member_features(self.compiled, self.state, profile, self.now)
            if self.offer is not None:
                value = self.offer.get("value")
                self._row.update(offer_features(profile, str(self.offer.get("type", "")), self.offer.get("category"),
                                                value if isinstance(value, Decimal) else ZERO))
        return self._row

    def segment(self) -> str:
        """``member.segment``: the member's RFM segment, from the model named ``segments``."""
        scorer: Any = self.compiled.scorers[SEGMENT_MODEL]
        value = str(scorer.segments_of([self.row()])[0])
        self.used[SEGMENT_MODEL] = scorer.version
        if self.trace is not None:
            self.trace.append(Step("models", SEGMENT_MODEL, None, f"{SEGMENT_MODEL} {scorer.version}: member.segment "
                                   f"is {value}", {"segment": value, "version": scorer.version}))
        return value

    def __call__(self, name: str) -> Decimal:
        if name in self.scores:
            return self.scores[name]
        scorer: ModelScorer = self.compiled.scorers[name]
        value = model_scores(scorer, [self.row()])[0]
        self.scores[name], self.used[name] = value, scorer.version
        if self.trace is not None:
            # fired stays None: a score is not a rule, and Decision.fired() lists rules
            self.trace.append(Step("models", name, None, f"{name} {scorer.version} scored {value}",
                                   {"score": value, "version": scorer.version}))
        return value


def on_event(run: Run, plan: Plan) -> None:
    """The profile phase: fold the event into the member's profile, then (in a ruleset with
    models) let the expressions score the member as the profile now stands."""
    profile.on_event(run, plan)
    if run.compiled.scorers:
        scores = run.context().scorer = member_scores(run)
        if reads_segment(run.compiled):
            run.member_view()["segment"] = scores.segment()


def reads_segment(compiled: Compiled) -> bool:
    """A rule reads ``member.segment`` (a fact of the rule graph), and no declared field is named so."""
    return "member.segment" in compiled.graph and SEGMENT not in compiled.model.schema_.member


def member_scores(run: Run) -> MemberScores:
    """The scores of the member an event is about, at the event's moment."""
    return MemberScores(run.compiled, run.state, run.now, run.trace)


def models_used(run: Run) -> tuple[tuple[str, str], ...]:
    """(model, version) for each model the decision scored with, by name."""
    ctx = run.ctx
    scores = getattr(ctx, "scorer", None) if ctx is not None else None
    return tuple(sorted(scores.used.items())) if isinstance(scores, MemberScores) else ()


def score_rows(compiled: Compiled, name: str, rows: Sequence[Mapping[str, Decimal]]) -> list[Decimal]:
    """Many rows scored in one call (the dry-run and offer ranking batch their candidates)."""
    scorer: ModelScorer = compiled.scorers[name]
    return model_scores(scorer, rows)
