"""The claude messenger's settings, prices and cache, without a network."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest

from punchcard.engine.runtime.message import MessengerUnavailable
from punchcard.plugins.anthropic_messages import (
    DEFAULT_MODEL,
    ClaudeMessenger,
    DraftCache,
    Settings,
    cost_of,
    prompt_for,
)
from tests.messaging.conftest import make_request


def test_settings_default_to_a_current_model_and_bounded_waits():
    assert Settings.from_env() == Settings(DEFAULT_MODEL, Decimal(15), 2)


@pytest.mark.parametrize(("timeout", "retries", "expected"), [
    ("0", "9", (Decimal("0.1"), 5)),
    ("1e9", "-3", (Decimal(120), 0)),
    ("soon", "many", (Decimal(15), 2)),
    ("NaN", "2.7", (Decimal(15), 2)),
    ("2.5", "1", (Decimal("2.5"), 1)),
])
def test_timeouts_and_retries_stay_within_bounds(monkeypatch, timeout, retries, expected):
    monkeypatch.setenv("PUNCHCARD_ANTHROPIC_TIMEOUT", timeout)
    monkeypatch.setenv("PUNCHCARD_ANTHROPIC_MAX_RETRIES", retries)
    monkeypatch.setenv("PUNCHCARD_ANTHROPIC_MODEL", "claude-sonnet-4-5")
    settings = Settings.from_env()
    assert (settings.model, settings.timeout, settings.retries) == ("claude-sonnet-4-5", *expected)


def test_cost_is_exact_and_a_dated_id_costs_what_its_alias_does(caplog):
    assert cost_of("claude-sonnet-4-5-20250929", 1_000_000, 1_000_000) == Decimal(18)
    assert cost_of("claude-opus-4-1", 3, 7) == Decimal("0.00057")
    assert cost_of("claude-3-5-haiku-latest", 1000, 0) == Decimal("0.0008")
    with caplog.at_level(logging.WARNING):
        assert cost_of("someone-elses-model", 10, 10) == 0
    assert "no price known for model someone-elses-model" in caplog.text


def test_without_a_key_nothing_is_asked(monkeypatch):
    messenger = ClaudeMessenger()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "   ")
    with pytest.raises(MessengerUnavailable, match="no API key configured"):
        messenger.compose(make_request())
    assert messenger._clients == {}


def test_the_memory_cache_keeps_the_most_recently_used():
    cache = DraftCache(size=2)
    for key in "abc":
        cache.put(key, f"text {key}", "m")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "text b", "text c")


def test_a_damaged_cache_file_is_paid_for_again(tmp_path, monkeypatch):
    monkeypatch.setenv("PUNCHCARD_MESSAGE_CACHE", str(tmp_path))
    cache = DraftCache()
    cache.put("k", "Masha, 2x points.", "m")
    assert json.loads((tmp_path / "k.json").read_text()) == {"model": "m", "text": "Masha, 2x points."}
    (tmp_path / "k.json").write_text("{not json")
    assert DraftCache().get("k") is None
    assert list(tmp_path.iterdir()) == [tmp_path / "k.json"]  # no partial file left behind


def test_the_cache_key_changes_with_the_facts_the_version_and_the_model():
    prompt = prompt_for(make_request())
    key = DraftCache.key(prompt, "v1", "m")
    assert key == DraftCache.key(prompt_for(make_request()), "v1", "m")
    changed = prompt_for(make_request({**make_request().facts, "points": Decimal(301)}))
    assert len({key, DraftCache.key(changed, "v1", "m"), DraftCache.key(prompt, "v2", "m"),
                DraftCache.key(prompt, "v1", "n")}) == 4
