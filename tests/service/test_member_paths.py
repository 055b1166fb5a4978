"""A member id in the path that no event could carry (a NUL or another control character) is
bad input, answered 422 before any store is asked, on SQLite and on PostgreSQL: never a 503
that a client would retry, and the member who does exist is still read."""

from __future__ import annotations

import pytest
from live_server import live
from test_api import purchase

ROUTES = ("/v1/members/{}", "/v1/members/{}/decisions", "/v1/members/{}/offers")
UNREADABLE = ("a%00b", "%00", "tab%09in", "bell%07")  # as a client would escape them in a URL


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_member_id_no_event_could_carry_is_bad_input(store_urls, backend):
    with live(store_urls.new(backend)) as running, running.client() as http:
        assert http.post("/v1/events", json=purchase("o-1", day=1)).status_code == 200
        answers = {(route, member): http.get(route.format(member)) for route in ROUTES for member in UNREADABLE}
        real = [http.get(route.format("masha")) for route in ROUTES]
    for (route, member), answer in answers.items():
        assert answer.status_code == 422, (route, member, answer.text)
        assert answer.json()["type"].endswith("/invalid-request") and "Retry-After" not in answer.headers
        assert "\x00" not in answer.text and "a%00b" not in answer.text  # the value sent is never echoed
    assert [answer.status_code for answer in real] == [200, 200, 200]


def test_the_key_is_checked_before_the_member_id(store_urls):
    """Without a key, a bad member id is a 401 like any other request: nothing is said of the input."""
    with live(store_urls.new("sqlite")) as running, running.client(token=None) as anonymous:
        answers = [anonymous.get(route.format("a%00b")) for route in ROUTES]
    assert [answer.status_code for answer in answers] == [401, 401, 401]
