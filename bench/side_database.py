"""A bench's own PostgreSQL database beside DATABASE_URL's: <name>_<suffix>, made afresh and dropped afterwards."""

import os
import sys
from dataclasses import dataclass
from urllib.parse import urlparse, urlunparse

import psycopg


@dataclass(frozen=True)
class SideDatabase:
    url: str
    maintenance_url: str
    name: str

    def recreate(self) -> None:
        with psycopg.connect(self.maintenance_url, autocommit=True) as maintenance:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            maintenance.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(self.maintenance_url, autocommit=True) as maintenance:
            maintenance.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def side_database(suffix: str) -> SideDatabase:
    """The database `<DATABASE_URL's name>_<suffix>` on the same server; exits unless DATABASE_URL is PostgreSQL."""
    parsed = urlparse(os.environ.get("DATABASE_URL", ""))
    if parsed.scheme not in {"postgres", "postgresql"}:
        sys.exit(f"Set DATABASE_URL to a PostgreSQL database; this bench creates <name>_{suffix} beside it.")
    name = f"{parsed.path.lstrip('/')}_{suffix}"
    return SideDatabase(
        url=urlunparse(parsed._replace(path=f"/{name}")),
        maintenance_url=urlunparse(parsed._replace(path="/postgres")),
        name=name,
    )
