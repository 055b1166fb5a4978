"""Rulesets for the messages policy's tests: one program with every trigger, built from parts
so a test can change one setting (a cap, quiet hours) and keep the rest."""

from __future__ import annotations

import punchcard

__all__ = ["program", "compiled", "purchase"]

_HEAD = """
punchcard: 1
ruleset: messages-policy
version: 1.0.0
timezone: Europe/Sofia
rounding: {mode: floor, scope: event, step: 1}
schema:
  member: {first_name: optional string, locale: optional string, opt_in: optional bool, birth_date: optional date}
  events:
    purchase: {amount: money}
earning:
  base: {on: purchase, points: event.amount}
tiers:
  metric: points_earned
  window: calendar_year
  levels:
    - {name: silver, min: 0}
    - {name: gold, min: 100}
points:
  expiry: {after: 12 months}
  expiry_notice: 14 days
streaks:
  - {id: daily, on: purchase, period: day}
compliance:
  require: {max_messages_per_day: %(compliance)s}
  forbid:
    - id: no-messages-to-minors
      when: age(member.birth_date) < 18
      action: no_message
"""

_MESSAGES = """
messages:
  default_locale: en
  banned: [guaranteed]
  caps: {per_day: %(per_day)s, per_week: %(per_week)s, channels: {sms: {per_day: %(sms_day)s}}}
  %(quiet)s
  send:
    - id: thanks
      on: earned
      channel: push
      when: member.opt_in
      facts: [first_name, earned_points, balance]
      template: {en: "{first_name}, {earned_points} points are yours. Balance: {balance}."}
    - id: gold
      on: tier_change
      channel: email
      facts: [first_name, tier_to]
      template: {en: "{first_name}, welcome to {tier_to}."}
    - id: spent
      on: redemption
      channel: sms
      facts: [redeemed_points, balance]
      template: {en: "You spent {redeemed_points} points; {balance} are left."}
    - id: keep-going
      on: streak_at_risk
      channel: push
      before: 6 hours
      facts: [streak_length, streak_ends]
      template: {en: "Come by on {streak_ends} to keep your {streak_length}-day streak."}
    - id: expiring
      on: expiry_notice
      channel: sms
      facts: [expiring_points, expires_on]
      template: {en: "{expiring_points} points expire on {expires_on}."}
"""


def program(*, per_day: int = 3, per_week: int = 10, sms_day: int = 1, compliance: int = 5,
            quiet: str = "", tail: str = "") -> str:
    """The ruleset's text; ``quiet`` is a ``quiet_hours:`` line, ``tail`` more YAML at the end."""
    return (_HEAD % {"compliance": compliance} + _MESSAGES % {"per_day": per_day, "per_week": per_week,
                                                              "sms_day": sms_day, "quiet": quiet} + tail)


def compiled(**settings: object):
    return punchcard.compile(program(**settings))  # type: ignore[arg-type]


def purchase(member: str, event_id: str, time: str, amount: str = "10") -> dict:
    return {"type": "purchase", "id": event_id, "member": member, "time": time, "amount": amount}
