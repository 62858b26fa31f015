"""The default store of durable waits: one SQLite file (the standard library's ``sqlite3``),
no server.

WAL mode, so readers never block the writer; ``busy_timeout`` so several processes can write
one file (each write is one short transaction; a claim is a ``BEGIN IMMEDIATE`` read and
write). ``synchronous=NORMAL``: a commit survives the process being killed (WAL), and a power
cut may lose the last commits, not the file. One connection per store object, used under a
lock, so threads of one process share it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from .base import KeyInUse, WaitStore, owner_is_gone, translated
from .records import WaitRecord

__all__ = ["SQLiteWaitStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS waits (
    key TEXT PRIMARY KEY,
    phase TEXT NOT NULL,
    owner TEXT,
    created REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS waits_phase ON waits (phase, created);
"""


def _where(store: SQLiteWaitStore) -> str:
    return f"the SQLite store {store.path.name}"


_db_errors = translated(sqlite3.Error, _where)


class SQLiteWaitStore(WaitStore):
    """Durable waits in the SQLite file ``path`` (created, with its directory's permission,
    mode 0600 for the file)."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise ValueError(f"the store's directory does not exist: {self.path.parent}")
        fresh = not self.path.exists()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            if fresh:
                os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"{self.path} is not a usable SQLite store ({exc})") from None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteWaitStore({str(self.path)!r})"

    def _write(self, record: WaitRecord) -> tuple[str, str, str | None, float, str]:
        record.updated = time.time()
        return (record.key, record.phase, record.owner, record.created, record.to_json())

    @_db_errors
    def add(self, record: WaitRecord) -> None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT phase FROM waits WHERE key = ?",
                                 (record.key,)).fetchone()
                if row is not None and row[0] != "done":
                    raise KeyInUse(f"a wait with key {record.key!r} is registered and not "
                                   "finished")
                db.execute("INSERT OR REPLACE INTO waits VALUES (?, ?, ?, ?, ?)",
                           self._write(record))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @_db_errors
    def save(self, record: WaitRecord) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO waits VALUES (?, ?, ?, ?, ?)",
                             self._write(record))

    @_db_errors
    def get(self, key: str) -> WaitRecord | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM waits WHERE key = ?", (key,)).fetchone()
        return None if row is None else WaitRecord.from_json(row[0])

    @_db_errors
    def unfinished(self) -> list[WaitRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM waits WHERE phase != 'done' ORDER BY created, key"
            ).fetchall()
        return [WaitRecord.from_json(r[0]) for r in rows]

    @_db_errors
    def claim(self, key: str, owner: str) -> WaitRecord | None:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT record FROM waits WHERE key = ?", (key,)).fetchone()
                record = None if row is None else WaitRecord.from_json(row[0])
                if record is None or record.phase == "done" or not (
                    record.owner == owner or owner_is_gone(record, stale_after=self.stale_after)
                ):
                    db.execute("ROLLBACK")
                    return None
                record.owner = owner
                db.execute("INSERT OR REPLACE INTO waits VALUES (?, ?, ?, ?, ?)",
                           self._write(record))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return record

    @_db_errors
    def release(self, key: str, owner: str) -> None:
        record = self.get(key)
        if record is not None and record.owner == owner and record.phase != "done":
            record.owner = None
            self.save(record)

    @_db_errors
    def delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM waits WHERE key = ?", (key,))

    def close(self) -> None:
        with self._lock:
            self._db.close()
