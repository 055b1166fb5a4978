"""Shared for the message tests: a request as the messages policy makes one, and the
process environment cleared of every setting that could reach a real API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from punchcard.engine.runtime.message import MessageRequest

TEMPLATES = {
    "en": "{first_name}, {multiplier}x points on {category} this week: {points} points, {discount_percent} off "
          "until {valid_until}. Your balance is {balance}.",
    "bg": "{first_name}, {multiplier}x точки за {category} тази седмица: {points} точки и {discount_percent} "
          "отстъпка до {valid_until}; вашият баланс е {balance}.",
    "ru": "{first_name}, {multiplier}x баллов за {category} на этой неделе: {points} баллов и скидка "
          "{discount_percent} до {valid_until}; ваш баланс {balance}.",
}
VOCABULARY = {"tiers": ("Silver", "Gold", "Platinum"), "categories": ("coffee", "bakery", "beer")}
FACTS: dict[str, Any] = {"tier": "Gold", "multiplier": 2, "category": "coffee", "points": Decimal(300),
                         "balance": Decimal("1250.50"), "discount_percent": Decimal(15),
                         "valid_until": dt.date(2026, 3, 31)}

ENV_SETTINGS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_PROFILE",
                "ANTHROPIC_CONFIG_DIR", "PUNCHCARD_MESSENGER", "PUNCHCARD_ANTHROPIC_MODEL",
                "PUNCHCARD_ANTHROPIC_TIMEOUT", "PUNCHCARD_ANTHROPIC_MAX_RETRIES", "PUNCHCARD_MESSAGE_CACHE")


def make_request(facts: dict[str, Any] | None = None, *, locale: str = "en", quoted: dict[str, str] | None = None,
                 **fields: Any) -> MessageRequest:
    """A message offering double points, as the messages policy would choose it: a first name
    is among the facts and, being text the member wrote, among the quoted data too."""
    values: dict[str, Any] = {
        "channel": "sms", "template": TEMPLATES[locale.split("-", maxsplit=1)[0]], "tone": "warm", "max_length": 320,
        "banned": ("alcohol", "casino"), "vocabulary": VOCABULARY, "version": "v1", "writer": "llm"}
    values.update(fields)
    quoted = {"first_name": "Masha"} if quoted is None else quoted
    facts = {**quoted, **(FACTS if facts is None else facts)}
    return MessageRequest("e-1:double", "member-42", "e-1", "coffee@1.0.0", "double", "offer_selected",
                          locale=locale, send_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
                          facts=facts, quoted=quoted, **values)


@pytest.fixture(autouse=True)
def no_api_settings(monkeypatch):
    for name in ENV_SETTINGS:
        monkeypatch.delenv(name, raising=False)
