"""What every benchmark does first: make sure its own PostgreSQL database exists."""

from __future__ import annotations


def ensure_postgres_database(url: str, *, required: str = "") -> None:
    """Create the database named in ``url`` on first use (the server's `test` db must exist).

    For a URL that is not PostgreSQL there is nothing to create; with ``required`` (the reason
    the benchmark needs PostgreSQL) it stops there instead.
    """
    if not url.startswith("postgres"):
        if required:
            raise SystemExit(required)
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/test", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
