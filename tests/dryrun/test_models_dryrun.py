"""The dry-run of a ruleset with models: the plugins handed in load them, members' rows are
scored in batches, and every decision is the engine's, Decimal for Decimal, on one worker,
on two, and on Dask.

The models are trained here, through the scikit-learn plugin's own API, on the bundled sample
events: a churn model (a logistic regression) and an anomaly model (an isolation forest).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import pickle
from decimal import Decimal
from pathlib import Path

import pytest
from dryrun_helpers import SAMPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.dsl.errors import PunchcardError
from punchcard.engine import Engine, MemoryStore, compile_ruleset
from punchcard.engine.dryrun import Options, build_report, dry_run, to_json_report
from punchcard.engine.dryrun import sides as sides_module
from punchcard.engine.dryrun.batch import ScoreBatches
from punchcard.engine.dryrun.formats import read_rows
from punchcard.engine.dryrun.replay import tick_id
from punchcard.engine.policies.scoring import model_scores
from punchcard.engine.runtime.events import EventError
from punchcard.plugins.manager import create_plugin_manager, get_plugin_manager
from punchcard.plugins.sklearn.data import read_events
from punchcard.plugins.sklearn.train import train

UNTIL = dt.datetime.fromisoformat("2026-09-01T00:00:00+09:00")
RULESET = """\
punchcard: 1
ruleset: care
version: 1.0.0
timezone: Asia/Tokyo
currency: JPY
point_value: 1
rounding: {mode: floor, scope: event, step: 1}
schema:
  events:
    purchase: {amount: money, category: string, channel: optional string}
models:
  churn: models/churn.skops
  anomaly: models/anomaly.skops
earning:
  base: {on: purchase, points: event.amount / 100}
  rules:
    - id: win-back
      on: purchase
      when: score("churn") > 0.3
      bonus: event.amount * score("churn") / 10
    - id: usual-shopper
      on: purchase
      when: score("anomaly") < 0.5
      bonus: 3
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """The folder holding models/churn.skops and models/anomaly.skops, with their cards."""
    folder = tmp_path_factory.mktemp("care")
    events = read_events(SAMPLE)
    for target, days in (("churn", 60), ("anomaly", 30)):
        train(events, target, UNTIL, dt.timedelta(days=days), folder / "models" / f"{target}.skops", SAMPLE.name)
    return folder


