"""A store of durable waits in this process's memory: nothing survives a restart. For a wait
that wants the durable machinery (webhooks, a handler) without a file; tests."""

from __future__ import annotations

import threading

from .base import KeyInUse, WaitStore
from .records import WaitRecord

__all__ = ["MemoryWaitStore"]


class MemoryWaitStore(WaitStore):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, str] = {}

    def add(self, record: WaitRecord) -> None:
        with self._lock:
            old = self._records.get(record.key)
            if old is not None and WaitRecord.from_json(old).phase != "done":
                raise KeyInUse(f"a wait with key {record.key!r} is registered and not finished")
            self._records[record.key] = record.to_json()

    def save(self, record: WaitRecord) -> None:
        with self._lock:
            self._records[record.key] = record.to_json()

    def get(self, key: str) -> WaitRecord | None:
        with self._lock:
            raw = self._records.get(key)
        return None if raw is None else WaitRecord.from_json(raw)

    def unfinished(self) -> list[WaitRecord]:
        with self._lock:
            records = [WaitRecord.from_json(r) for r in self._records.values()]
        return sorted((r for r in records if r.phase != "done"), key=lambda r: r.created)

    def claim(self, key: str, owner: str) -> WaitRecord | None:
        with self._lock:
            raw = self._records.get(key)
            record = None if raw is None else WaitRecord.from_json(raw)
            if record is None or record.phase == "done" or record.owner not in (None, owner):
                return None
            record.owner = owner
            self._records[key] = record.to_json()
            return record

    def release(self, key: str, owner: str) -> None:
        record = self.get(key)
        if record is not None and record.owner == owner:
            record.owner = None
            self.save(record)

    def delete(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)
