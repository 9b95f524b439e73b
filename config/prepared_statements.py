"""A cursor for the few statements every request or order runs: bound on the server, prepared once a connection.

Django's cursors quote every argument into the SQL in Python, and PostgreSQL then parses and plans
the text afresh each time. On this cursor the arguments go as values, and psycopg prepares the
statement on its fifth run on a connection (the settings' prepare_threshold), so it is parsed and
planned once. It is still Django's cursor wrapper: the connection's health check, errors translated
to django.db's, and the query log tests count round trips with.
"""

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections


def prepared_statement_cursor(database=None):
    """A cursor on `database` (this thread's default connection) that binds on the server; PostgreSQL only."""
    database = database or connections[DEFAULT_DB_ALIAS]
    # What Django's cursor() does, with psycopg's server-binding cursor in place of Django's own.
    database.close_if_health_check_failed()
    database.ensure_connection()
    with database.wrap_database_errors:
        return database._prepare_cursor(psycopg.Cursor(database.connection))
