"""Reading what a request sends: JSON with exact numbers, the live ruleset, the event.

A JSON number is read as a decimal (``0.1`` is one tenth, never a float); a body that is not
JSON, an event the ruleset's schema refuses, or a ruleset that is not live is a problem
document, never a failure of the service.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from fastapi import Request

from punchcard.engine import Compiled, Event, EventError

from .problems import PROBLEM_MEDIA, Problem
from .state import ServiceState

__all__ = ["read_json", "live", "parse_event", "service", "body_doc", "problem_responses"]


def service(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


async def read_json(request: Request) -> Any:
    """The body as JSON, numbers exact (the size cap is the middleware's)."""
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise Problem("unsupported-media-type", "send the body as application/json")
    raw = await request.body()
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Problem("invalid-request", "the body is not JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def live(state: ServiceState, ruleset: str | None) -> Compiled:
    """The live version of ``ruleset`` (None: the only live ruleset)."""
    try:
        return state.registry.active(ruleset)
    except ValueError:
        raise Problem("ruleset-required", f"add ?ruleset= with one of: {', '.join(state.registry.ids())}") from None
    except KeyError:
        raise Problem("unknown-ruleset", f"live rulesets: {', '.join(state.registry.ids())}") from None


def parse_event(compiled: Compiled, raw: Any) -> Event:
    """The event as the ruleset reads it; refused with each problem named."""
    if not isinstance(raw, Mapping):
        raise Problem("invalid-event", "an event is a JSON object", extra={"errors": ["not an object"]})
    try:
        event = compiled.schema.parse(raw)
    except EventError as exc:
        errors = [_event_error(problem) for problem in exc.problems]
        raise Problem("invalid-event", "; ".join(f"{e['location']}: {e['message']}" for e in errors),
                      extra={"errors": errors}) from None
    except (TypeError, ValueError, ArithmeticError) as exc:  # a shape the parser did not foresee is still input
        raise Problem("invalid-event", f"the event could not be read ({type(exc).__name__})") from None
    if "/" in event.member:  # a member id is a path step of /v1/members/{id}: one with a slash could not be read
        raise Problem("invalid-event", "member: an id the service serves has no '/'",
                      extra={"errors": [{"location": "body.member", "message": "an id the service serves has no '/'"}]})
    return event


_QUOTED = re.compile(r"(['\"]).*\1", re.DOTALL)  # from the first quote to the last: a value may hold quotes


def _event_error(problem: str) -> dict[str, str]:
    """One problem of an event as ``{location, message}``, never the value sent (a birth date,
    a name): quoted values in the parser's words are left out."""
    field, _, rest = problem.partition(" ")
    message = " ".join(_QUOTED.sub("", rest).split()) or "is not valid"
    return {"location": f"body.{field}", "message": message}


def body_doc(schema: str) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads its body itself (``schema``: a component)."""
    return {"requestBody": {"required": True,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem documents a route may answer, for the OpenAPI document."""
    from_ref = {"$ref": "#/components/schemas/Problem"}
    described = {"description": "A problem document (RFC 9457)",
                 "content": {PROBLEM_MEDIA: {"schema": from_ref}}}
    return {status: described for status in sorted({*statuses, 422, 500, 503})}
