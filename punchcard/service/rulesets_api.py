"""``/v1/rulesets``: what is live, deploying a version, rolling back (docs/service.md, "Deployments").

A deployment sends the ruleset's YAML text, as ``{"text": ...}`` JSON or as ``application/yaml``. It
must pass ``punchcard check`` (else 422 ``ruleset-check-failed``, listing each error with its file,
line and column) and its own ``tests:`` (else 422 ``ruleset-tests-failed``, naming each failing test)
before it is recorded and made live; a refused one changes nothing. Every route needs the
``rulesets:admin`` scope: the key's name and id are recorded as who deployed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from punchcard.engine.store_deployments import Deployment

from .auth import require
from .bodies import problem_responses, service
from .keys import ApiKey
from .problems import PROBLEM_TYPES, Problem
from .registry import Refusal
from .schemas import ID_MAX

__all__ = ["router", "DeploymentView", "Rulesets", "Deployed", "YAML_MEDIA"]

YAML_MEDIA = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
ADMIN = "rulesets:admin"

# The problems only these routes answer, registered with the rest (their titles never change).
PROBLEM_TYPES.update({
    "ruleset-check-failed": (422, "The ruleset does not pass punchcard check"),
    "ruleset-tests-failed": (422, "The ruleset's own tests fail"),
    "ruleset-not-served": (422, "The service does not run this ruleset"),
    "version-conflict": (409, "This version was deployed before with another text"),
    "deployment-conflict": (409, "Another deployment changed the live version meanwhile"),
    "nothing-to-roll-back": (409, "There is no earlier version to roll back to"),
})

router = APIRouter(tags=["rulesets"])
Admin = Annotated[ApiKey, Depends(require(ADMIN))]  # the request's key, holding rulesets:admin


class DeploymentView(BaseModel):
    """One deployment: a version made live, by whom, when, and from which version."""

    id: int = Field(description="Ascending in the order deployments were recorded; a page cursor.")
    ruleset: str
    version: str
    label: str = Field(description="ruleset@version, as every decision it made is stamped.")
    digest: str = Field(description="SHA-256 of the YAML text, hex.")
    deployed_at: dt.datetime
    deployed_by: str = Field(description="The API key's name and id, or `punchcard serve` for the served files.")
    action: Literal["start", "deploy", "rollback"]
    previous: str | None = Field(description="The version live before this one.")
    live: bool


class Rulesets(BaseModel):
    live: list[DeploymentView] = Field(description="The live version of each ruleset the service runs.")
    history: list[DeploymentView] = Field(description="Deployments, newest first.")
    next: int | None = Field(description="Pass as ?before= for the next page of history; null on the last.")


class Deployed(BaseModel):
    changed: bool = Field(description="False when the text sent was already live: nothing was recorded.")
    deployment: DeploymentView


def _view(deployment: Deployment) -> DeploymentView:
    return DeploymentView(id=deployment.id, ruleset=deployment.ruleset, version=deployment.version,
                          label=deployment.label, digest=deployment.digest, deployed_at=deployment.deployed_at,
                          deployed_by=deployment.deployed_by, action=deployment.action,  # type: ignore[arg-type]
                          previous=deployment.previous, live=deployment.live)


def _who(key: ApiKey) -> str:
    return f"{key.name} ({key.id})"[:ID_MAX]


_BODY_DOC: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "title": "RulesetText", "required": ["text"],
                                    "properties": {"text": {"type": "string", "minLength": 1,
                                                            "description": "The ruleset, one YAML document."}},
                                    "additionalProperties": False}},
    "application/yaml": {"schema": {"type": "string", "minLength": 1}}}}}


@router.get("/rulesets", response_model=Rulesets, responses=problem_responses(401, 403))
def list_rulesets(request: Request, key: Admin,
                  ruleset: str | None = Query(None, min_length=1, max_length=ID_MAX,
                                              description="Only this ruleset's history."),
                  limit: int = Query(20, ge=1, le=100, description="Deployments in this page of history."),
                  before: int | None = Query(None, ge=1, le=2**62, description="History below this id (the last page's "
                                                                     "`next`).")) -> Rulesets:
    """What is live, and the deployments that came before, newest first."""
    registry = service(request).registry
    history = registry.history(ruleset, limit + 1, before)
    more = len(history) > limit
    return Rulesets(live=[_view(d) for d in registry.live()], history=[_view(d) for d in history[:limit]],
                    next=history[limit - 1].id if more else None)


@router.post("/rulesets", response_model=Deployed, status_code=201, openapi_extra=_BODY_DOC,
             responses={200: {"description": "The text sent was live already: nothing changed.", "model": Deployed},
                        **problem_responses(401, 403, 409, 413, 415)})
async def deploy(request: Request, key: Admin) -> Any:
    """Deploy a version: checked, tested, recorded, then live on every worker within a second."""
    text = await _ruleset_text(request)
    try:
        deployment, changed = await run_in_threadpool(service(request).registry.deploy, text, _who(key))
    except Refusal as refusal:
        raise Problem(refusal.code, refusal.detail, extra={"errors": refusal.errors}) from None
    body = Deployed(changed=changed, deployment=_view(deployment))
    return JSONResponse(body.model_dump(mode="json"), status_code=201 if changed else 200)


@router.post("/rulesets/{ruleset_id}/rollback", response_model=DeploymentView,
             responses=problem_responses(401, 403, 404, 409))
def rollback(request: Request, key: Admin,
             ruleset_id: str = Path(min_length=1, max_length=ID_MAX)) -> DeploymentView:
    """Make the version the live one replaced live again, in one call."""
    registry = service(request).registry
    try:
        return _view(registry.rollback(ruleset_id, _who(key)))
    except KeyError:
        raise Problem("unknown-ruleset", f"this service runs {', '.join(registry.ids())}") from None
    except Refusal as refusal:
        raise Problem(refusal.code, refusal.detail, extra={"errors": refusal.errors}) from None


async def _ruleset_text(request: Request) -> str:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    raw = await request.body()
    if kind in YAML_MEDIA:
        text = _decoded(raw)
    elif kind == "application/json" or kind.endswith("+json"):
        text = _text_field(raw)
    else:
        raise Problem("unsupported-media-type", "send the ruleset as application/yaml, or as JSON {\"text\": ...}")
    if not text.strip():
        raise Problem("invalid-request", "the ruleset text is empty", extra={"errors": [
            {"location": "body", "message": "empty"}]})
    return text


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem("invalid-request", "the ruleset is not UTF-8 text") from None


def _text_field(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Problem("invalid-request", "the body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("text"), str) or set(body) != {"text"}:
        raise Problem("invalid-request", "send {\"text\": \"<the ruleset's YAML>\"}", extra={"errors": [
            {"location": "body.text", "message": "a string is required, and nothing else"}]})
    text: str = body["text"]
    return text
