"""A PostgreSQL unit of work's reads, all in one round trip.

One event needs: its member locked (inserted first if new) and read, its id claimed
(or its earlier outcome read), the budgets it may draw on, and, unless this process
holds the member decoded at its current version, the member's child rows. They go in
one pipeline of prepared statements (wire.py), which also carries the transaction's
``BEGIN``, so the whole read costs one round trip, and the unit's writes
(writes.apply_pipelined) and commit one each.

psycopg begins a transaction by itself with a round trip of its own in pipeline mode
(it waits for ``BEGIN`` to finish). So for the unit's transaction the driver connection
is switched to autocommit, and the ``BEGIN`` is the pipeline's first statement; the
commit (psycopg commits whatever transaction is open) and :func:`end_transaction`
restore the connection as the pool expects it.

The member is locked by ``INSERT ... ON CONFLICT DO UPDATE ... WHERE false``: a new
row is inserted (and so locked), an existing one is locked without being written.
Every statement after it in the pipeline runs with that lock held, and in READ
COMMITTED each sees the latest committed rows. The child rows are asked for only if
the member's version differs from the one this process holds decoded (a condition
evaluated by the server, after the lock), so a cached member costs no rows on the
wire, and one another process changed still costs no second round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, bindparam, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from punchcard.engine.store import ProcessedEvent

from .children import CHILDREN
from .models import Budget, Member, ProcessedEventRow
from .prepared import Reader, pipelined, raw_connection
from .repository import LOCK_MEMBER, UNSAVED_MEMBER, processed_events, to_processed
from .wire import Pipeline

__all__ = ["FirstRead", "first_read", "end_transaction"]

_M, _P, _B = Member.__table__, ProcessedEventRow.__table__, Budget.__table__
_MEMBER = select(_M).where(_M.c.member_id == bindparam("b_member"))
# The claim and the earlier outcome in one statement. Both parts see the rows committed
# when it began: an id another unit claimed and commits meanwhile is neither claimed
# here nor seen as processed, and is read again (processed_events) once that one is done.
_CLAIMING = (pg_insert(_P).values(event_id=bindparam("b_event"), member_id=bindparam("b_member"))
             .on_conflict_do_nothing(index_elements=["event_id"]).returning(_P.c.id).cte("claiming"))
_CLAIM = (select(select(_CLAIMING.c.id).scalar_subquery().label("claim_id"), *_P.c)
          .select_from(select(literal_column("1").label("one")).subquery("one"))
          .outerjoin(_P, and_(_P.c.event_id == bindparam("b_event"), _P.c.decision.is_not(None))))
_BUDGETS = select(_B.c.rule, _B.c.used).where(_B.c.rule == bindparam("b_rules", type_=ARRAY(String)).any_())


_MEMBER_ROW, _CLAIM_ROW = Reader.of_table(_M), Reader.of_table(_P)


@dataclass
class FirstRead:
    member: Any  # the member row, locked
    claimed: bool  # the event id was claimed by this unit (new), not processed before
    prior: ProcessedEvent | None
    budgets: dict[str, Decimal] = field(default_factory=dict)
    children: dict[str, list] | None = None  # None: the rows are at the version held decoded


def first_read(conn: Connection, member_id: str, event_id: str, budgets: Mapping[str, Decimal],
               known_version: int | None) -> FirstRead:
    """Lock and read the member, claim ``event_id``, read ``budgets`` (without locks) and,
    unless the member's rows are at ``known_version``, its child rows: one round trip."""
    raw, dialect = raw_connection(conn), conn.dialect
    member_key = {"b_member": member_id}
    raw.autocommit = True  # the BEGIN is sent below, in the pipeline (see the module notes)
    with Pipeline(raw, conn.connection.info) as pipe:
        pipe.send(b"BEGIN", ())
        pipelined(pipe, conn, LOCK_MEMBER, [{**UNSAVED_MEMBER, "member_id": member_id}])
        (member,) = pipelined(pipe, conn, _MEMBER, [member_key])
        (claim,) = pipelined(pipe, conn, _CLAIM, [{**member_key, "b_event": event_id}])
        used = pipelined(pipe, conn, _BUDGETS, [{"b_rules": sorted(budgets)}])[0] if budgets else None
        known = {**member_key, "b_known": -1 if known_version is None else known_version}
        (children,) = pipelined(pipe, conn, CHILDREN.statement, [known])
    (row,) = _MEMBER_ROW.rows(member, dialect)
    (outcome,) = _CLAIM_ROW.rows(claim, dialect)
    claimed = outcome.claim_id is not None
    prior = to_processed(outcome) if outcome.event_id is not None else None
    if not claimed and prior is None:  # claimed by a unit that committed meanwhile: its outcome now
        prior = processed_events(conn, [event_id]).get(event_id)
    rows = CHILDREN.split(children, dialect)
    stale = known_version is None or row.version != known_version
    return FirstRead(row, claimed, prior, dict(used.fetchall()) if used is not None else {},
                     rows if stale else None)



def end_transaction(conn: Connection) -> None:
    """Put the driver connection of a unit that read with :func:`first_read` back as the
    pool hands it out: no transaction open (a failed one rolled back), not autocommit."""
    raw = conn.connection.dbapi_connection
    if raw is None or raw.closed or not raw.autocommit:
        return
    if raw.info.transaction_status.name != "IDLE":
        raw.rollback()
    raw.autocommit = False
