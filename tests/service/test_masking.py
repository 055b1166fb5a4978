"""What the service shows of a request: no member id in the access log, however the path is
spelled, and no value of an event in a problem document."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from punchcard.service.bodies import _event_error
from punchcard.service.guard import masked_path

IDS = st.text(st.characters(codec="ascii", exclude_characters="?#"), min_size=3, max_size=40).filter(
    lambda s: s.strip("/") and s.strip("/") not in ("decisions", "offers", "members"))


@given(IDS, st.sampled_from(["/v1/members/", "/V1/MEMBERS/", "/v1//members/", "/v2/members//"]),
       st.sampled_from(["", "/decisions", "/offers", "/"]))
def test_no_spelling_of_a_member_path_shows_the_id(member, prefix, route):
    shown = masked_path(prefix + member + route)
    assert member.strip("/") not in shown.split("***", 1)[1] if "***" in shown else False
    assert shown.endswith(route.rstrip("/")) or not route.strip("/")


@given(st.sampled_from(["birth_date", "amount", "time", "type"]),
       st.text(st.characters(exclude_characters="'\""), min_size=4, max_size=30))
def test_a_problem_names_the_field_and_never_the_value(field, value):
    error = _event_error(f"{field} '{value}' is not valid for this ruleset")
    assert error["location"] == f"body.{field}" and value not in error["message"]


def test_a_member_id_with_a_slash_is_refused_at_the_door():
    import pytest

    import punchcard
    from punchcard.service.bodies import parse_event
    from punchcard.service.problems import Problem

    compiled = punchcard.compile("rulesets/coffee-club.yaml")
    event = {"type": "purchase", "id": "o-1", "member": "shop/42", "time": "2026-03-02T08:15:00", "amount": "1",
             "category": "coffee"}
    with pytest.raises(Problem) as refused:
        parse_event(compiled, event)
    (error,) = refused.value.extra["errors"]
    assert error == {"location": "body.member", "message": "an id the service serves has no '/'"}
    assert parse_event(compiled, {**event, "member": "shop-42"}).member == "shop-42"


def test_a_batch_refuses_an_idempotency_key_and_stores_nothing(tmp_path):
    from starlette.testclient import TestClient

    from punchcard.engine import MemoryStore
    from punchcard.service.app import app

    store = MemoryStore()
    service = app(["rulesets/coffee-club.yaml"], store)
    with TestClient(service) as client:
        token = service.state.service.keys.create(["events:write"], "ops")[1]
        event = {"type": "purchase", "id": "b-1", "member": "m", "time": "2026-03-02T08:15:00", "amount": "5",
                 "category": "coffee"}
        answer = client.post("/v1/events/batch", json={"events": [event]},
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "b-1"})
    assert answer.status_code == 422 and answer.json()["type"].endswith("/idempotency-key-mismatch")
    assert store.member("m") is None


def test_an_id_sent_again_with_another_body_counts_as_a_conflict_not_a_rejection():
    from prometheus_client.parser import text_string_to_metric_families
    from starlette.testclient import TestClient

    from punchcard.engine import MemoryStore
    from punchcard.service.app import app

    store = MemoryStore()
    service = app(["rulesets/coffee-club.yaml"], store)
    with TestClient(service) as client:
        state = service.state.service
        token = state.keys.create(["events:write"], "ops")[1]
        headers = {"Authorization": f"Bearer {token}"}
        event = {"type": "purchase", "id": "c-1", "member": "m", "time": "2026-03-02T08:15:00", "amount": "5",
                 "category": "coffee"}
        assert client.post("/v1/events", json=event, headers=headers).status_code == 200
        assert client.post("/v1/events", json={**event, "amount": "6"}, headers=headers).status_code == 409
        text = state.metrics.render(store)[0].decode()
    counts = {s.labels["outcome"]: s.value for f in text_string_to_metric_families(text)
              if f.name == "punchcard_decisions" for s in f.samples if s.name == "punchcard_decisions_total"}
    assert counts == {"applied": 1.0, "conflict": 1.0}
