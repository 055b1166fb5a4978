"""What the offers tests share: a small ruleset with one template of each type, and helpers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COFFEE_OFFERS = ROOT / "rulesets" / "coffee-offers.yaml"

# Every template type; choosing on purchases, two at a time, capped at two live offers.
SMALL = """\
punchcard: 1
ruleset: small-offers
version: 1.0.0
timezone: UTC
currency: RUB
rounding: {mode: floor, scope: event, step: 1}
schema:
  member: {birth_date: optional date, vip: optional bool}
  events:
    purchase: {amount: money, category: string}
earning:
  base: {on: purchase, points: event.amount}
  caps:
    - {per: member, period: day, max_points: 1000}
compliance:
  forbid:
    - id: no-alcohol-offers-to-minors
      when: offer.category == "alcohol" and age(member.birth_date) < 18
      action: no_offer
offers:
  choose: {on: [purchase], rank: offer.value, top: 2, max_active: 2, max_new: {count: 3, within: 7 days}}
  templates:
    - {id: tea-double, type: double_points, category: tea, hours: {from: 7, to: 10}, days: [mon, tue, wed, thu, fri],
       valid_for: 3 days}
    - {id: wine-bonus, type: category_bonus, category: alcohol, value: 30, valid_for: 3 days}
    - {id: basket, type: basket_bonus, min_purchase: 500, value: 40, activation: host, valid_for: 3 days}
    - {id: third-visit, type: streak_reward, visits: 3, value: 25, valid_for: 5 days,
       eligible: "member.vip == true"}
    - {id: capped-bonus, type: custom, grant: {bonus: 10}, cap: {max_times: 2}, valid_for: 3 days,
       eligible: "member.vip == true"}
"""


def purchase(event_id: str, time: str, amount: str, category: str, member: str = "ann") -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": amount,
            "category": category}


def offer_effects(decision, status: str | None = None) -> list[dict]:
    return [e.detail for e in decision.effects
            if e.kind == "offer" and (status is None or e.detail["status"] == status)]


def ruleset(templates: str, choose: str = "{on: [purchase], rank: offer.value, top: 1}", extra: str = "") -> str:
    """A ruleset with these offer templates (YAML list items, indented 4) and choose: settings."""
    return f"""\
punchcard: 1
ruleset: offers-case
version: 1.0.0
timezone: UTC
currency: RUB
rounding: {{mode: floor, scope: event, step: 1}}
schema:
  member: {{birth_date: optional date}}
  events:
    purchase: {{amount: money, category: string}}
earning:
  base: {{on: purchase, points: event.amount}}
{extra}offers:
  choose: {choose}
  templates:
{templates}"""
