"""Deployments: a version passes check and its own tests before it is recorded and made live,
a refused one changes nothing, rolling back is one call, and the record says who, when,
from which version and the text's digest; on every store, and over HTTP."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from deployments_support import RULESET, points_per_unit, ruleset_text, served, write_ruleset
from hypothesis import given, settings
from hypothesis import strategies as st

from punchcard.engine import Engine
from punchcard.engine.store import MemoryStore
from punchcard.engine.store_deployments import DeploymentConflict, Deployments, MemoryDeployments, NewDeployment
from punchcard.plugins.sql.store import SqlStore
from punchcard.service.registry import STARTED_BY, Refusal, Registry

V2 = ruleset_text("2.0.0", 3)


class Clock:
    """A monotonic clock the test moves: when a registry next looks at the store."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _snapshot(registry: Registry) -> tuple:
    return (registry.record.deployments_mark(), [(d.id, d.version, d.live) for d in registry.history(limit=100)],
            registry.active().label)


def test_a_deployment_is_recorded_and_made_live(store_factory, tmp_path):
    store = store_factory()
    registry = Registry(store, None, [write_ruleset(tmp_path)])
    [first] = registry.live()
    assert (first.label, first.action, first.deployed_by, first.previous) == ("shop@1.0.0", "start", STARTED_BY, None)
    before = dt.datetime.now(dt.UTC)
    deployed, changed = registry.deploy(V2, "ops (k1)")
    assert changed and registry.active().label == "shop@2.0.0"
    assert deployed.digest == hashlib.sha256(V2.encode()).hexdigest() and deployed.text == V2
    assert (deployed.deployed_by, deployed.previous, deployed.action, deployed.live) == ("ops (k1)", "1.0.0",
                                                                                         "deploy", True)
    assert before <= deployed.deployed_at <= dt.datetime.now(dt.UTC)
    assert [(d.version, d.live) for d in registry.history()] == [("2.0.0", True), ("1.0.0", False)]
    assert registry.live() == [deployed]
    again, changed = registry.deploy(V2, "someone else")  # the live text again: nothing to record
    assert not changed and again == deployed and len(registry.history()) == 2


@pytest.mark.parametrize(("text", "code", "named"), [
    (ruleset_text("2.0.0", 3, points="event.amount * event.colour"), "ruleset-check-failed", "colour"),
    ("ruleset: [unclosed", "ruleset-check-failed", "ruleset.yaml:1:"),
    (ruleset_text("2.0.0", 3, expect=31), "ruleset-tests-failed", "expected 31, got 30"),
    (ruleset_text("1.0.0", 3), "version-conflict", "shop@1.0.0"),
    (ruleset_text("2.0.0", 3).replace("ruleset: shop", "ruleset: other"), "ruleset-not-served", "shop"),
    (ruleset_text("2.0.0", 3) + "include: [more.yaml]\n", "ruleset-check-failed", "one YAML document"),
])
def test_a_refused_deployment_changes_nothing(store_factory, tmp_path, text, code, named):
    store = store_factory()
    registry = Registry(store, None, [write_ruleset(tmp_path)])
    before = _snapshot(registry)
    with pytest.raises(Refusal) as refused:
        registry.deploy(text, "ops")
    assert refused.value.code == code
    assert named in refused.value.detail + repr(refused.value.errors)
    assert _snapshot(registry) == before


def test_check_errors_name_the_file_line_and_column(tmp_path):
    path = write_ruleset(tmp_path)
    registry = Registry(MemoryStore(), None, [path])
    with pytest.raises(Refusal) as refused:
        registry.deploy(ruleset_text("2.0.0", 3, points="event.amount * event.colour"), "ops")
    [error] = refused.value.errors
    line = ruleset_text("2.0.0", 3).splitlines().index("    points: event.amount * 3") + 1
    assert (error["file"], error["line"], error["severity"]) == (str(path), line, "error")
    assert f"{path}:{line}:{error['column']}: " in refused.value.detail


