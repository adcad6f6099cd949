"""Where the push tables are: a database URL (or an Airflow connection's fields) as driver arguments.

`bugzilla-push --db`, the tests and the benchmarks give a URL; the Airflow hook gives a connection.
Both become one :class:`DbTarget`, from which the store and the watcher open their own connections.
The URL is read with :mod:`urllib.parse`, not SQLAlchemy's `make_url`: the core runs without Airflow
and so without SQLAlchemy, which would become a dependency for a dozen lines, and each driver still
wants its own arguments (a psycopg conninfo, PyMySQL keywords, a file path) out of the URL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

Kind = Literal["postgresql", "mysql", "sqlite"]
_KINDS: dict[str, Kind] = {
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "sqlite": "sqlite",
}


def kind_of(name: str) -> Kind | None:
    """Return the database a URL scheme (`postgresql+psycopg`) or a connection type (`postgres`) names."""
    return _KINDS.get(name.lower().split("+", 1)[0])


def mysql_params(
    host: str | None, port: int | None, user: str | None, password: str | None, database: str | None
) -> dict[str, Any]:
    """Return PyMySQL's connect arguments, with the defaults a URL or a connection may leave out."""
    return {
        "host": host or "127.0.0.1",
        "port": port or 3306,
        "user": user or "",
        "password": password or "",
        "database": database or "",
        "charset": "utf8mb4",
        "autocommit": True,
    }


def sqlite_path(url: str) -> Path:
    """Return the file of `sqlite:///relative/path` or `sqlite:////absolute/path`."""
    return Path(url.split(":///", 1)[1] if ":///" in url else urlsplit(url).path)


@dataclass(frozen=True)
class DbTarget:
    """A database kind and its driver's connect arguments.

    :param kind: `postgresql`, `mysql` or `sqlite`
    :param params: psycopg (`conninfo` and/or keywords), PyMySQL keywords, or `{"path": …}` for
        SQLite; they may hold a password, so they are left out of repr
    """

    kind: Kind
    params: dict[str, Any] = field(repr=False, hash=False, compare=False)

    @classmethod
    def from_url(cls, url: str) -> DbTarget:
        """Read `postgresql://…`, `mysql://…` or `sqlite:///relative` / `sqlite:////absolute/path`."""
        parts = urlsplit(url)
        kind = kind_of(parts.scheme)
        if kind == "postgresql":  # psycopg reads the URL itself; it knows neither `postgres:` nor `+driver`
            return cls(kind, {"conninfo": "postgresql" + url[url.index(":") :]})
        if kind == "mysql":
            return cls(
                kind,
                mysql_params(
                    parts.hostname,
                    parts.port,
                    unquote(parts.username or ""),
                    unquote(parts.password or ""),
                    unquote(parts.path.lstrip("/")),
                ),
            )
        if kind == "sqlite":
            return cls(kind, {"path": str(sqlite_path(url))})
        raise ValueError(
            f"unsupported database URL scheme {parts.scheme!r}: use postgresql://…, mysql://… or sqlite:///…"
        )
