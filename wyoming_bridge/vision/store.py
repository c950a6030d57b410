"""Media store: files in a data directory plus an SQLite index, with retention (blocking API)."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS media (
    media_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,            -- alert | upload | conversation | snapshot
    created REAL NOT NULL,         -- unix seconds
    device_id TEXT,
    zone TEXT,
    session_id TEXT,
    media_type TEXT NOT NULL,      -- image | audio | video
    format TEXT NOT NULL,
    event_type TEXT,               -- alert types for alerts, comma separated
    labels TEXT NOT NULL,          -- JSON list
    analysis TEXT NOT NULL,        -- JSON (visual context analysis, transcript, ...)
    path TEXT NOT NULL,            -- relative to the data directory
    size INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS media_created ON media (created);
CREATE INDEX IF NOT EXISTS media_device ON media (device_id, created);
"""


@dataclass
class MediaRecord:
    media_id: str
    kind: str
    created: float
    media_type: str
    format: str
    path: str
    size: int
    device_id: str | None = None
    zone: str | None = None
    session_id: str | None = None
    event_type: str | None = None
    labels: list[str] = field(default_factory=list)
    analysis: dict[str, Any] = field(default_factory=dict)


_FORMAT = re.compile(r"[a-z0-9]{1,10}")
"""A file extension the store writes (never a path: formats can come from uploads)."""

_COLUMNS = (
    "media_id, kind, created, media_type, format, path, size, device_id, zone, session_id,"
    " event_type, labels, analysis"
)


def _record(row: tuple[Any, ...]) -> MediaRecord:
    rec = MediaRecord(*row[:11])
    rec.labels = json.loads(row[11])
    rec.analysis = json.loads(row[12])
    return rec


class MediaStore:
    """Blocking API: call it through asyncio.to_thread from async code."""

    def __init__(self, data_dir: Path, *, retention_days: float, max_bytes: int) -> None:
        self.data_dir = data_dir
        self.retention_s = retention_days * 86400
        self.max_bytes = max_bytes
        (data_dir / "media").mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / "media.sqlite3", check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(
        self,
        kind: str,
        data: bytes,
        *,
        media_type: str,
        fmt: str,
        device_id: str | None = None,
        zone: str | None = None,
        session_id: str | None = None,
        event_type: str | None = None,
        labels: list[str] | None = None,
        analysis: dict[str, Any] | None = None,
        created: float | None = None,
    ) -> MediaRecord:
        """Write the file, index it, then apply retention."""
        created = time.time() if created is None else created
        media_id = f"m_{uuid.uuid4().hex[:16]}"
        day = time.strftime("%Y-%m-%d", time.gmtime(created))
        fmt = fmt.lower() if _FORMAT.fullmatch(fmt.lower()) else "bin"
        rel = f"media/{day}/{media_id}.{fmt}"
        target = self.data_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.rename(target)
        rec = MediaRecord(
            media_id, kind, created, media_type, fmt, rel, len(data),
            device_id, zone, session_id, event_type, labels or [], analysis or {},
        )  # fmt: skip
        with self._lock:
            self._db.execute(
                f"INSERT INTO media ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    rec.media_id, rec.kind, rec.created, rec.media_type, rec.format, rec.path,
                    rec.size, rec.device_id, rec.zone, rec.session_id, rec.event_type,
                    json.dumps(rec.labels), json.dumps(rec.analysis),
                ),
            )  # fmt: skip
            self._db.commit()
        self.enforce_retention()
        _LOGGER.debug("stored %s %s (%d bytes)", kind, media_id, len(data))
        return rec

    def get(self, media_id: str) -> MediaRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM media WHERE media_id = ?", (media_id,)
            ).fetchone()
        return _record(row) if row else None

    def read(self, record: MediaRecord) -> bytes:
        return (self.data_dir / record.path).read_bytes()

    def query(
        self,
        *,
        start: float | None = None,
        end: float | None = None,
        sources: list[str] | None = None,
        event_type: str | None = None,
        kind: str | None = None,
        limit: int = 5,
    ) -> list[MediaRecord]:
        """Newest first; `sources` matches device ids or zones."""
        where: list[str] = ["1=1"]
        args: list[Any] = []
        if start is not None:
            where.append("created >= ?")
            args.append(start)
        if end is not None:
            where.append("created <= ?")
            args.append(end)
        if sources:
            marks = ",".join("?" * len(sources))
            where.append(f"(device_id IN ({marks}) OR zone IN ({marks}))")
            args.extend(sources + sources)
        if event_type:
            where.append("(',' || event_type || ',') LIKE ?")
            args.append(f"%,{event_type},%")
        if kind:
            where.append("kind = ?")
            args.append(kind)
        sql = f"SELECT {_COLUMNS} FROM media WHERE {' AND '.join(where)} ORDER BY created DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_record(r) for r in rows]

    def sources(self) -> set[str]:
        """Every device id and zone that has stored media."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT device_id, zone FROM media").fetchall()
        return {value for row in rows for value in row if value}

    def total_bytes(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM media").fetchone()[0])

    def enforce_retention(self, now: float | None = None) -> int:
        """Delete items older than the retention age, then the oldest until under max_bytes
        (other media before alerts). The newest alert of each zone and alert type is kept
        whatever its age or size: the published alert Home Assistant shows points to it."""
        now = time.time() if now is None else now
        with self._lock:
            kept = self._latest_alerts()
            doomed = [
                (mid, path)
                for mid, path in self._db.execute(
                    "SELECT media_id, path FROM media WHERE created < ?", (now - self.retention_s,)
                ).fetchall()
                if mid not in kept
            ]
            total = int(self._db.execute("SELECT COALESCE(SUM(size), 0) FROM media").fetchone()[0])
            total -= sum(self._size_of(mid) for mid, _ in doomed)
            if total > self.max_bytes:
                gone = {mid for mid, _ in doomed} | kept
                for mid, path, size in self._db.execute(
                    "SELECT media_id, path, size FROM media"
                    " ORDER BY kind = 'alert' ASC, created ASC"
                ).fetchall():
                    if total <= self.max_bytes:
                        break
                    if mid not in gone:
                        doomed.append((mid, path))
                        total -= size
            for mid, path in doomed:
                (self.data_dir / path).unlink(missing_ok=True)
                self._db.execute("DELETE FROM media WHERE media_id = ?", (mid,))
            self._db.commit()
        if doomed:
            _LOGGER.info("retention removed %d media items", len(doomed))
        return len(doomed)

    def _latest_alerts(self) -> set[str]:
        """Media ids of the newest alert per (zone or device, alert type); caller holds the lock."""
        newest: dict[tuple[str, str], tuple[float, str]] = {}
        for mid, created, zone, device_id, event_type in self._db.execute(
            "SELECT media_id, created, zone, device_id, event_type FROM media WHERE kind = 'alert'"
        ):
            for alert_type in (event_type or "").split(","):
                key = (zone or device_id or "", alert_type)
                if key not in newest or created > newest[key][0]:
                    newest[key] = (created, mid)
        return {mid for _, mid in newest.values()}

    def _size_of(self, media_id: str) -> int:
        row = self._db.execute("SELECT size FROM media WHERE media_id = ?", (media_id,)).fetchone()
        return int(row[0]) if row else 0