def _ruleset(models: Path, name: str) -> Path:
    """A ruleset file of its own per test: the dry-run compiles a path once per process."""
    path = models / f"{name}.yaml"
    path.write_text(RULESET, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> Path:
    """The first 2,500 sample events, and a retried purchase."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(2500)]
    lines.append(lines[10])
    path = tmp_path_factory.mktemp("events") / "events.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


class _Counting:
    """A scorer that records the size of each score_many call, then asks the model."""

    def __init__(self, scorer) -> None:
        self.scorer, self.name, self.version, self.features = scorer, scorer.name, scorer.version, scorer.features
        self.calls: list[int] = []
        self.batches = scorer.batches  # what the model says of batches, said for it

    def score_many(self, rows):
        self.calls.append(len(rows))
        return self.scorer.score_many(rows)


class _CountingPlugins:
    """The installed plugins, with every scorer counted: plugins handed in as an object."""

    def __init__(self) -> None:
        self.plugins, self.loaded = create_plugin_manager(), []

    def functions(self):
        return self.plugins.functions()

    def decision_committed(self, decision) -> None:
        self.plugins.decision_committed(decision)

    def store_retried(self, reason: str, attempt: int) -> None:
        self.plugins.store_retried(reason, attempt)

    def scorers(self, models):
        found = {name: _Counting(scorer) for name, scorer in self.plugins.scorers(models).items()}
        self.loaded.extend(found.values())
        return found


def _reference(ruleset: Path, events: Path, end, plugins) -> dict:
    """Every event through one Engine on a MemoryStore, in (time, line) order, then a tick each."""
    engine = Engine(compile_ruleset(ruleset, plugins=plugins), MemoryStore(), trace=True)
    rows = []
    for line, row in read_rows(events):
        try:
            rows.append(((engine.compiled.schema.parse(row).time, line), line, row))
        except (EventError, AttributeError):
            continue
    decided = {(line, row["id"]): engine.process(row).to_dict() for _key, line, row in sorted(rows)}
    for member in sorted({row["member"] for _key, _line, row in rows}):
        decided[(0, tick_id(member))] = engine.process({"type": "tick", "id": tick_id(member), "member": member,
                                                        "time": end}).to_dict()
    return decided


def _report(result) -> dict:
    return json.loads(json.dumps(to_json_report(build_report(result))))


def test_without_plugins_a_ruleset_with_models_is_refused_before_any_row_is_read(models, events):
    with pytest.raises(PunchcardError, match="no scorer plugins were handed in"):
        dry_run(Options(_ruleset(models, "bare"), events))


def test_the_dry_run_decides_as_the_engine_scoring_members_in_batches(models, events):
    plugins, decided = _CountingPlugins(), {}

    def observe(member, run):
        for line, _at, decision in run.sides[0].decisions:
            decided[(line, decision.event_id)] = decision.to_dict()

    ruleset = _ruleset(models, "batched")
    result = dry_run(Options(ruleset, events, plugins=plugins, observe=observe))
    engine_plugins = _CountingPlugins()
    reference = _reference(ruleset, events, result.end, engine_plugins)
    assert decided.keys() == reference.keys()
    wrong = [key for key in reference if decided[key] != reference[key]]
    assert not wrong, f"{len(wrong)} decisions differ, first: {json.dumps(reference[wrong[0]])[:400]}"
    stamped = [d for d in decided.values() if d.get("models")]
    assert {name for d in stamped for name in d["models"]} == {"churn", "anomaly"}
    fired = {step["rule"] for d in stamped for step in d["trace"] if step.get("fired")}
    assert {"win-back", "usual-shopper"} <= fired
    one_by_one = {scorer.name: scorer.calls for scorer in engine_plugins.loaded}
    calls = {scorer.name: scorer.calls for scorer in plugins.loaded}
    for name in ("churn", "anomaly"):  # the rows the engine scores, no more
        assert set(one_by_one[name]) == {1} and sum(calls[name]) == len(one_by_one[name]), name
    # the forest's rows go in batches; the logistic regression, plain arithmetic, is scored where it stands
    assert max(calls["anomaly"]) > 50 and len(calls["anomaly"]) < len(one_by_one["anomaly"]) / 10
    assert set(calls["churn"]) == {1}
    assert [scorer.scorer.batches for scorer in plugins.loaded] == [name == "anomaly" for name in calls]


def test_two_workers_and_one_give_the_same_report(models, events):
    ruleset = _ruleset(models, "workers")
    one = _report(dry_run(Options(ruleset, events, plugins=get_plugin_manager)))
    two = _report(dry_run(Options(ruleset, events, plugins=get_plugin_manager, workers=2)))
    assert two == one


def test_dask_loads_the_models_through_the_plugins_handed_in(models, events):
    pytest.importorskip("dask.bag")
    distributed = pytest.importorskip("distributed")
    from punchcard.engine.dryrun.dask_job import dry_run_on_dask

    ruleset = _ruleset(models, "dask")
    local = _report(dry_run(Options(ruleset, events, plugins=get_plugin_manager)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = _report(dry_run_on_dask(Options(ruleset, events, plugins=get_plugin_manager),
                                         cluster.scheduler_address))
    assert remote == local


def test_plugins_handed_in_as_an_object_travel_as_a_key_that_only_this_process_resolves(monkeypatch):
    plugins = object()
    carried = pickle.loads(pickle.dumps(sides_module.handed(plugins)))
    assert carried() is plugins
    assert sides_module.handed(get_plugin_manager) is get_plugin_manager and sides_module.handed(None) is None
    monkeypatch.setattr(sides_module, "_HANDED", {})
    with pytest.raises(RuntimeError, match="hand in a function"):
        carried()


# -- the batches themselves --------------------------------------------------------------------
class _Model:
    """A scorer whose score of a row depends on that row alone, and which counts its calls."""

    name, version, features = "m", "1", ("x",)

    def __init__(self, fail_on: frozenset = frozenset()) -> None:
        self.calls, self.fail_on = [], fail_on

    def score_many(self, rows):
        self.calls.append(len(rows))
        if any(row["x"] in self.fail_on for row in rows):
            raise ArithmeticError("this row cannot be scored")
        return [Decimal(row["x"] % 97) / 96 for row in rows]


def _replay(model: _Model, asks: list[list[int]]):
    """One member: each entry is one call with that many rows; the scores so far feed the next rows."""
    def member(index: int) -> tuple:
        seen, total = [], Decimal(index)
        for size in asks[index]:
            rows = [{"x": int(total * 7) + i} for i in range(size)]
            try:
                scores = model_scores(model, rows)
            except ArithmeticError:
                seen.append("failed")
                continue
            seen.append(tuple(scores))
            total += sum(scores)
        return tuple(seen), total

    return member


@settings(max_examples=40, deadline=None)
@given(asks=st.lists(st.lists(st.integers(0, 4), max_size=5), max_size=30), width=st.integers(1, 8),
       fail_on=st.frozensets(st.integers(0, 60), max_size=3))
def test_batched_members_get_what_one_call_each_would_give_in_order(asks, width, fail_on):
    alone = _Model(fail_on)
    expected = [_replay(alone, asks)(i) for i in range(len(asks))]
    batched = _Model(fail_on)
    with ScoreBatches(width) as batches:
        got = list(batches.map(_replay(batched, asks), range(len(asks))))
    assert [item for item, _result in got] == list(range(len(asks)))
    assert [result for _item, result in got] == expected
    if not fail_on:
        assert sum(batched.calls) == sum(alone.calls) and len(batched.calls) <= len(alone.calls)


def test_a_member_whose_replay_fails_stops_the_batch_with_its_error():
    def member(index: int) -> int:
        model_scores(_Model(), [{"x": index}])
        if index == 3:
            raise KeyError("member 3")
        return index

    with ScoreBatches(4) as batches, pytest.raises(KeyError, match="member 3"):
        list(batches.map(member, range(10)))
    with ScoreBatches(4) as batches:  # the pool's threads are fine for the next run
        assert [result for _item, result in batches.map(member, [0, 1, 2])] == [0, 1, 2]


def test_the_models_doc_example_dry_runs_with_the_installed_plugins(models, events, monkeypatch):
    """docs/models.md's Python example, run as written in a folder holding its two files."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "models.md").read_text(encoding="utf-8")
    [code] = re.findall(r"^```python dry-run\n(.*?)^```", doc, re.M | re.S)
    (models / "churn-care.yaml").write_text(RULESET, encoding="utf-8")
    (models / "events.jsonl").write_bytes(events.read_bytes())
    monkeypatch.chdir(models)
    scope: dict = {}
    exec(compile(code, "docs/models.md", "exec"), scope)
    result = scope["result"]
    assert result.workers == 2 and result.rows == 2501
    assert _report(result)["input"] is not None
