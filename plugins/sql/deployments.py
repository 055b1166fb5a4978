"""Ruleset deployments in the SQL store (table ``deployments``, revision 0004); see
:mod:`punchcard.engine.store_deployments` for what a deployment is.

Each call is one short transaction of its own. Recording a deployment clears the live flag
of the row it replaces with a conditional ``UPDATE`` and inserts the new live row, together:
when another worker's deployment got there first, the ``UPDATE`` changes nothing (or the
partial unique index refuses a second live row) and nothing is recorded. ``mark`` reads the
newest id, one index entry, which every worker of the service does about once a second.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from punchcard.engine.store_deployments import Deployment, DeploymentConflict, NewDeployment, live_mark

from .errors import failures
from .errors import release as release_connection
from .models import DeploymentRow
from .outbox import Ledger

__all__ = ["mark", "live", "history", "get", "record"]

_D = DeploymentRow.__table__
_FIELDS = [c.name for c in _D.columns]


def _row(record: Any) -> Deployment:
    return Deployment(**{name: getattr(record, name) for name in _FIELDS})


def mark(store: Ledger) -> int:
    """A digest of the live rows' ids (engine/store_deployments.py says why not the newest id)."""
    with failures("reading the deployments", store.shown_url), store.read() as conn, conn.begin():
        return live_mark(conn.execute(select(_D.c.id).where(_D.c.live.is_(True))).scalars())


def live(store: Ledger) -> list[Deployment]:
    query = select(_D).where(_D.c.live.is_(True)).order_by(_D.c.ruleset)
    with failures("reading the deployments", store.shown_url), store.read() as conn, conn.begin():
        return [_row(record) for record in conn.execute(query)]


def history(store: Ledger, ruleset: str | None = None, limit: int = 20, before: int | None = None) -> list[Deployment]:
    query = select(_D).order_by(_D.c.id.desc()).limit(limit)
    if ruleset is not None:
        query = query.where(_D.c.ruleset == ruleset)
    if before is not None:
        query = query.where(_D.c.id < before)
    with failures("reading the deployments", store.shown_url), store.read() as conn, conn.begin():
        return [_row(record) for record in conn.execute(query)]


def get(store: Ledger, deployment_id: int) -> Deployment | None:
    with failures("reading the deployments", store.shown_url), store.read() as conn, conn.begin():
        found = conn.execute(select(_D).where(_D.c.id == deployment_id)).first()
        return _row(found) if found is not None else None


def record(store: Ledger, new: NewDeployment, replaces: int | None) -> Deployment:
    with failures("recording a deployment", store.shown_url):
        conn = store.begin()
        try:
            row = _record(conn, new, replaces)
            conn.commit()
            return row
        except IntegrityError:  # a second live row: another worker's deployment won
            raise DeploymentConflict(f"ruleset {new.ruleset}: another deployment was recorded meanwhile") from None
        finally:
            release_connection(conn)


def _record(conn: Connection, new: NewDeployment, replaces: int | None) -> Deployment:
    ours = (_D.c.ruleset == new.ruleset, _D.c.live.is_(True))
    if replaces is not None:
        cleared = conn.execute(update(_D).where(_D.c.id == replaces, *ours).values(live=False)).rowcount
    else:
        cleared = 0 if conn.execute(select(_D.c.id).where(*ours)).first() is None else -1
    if cleared != (1 if replaces is not None else 0):
        raise DeploymentConflict(f"ruleset {new.ruleset}: another deployment was recorded meanwhile")
    values = {name: getattr(new, name) for name in _FIELDS if name not in ("id", "live")}
    new_id = conn.execute(insert(_D).values(**values, live=True).returning(_D.c.id)).scalar_one()
    return Deployment(**values, id=int(new_id), live=True)