def test_rolling_back_is_one_call_and_walks_back(store_factory, tmp_path):
    store = store_factory()
    registry = Registry(store, None, [write_ruleset(tmp_path)])
    registry.deploy(V2, "ops")
    registry.deploy(ruleset_text("3.0.0", 5), "ops")
    back = registry.rollback(RULESET, "oncall (k2)")
    assert (back.version, back.action, back.previous, back.deployed_by) == ("2.0.0", "rollback", "3.0.0",
                                                                             "oncall (k2)")
    assert back.digest == hashlib.sha256(V2.encode()).hexdigest() and registry.active().label == "shop@2.0.0"
    assert registry.rollback(RULESET, "oncall").version == "1.0.0"  # twice: two steps back, not to and fro
    assert registry.active().label == "shop@1.0.0"
    with pytest.raises(Refusal, match="first version") as refused:
        registry.rollback(RULESET, "oncall")
    assert refused.value.code == "nothing-to-roll-back" and registry.active().label == "shop@1.0.0"
    with pytest.raises(KeyError):
        registry.rollback("nope", "oncall")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_another_workers_deployment_is_taken_up_within_the_refresh(backend, store_urls, tmp_path):
    url, path, clock = store_urls.new(backend), write_ruleset(tmp_path), Clock()
    one, two = SqlStore(url), SqlStore(url)
    try:
        first, second = Registry(one, None, [path], clock=clock), Registry(two, None, [path], clock=clock)
        assert len(first.history()) == 1  # the second worker found the served file recorded already
        held = second.active()
        first.deploy(V2, "ops")
        assert first.active().label == "shop@2.0.0"  # the deploying worker at once
        assert second.active() is held  # the other on its next look at the store ...
        clock.now += 1.0
        assert second.active().label == "shop@2.0.0"  # ... a second later at most
        assert held.label == "shop@1.0.0"  # a request holding the old program still has it
        restarted = Registry(SqlStore(url), None, [path], clock=clock)
        assert restarted.active().label == "shop@2.0.0"  # a restart never undoes a deployment
        restarted.store.close()
    finally:
        one.close()
        two.close()


