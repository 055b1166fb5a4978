"""A store's record of ruleset deployments: which version of each ruleset is live, and
every version that ever was, with who deployed it, when, and from which version.

A deployment is a row, never changed but for its ``live`` flag: deploying a version adds
a live row and clears the flag of the one it replaces, in one transaction; rolling back
adds a live row that repeats an earlier one (same text, same digest). Exactly one row per
ruleset id is live. ``parent`` is the row a rollback returns to, so that rolling back
twice walks two steps back rather than to and fro.

``deployments_mark()`` is a digest of the live rows' ids: a read of the few live index
entries, which a service's workers make often (at most once a second each) to notice another
worker's deployment without reading the rows. Not the newest id: ids are drawn when a row is
inserted, not when it commits, so a deployment that commits after a newer id was seen would
go unnoticed; the live set changes with every commit that deploys or rolls back.

:class:`MemoryDeployments` keeps them in a list, for a store that keeps none (the memory
store: one process's deployments live as long as it does); the SQL store keeps them in its
``deployments`` table (punchcard.plugins.sql.deployments).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .store import Conflict

__all__ = ["Deployment", "NewDeployment", "Deployments", "MemoryDeployments", "DeploymentConflict", "ACTIONS",
           "live_mark"]

ACTIONS = ("start", "deploy", "rollback")  # the service's own files at start-up, an upload, a rollback


class DeploymentConflict(Conflict):
    """The version this deployment was to replace is no longer live (another deployment won
    the race), or the ruleset already has a live version: nothing was recorded."""


@dataclass(frozen=True, slots=True)
class NewDeployment:
    """A deployment as it is asked for; the store gives it its id."""

    ruleset: str
    version: str
    text: str
    digest: str  # sha256 of the text, hex
    deployed_at: dt.datetime
    deployed_by: str
    action: str  # one of ACTIONS
    previous: str | None = None  # the version live before it
    parent: int | None = None  # the row a rollback of this one makes live again


@dataclass(frozen=True, slots=True)
class Deployment(NewDeployment):
    id: int = 0  # ascending in the order deployments were recorded
    live: bool = False

    @property
    def label(self) -> str:
        return f"{self.ruleset}@{self.version}"


def live_mark(ids: Iterable[int]) -> int:
    """The mark of a set of live ids: equal sets, equal marks (0 for none)."""
    ordered = sorted(ids)
    return int.from_bytes(hashlib.sha256(repr(ordered).encode()).digest()[:7], "big") if ordered else 0


@runtime_checkable
class Deployments(Protocol):
    """What a store that records deployments offers."""

    def deployments_mark(self) -> int:
        """A digest of the live deployments' ids (0 when there is none): it changes with every
        deployment and rollback, whenever it commits."""

    def deployments_live(self) -> list[Deployment]:
        """The live deployment of each ruleset id, by ruleset id."""

    def deployments_history(self, ruleset: str | None = None, limit: int = 20,
                            before: int | None = None) -> list[Deployment]:
        """Deployments newest first, of one ruleset or all, with ids below ``before``."""

    def deployment(self, deployment_id: int) -> Deployment | None: ...

    def deployments_record(self, new: NewDeployment, replaces: int | None) -> Deployment:
        """Record ``new`` as live in place of the live row ``replaces`` (None: the ruleset has
        none yet). Raises :class:`DeploymentConflict`, recording nothing, when that is no
        longer so."""


class MemoryDeployments:
    """Deployments in a list, for a store that keeps none."""

    def __init__(self) -> None:
        self._deployments: list[Deployment] = []
        self._deployments_lock = threading.Lock()

    def _deployment_rows(self) -> list[Deployment]:
        return self._deployments

    def deployments_mark(self) -> int:
        return live_mark(row.id for row in self._deployment_rows() if row.live)

    def deployments_live(self) -> list[Deployment]:
        return sorted((row for row in list(self._deployment_rows()) if row.live), key=lambda row: row.ruleset)

    def deployments_history(self, ruleset: str | None = None, limit: int = 20,
                            before: int | None = None) -> list[Deployment]:
        rows = [row for row in reversed(list(self._deployment_rows()))
                if (ruleset is None or row.ruleset == ruleset) and (before is None or row.id < before)]
        return rows[:limit]

    def deployment(self, deployment_id: int) -> Deployment | None:
        rows = self._deployment_rows()
        return rows[deployment_id - 1] if 0 < deployment_id <= len(rows) else None

    def deployments_record(self, new: NewDeployment, replaces: int | None) -> Deployment:
        rows = self._deployment_rows()
        with self._deployments_lock:
            live = next((i for i, row in enumerate(rows) if row.live and row.ruleset == new.ruleset), None)
            if (None if live is None else rows[live].id) != replaces:
                raise DeploymentConflict(f"ruleset {new.ruleset}: another deployment was recorded meanwhile")
            if live is not None:
                rows[live] = dataclasses.replace(rows[live], live=False)
            row = Deployment(**{f.name: getattr(new, f.name) for f in dataclasses.fields(new)}, id=len(rows) + 1,
                             live=True)
            rows.append(row)
            return row
