"""Prepared statements on Django's PostgreSQL connection (imported only where psycopg is the driver)."""
from __future__ import annotations

import contextlib

import psycopg
from psycopg import errors

# After these the connection's prepared statement can't be used again: it vanished (a pooler moved us
# to another server session, or someone ran DEALLOCATE/DISCARD) or its result type changed (a migration).
STALE = (errors.InvalidSqlStatementName, errors.FeatureNotSupported)


class PreparedCursor(psycopg.Cursor):
    """Binds server-side and prepares every statement it runs (Django's wrapper passes no `prepare`)."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


@contextlib.contextmanager
def preparing(conn: psycopg.Connection):
    """Let `prepare=True` work on `conn` inside the block only.

    Django leaves psycopg's prepare threshold at None, which turns preparing off, `prepare=True`
    included. Set for the whole connection, psycopg would also keep the text of every ORM query it
    sees and deallocate everything after each rollback; here only this cursor's statement is tracked.
    """
    previous = conn.prepare_threshold
    conn.prepare_threshold = 1 << 30  # nothing reaches it: only prepare=True prepares
    try:
        yield
    finally:
        conn.prepare_threshold = previous
