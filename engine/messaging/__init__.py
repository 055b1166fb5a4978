"""Member messages after the decision: the text (templates, guardrails, composing) and its
delivery from the outbox. Nothing here runs while an event is processed."""

__all__: list[str] = []
