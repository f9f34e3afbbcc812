"""A psycopg cursor for PostgreSQL prepared statements (imported only where psycopg is the driver)."""
import psycopg


class PreparedCursor(psycopg.Cursor):
    """Binds server-side and prepares every statement it runs (Django's wrapper passes no `prepare`)."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)
