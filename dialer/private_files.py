"""Files that only their owner may read (mode 0600): the databases (campaign store, call
records, and the ``-wal``/``-shm`` files SQLite makes beside them with the database's mode) and
the exports, which hold names, numbers and recording URLs.

The mode is set before any data is written, whatever the umask; an existing file is narrowed
to 0600 too (a file of an older version, or an export written over).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TextIO

__all__ = ["MODE", "open_private", "private_database"]

MODE = 0o600


def _narrow(fd: int) -> None:
    try:
        os.fchmod(fd, MODE)
    except OSError:  # not ours to change (another user's file, a special file): as it is
        pass


def _narrow_path(path: str) -> None:
    """``path`` narrowed to 0600 if it exists and others may read it (never opened)."""
    try:
        if os.stat(path).st_mode & 0o077:
            os.chmod(path, MODE)
    except OSError:  # gone, or not ours to change: as it is
        pass


def private_database(path: str | Path) -> None:
    """Before SQLite opens ``path``: create it empty with mode 0600 (its journal files then
    take the same mode), or narrow an existing one to 0600. ``":memory:"`` and ``file:`` URIs
    are left alone. An existing database is never opened here: closing a descriptor of a file
    drops every lock this process holds on it, SQLite's included."""
    text = str(path)
    if text == ":memory:" or text.startswith("file:") or not text:
        return
    try:
        fd = os.open(text, os.O_RDONLY | os.O_CREAT | os.O_EXCL, MODE)
    except FileExistsError:  # and the journals an older version left beside it
        for name in (text, f"{text}-wal", f"{text}-shm", f"{text}-journal"):
            _narrow_path(name)
        return
    except OSError as exc:  # as SQLite itself would have said it (callers catch sqlite3.Error)
        raise sqlite3.OperationalError(
            f"unable to open database file: {exc.strerror or exc}"
        ) from None
    _narrow(fd)
    os.close(fd)


def open_private(path: str | Path) -> TextIO:
    """``path`` opened for writing text (UTF-8, truncated), mode 0600 before anything is
    written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, MODE)
    _narrow(fd)
    return os.fdopen(fd, "w", encoding="utf-8", newline="")
