"""Record storage: an in-memory working set persisted to SQLite, with transactions.

Every record lives in memory as a dict (``data[model][id]``) and in SQLite as one
JSON row of table ``records``. Equality on the fields listed in
``schema.INDEXED`` is answered from in-memory hash indexes, so lookups by
``ref``/``name``/(``module``,``name``) stay O(1) whatever the table size; SQLite
is only read once at start-up.

One call = one transaction: ``begin()``, changes through ``put``/``delete``,
then ``commit()`` (one SQLite transaction, durable when it returns) or
``rollback()`` (memory restored exactly, nothing written). Callers serialise
transactions with ``lock``; ids consumed by a rolled-back call are not reused,
as with PostgreSQL sequences.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import defaultdict
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (model TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
                                    PRIMARY KEY (model, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sequences (model TEXT PRIMARY KEY, next_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def _hashable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


class Store:
    """The sandbox database. All methods expect ``lock`` to be held by the caller."""

    def __init__(self, path: str, indexed: dict[str, set[str]]):
        self.path = path
        self.lock = threading.RLock()
        self.indexed = indexed
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.conn.executescript(_SCHEMA)
        self.data: dict[str, dict[int, dict]] = defaultdict(dict)
        self.index: dict[tuple[str, str], dict[Any, set[int]]] = defaultdict(lambda: defaultdict(set))
        self.next_ids: dict[str, int] = {}
        self._undo: dict[tuple[str, int], dict | None] | None = None
        self._seq_dirty: set[str] = set()
        self._load()

    # -- loading ---------------------------------------------------------------------------
    def _load(self) -> None:
        for model, rid, blob in self.conn.execute("SELECT model, id, data FROM records"):
            rec = json.loads(blob)
            self.data[model][rid] = rec
            self._index_add(model, rid, rec)
        for model, next_id in self.conn.execute("SELECT model, next_id FROM sequences"):
            self.next_ids[model] = next_id

    def is_empty(self) -> bool:
        """True when the file holds no record yet (seed data must be created)."""
        return not any(self.data.values())

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- indexes ---------------------------------------------------------------------------
    def _index_add(self, model: str, rid: int, rec: dict) -> None:
        for fname in self.indexed.get(model, ()):
            value = rec.get(fname, False)
            if _hashable(value):
                self.index[(model, fname)][value].add(rid)

    def _index_remove(self, model: str, rid: int, rec: dict) -> None:
        for fname in self.indexed.get(model, ()):
            value = rec.get(fname, False)
            if _hashable(value):
                bucket = self.index[(model, fname)].get(value)
                if bucket is not None:
                    bucket.discard(rid)
                    if not bucket:
                        del self.index[(model, fname)][value]

    def lookup(self, model: str, fname: str, value: Any) -> set[int] | None:
        """Ids whose ``fname`` equals ``value``, or None when the field is not indexed.

        The returned set may be the index itself: callers must not mutate it.
        """
        if fname not in self.indexed.get(model, ()) or not _hashable(value):
            return None
        if value is False or value is None:
            # unset values are stored as missing keys or False; both index under False
            return self.index[(model, fname)].get(False, set()) | self.index[(model, fname)].get(
                None, set())
        return self.index[(model, fname)].get(value) or set()

    # -- transactions ----------------------------------------------------------------------
    def begin(self) -> None:
        """Start a transaction (one per RPC call)."""
        self._undo = {}
        self._seq_dirty = set()

    def new_id(self, model: str) -> int:
        """Next id of ``model`` (never reused, even after a rollback)."""
        if model not in self.next_ids:
            self.next_ids[model] = max(self.data[model], default=0) + 1
        rid = self.next_ids[model]
        self.next_ids[model] = rid + 1
        self._seq_dirty.add(model)
        return rid

    def reserve_ids(self, model: str, first_free: int) -> None:
        """Make the next id of ``model`` at least ``first_free`` (used by the seed)."""
        self.next_ids[model] = max(self.next_ids.get(model, 1), first_free)
        self._seq_dirty.add(model)

    def get(self, model: str, rid: int) -> dict | None:
        """The stored record (do not mutate it; use ``put``)."""
        return self.data[model].get(rid)

    def put(self, model: str, rid: int, rec: dict) -> None:
        """Insert or replace a record inside the current transaction."""
        old = self.data[model].get(rid)
        key = (model, rid)
        if self._undo is not None and key not in self._undo:
            self._undo[key] = old
        if old is not None:
            self._index_remove(model, rid, old)
        self.data[model][rid] = rec
        self._index_add(model, rid, rec)

    def delete(self, model: str, rid: int) -> None:
        """Remove a record inside the current transaction."""
        old = self.data[model].get(rid)
        if old is None:
            return
        key = (model, rid)
        if self._undo is not None and key not in self._undo:
            self._undo[key] = old
        self._index_remove(model, rid, old)
        del self.data[model][rid]

    def commit(self) -> None:
        """Write the transaction's changes to SQLite; durable once this returns."""
        undo, self._undo = self._undo or {}, None
        if not undo and not self._seq_dirty:
            return
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for model, rid in undo:
                rec = self.data[model].get(rid)
                if rec is None:
                    cur.execute("DELETE FROM records WHERE model=? AND id=?", (model, rid))
                else:
                    cur.execute("INSERT OR REPLACE INTO records(model, id, data) VALUES (?, ?, ?)",
                                (model, rid, json.dumps(rec, separators=(",", ":"))))
            for model in self._seq_dirty:
                cur.execute("INSERT OR REPLACE INTO sequences(model, next_id) VALUES (?, ?)",
                            (model, self.next_ids[model]))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        self._seq_dirty = set()

    def rollback(self) -> None:
        """Undo every change of the current transaction in memory."""
        undo, self._undo = self._undo or {}, None
        for (model, rid), old in undo.items():
            cur = self.data[model].get(rid)
            if cur is not None:
                self._index_remove(model, rid, cur)
                del self.data[model][rid]
            if old is not None:
                self.data[model][rid] = old
                self._index_add(model, rid, old)
        # sequences stay advanced in memory; they are persisted by the next commit
        self._seq_dirty = set(self.next_ids)

    def close(self) -> None:
        self.conn.close()