def test_two_records_racing_to_replace_one_version_one_wins(store_factory):
    store = store_factory()
    record = store if isinstance(store, Deployments) else MemoryDeployments()  # the memory store's keeps its own
    now = dt.datetime.now(dt.UTC)
    live = record.deployments_record(NewDeployment("r", "1", "a", "d1", now, "x", "start"), None)
    results: list[object] = []

    def deploy(version: str) -> None:
        new = NewDeployment("r", version, "b", f"d{version}", now, "x", "deploy", "1", live.id)
        try:
            results.append(record.deployments_record(new, live.id))
        except DeploymentConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=deploy, args=(str(v),)) for v in range(2, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(not isinstance(r, DeploymentConflict) for r in results) == 1
    assert len(record.deployments_live()) == 1 and len(record.deployments_history("r")) == 2


actions = st.lists(st.one_of(st.tuples(st.just("deploy"), st.integers(1, 3)), st.tuples(st.just("rollback"))),
                   max_size=12)


@settings(max_examples=40, deadline=None)
@given(actions)
def test_deployments_and_rollbacks_keep_one_live_version_that_requests_get(tmp_path_factory, steps):
    """Whatever is deployed and rolled back: one row is live, it is what active() serves, and
    rolling back returns exactly to the version live before the last deployment still standing."""
    registry = Registry(MemoryStore(), None, [write_ruleset(tmp_path_factory.mktemp("r"))])
    standing = ["1.0.0"]  # what rolling back would return through, newest last
    texts = {"1.0.0": ruleset_text("1.0.0", 1)}
    for step in steps:
        if step[0] == "deploy":
            version = f"{step[1]}.{len(texts)}.0"
            texts[version] = ruleset_text(version, {1: 1, 2: 3, 3: 5}[step[1]])
            _, changed = registry.deploy(texts[version], "ops")
            assert changed
            standing.append(version)
        elif len(standing) > 1:
            standing.pop()
            assert registry.rollback(RULESET, "ops").version == standing[-1]
        else:
            with pytest.raises(Refusal):
                registry.rollback(RULESET, "ops")
        [live] = registry.live()
        assert live.version == standing[-1] and registry.active().label == live.label
        decided = Engine(registry.active(), MemoryStore()).process(
            {"type": "purchase", "id": "e", "member": "m", "time": "2026-03-02T08:15:00", "amount": 10})
        assert decided.ruleset == live.label and decided.points == 10 * points_per_unit(live.label)
        assert hashlib.sha256(texts[live.version].encode()).hexdigest() == live.digest


# -- over HTTP -------------------------------------------------------------------------------
def test_the_api_deploys_lists_and_rolls_back(tmp_path):
    with served([write_ruleset(tmp_path)], MemoryStore()) as service, service.client(service.admin) as http:
        listed = http.get("/v1/rulesets").json()
        assert [d["label"] for d in listed["live"]] == ["shop@1.0.0"] and listed["next"] is None
        deployed = http.post("/v1/rulesets", json={"text": V2})
        assert deployed.status_code == 201 and deployed.json()["changed"]
        body = deployed.json()["deployment"]
        assert (body["label"], body["previous"], body["deployed_by"]) == ("shop@2.0.0", "1.0.0",
                                                                          f"ops ({_key_id(service.admin)})")
        as_yaml = http.post("/v1/rulesets", content=ruleset_text("3.0.0", 5),
                            headers={"Content-Type": "application/yaml"})
        assert as_yaml.status_code == 201 and as_yaml.json()["deployment"]["label"] == "shop@3.0.0"
        same = http.post("/v1/rulesets", content=ruleset_text("3.0.0", 5), headers={"Content-Type": "text/yaml"})
        assert same.status_code == 200 and not same.json()["changed"]
        page = http.get("/v1/rulesets", params={"limit": 2}).json()
        assert [d["version"] for d in page["history"]] == ["3.0.0", "2.0.0"] and page["next"] is not None
        rest = http.get("/v1/rulesets", params={"limit": 2, "before": page["next"]}).json()
        assert [d["version"] for d in rest["history"]] == ["1.0.0"] and rest["next"] is None
        back = http.post(f"/v1/rulesets/{RULESET}/rollback")
        assert back.status_code == 200 and (back.json()["version"], back.json()["action"]) == ("2.0.0", "rollback")
        with service.client(service.writer) as till:
            decided = till.post("/v1/events", json={"type": "purchase", "id": "e-1", "member": "m",
                                                    "time": "2026-03-02T08:15:00", "amount": 10}).json()
        assert (decided["ruleset"], decided["points"]) == ("shop@2.0.0", "30")


def test_the_api_refuses_with_problem_documents_and_changes_nothing(tmp_path):
    with served([write_ruleset(tmp_path)], MemoryStore()) as service, service.client(service.admin) as http:
        before = http.get("/v1/rulesets").json()
        bad = http.post("/v1/rulesets", json={"text": ruleset_text("2.0.0", 3, points="event.amount * event.x")})
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["type"] == "https://punchcard.dev/problems/ruleset-check-failed"
        assert bad.json()["errors"][0]["line"] and ".yaml:" in bad.json()["detail"]
        failing = http.post("/v1/rulesets", json={"text": ruleset_text("2.0.0", 3, expect=7)})
        assert failing.status_code == 422 and failing.json()["errors"][0]["test"] == "a purchase earns 3 a unit"
        assert http.post("/v1/rulesets", json={"txt": V2}).status_code == 422
        assert http.post("/v1/rulesets", content=V2, headers={"Content-Type": "text/csv"}).status_code == 415
        nothing = http.post(f"/v1/rulesets/{RULESET}/rollback")
        assert nothing.status_code == 409 and nothing.json()["type"].endswith("/nothing-to-roll-back")
        assert http.post("/v1/rulesets/other/rollback").status_code == 404
        with service.client() as anonymous, service.client(service.writer) as writer:
            assert anonymous.post("/v1/rulesets", json={"text": V2}).status_code == 401
            assert writer.post("/v1/rulesets", json={"text": V2}).status_code == 403
            assert writer.post(f"/v1/rulesets/{RULESET}/rollback").status_code == 403
            assert writer.get("/v1/rulesets").status_code == 403
        assert http.get("/v1/rulesets").json() == before


def _key_id(token: str) -> str:
    return token.split("_")[1]
