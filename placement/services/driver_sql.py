"""Hand-written SQL on the database driver's own connection, for the API's busiest routes
on Postgres: building and executing a SQLAlchemy statement costs more CPU than the query
it sends. Such a statement runs in the session's transaction (begun here if need be), so
a commit or rollback of the session covers it; SQLite keeps the SQLAlchemy statements.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session


def pg_connection(session: Session) -> Any | None:
    """The psycopg connection under the session's transaction on Postgres, else None."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return None
    return connection.connection.driver_connection


def mappings(connection: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of `sql` on a `pg_connection`, as dicts keyed by column name."""
    from psycopg.rows import dict_row

    with connection.cursor(row_factory=dict_row) as cursor:
        rows: list[dict[str, Any]] = cursor.execute(sql, params).fetchall()
    return rows
