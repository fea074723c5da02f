"""The project-state store: one SQLite database in WAL mode per workspace.

Several processes write at once (the app's supervisor thread, every job's child
process, a CLI run in a terminal), so:
- every connection is per thread (sqlite3 objects are not shared across threads);
- WAL lets readers proceed while one writer writes;
- every write is a short `BEGIN IMMEDIATE` transaction, which takes the write lock
  up front (a deferred transaction that upgrades later can fail with SQLITE_BUSY
  without waiting), plus a busy timeout and a retry loop, so callers never see
  "database is locked".
"""
from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .i18n import Text
from .migrations import MIGRATIONS
from .names import check_name

STATUSES = ("queued", "running", "succeeded", "failed", "stopped", "interrupted")
ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "stopped", "interrupted")

_WRITE_RETRY_SECONDS = 120.0


class StoreError(RuntimeError):
    pass


class ArtifactExists(StoreError):
    pass


@dataclass
class Run:
    id: str
    stage: str
    status: str
    config: dict
    created: float
    name: str | None = None
    command: list | None = None
    device: str = "cpu"
    started: float | None = None
    ended: float | None = None
    pid: int | None = None
    pid_started: float | None = None
    exit_code: int | None = None
    error: str | None = None  # a Text: English, with .ko (state.i18n)
    progress_done: float | None = None
    progress_total: float | None = None
    progress_msg: str | None = None  # a Text, like error
    progress_time: float | None = None
    summary: dict | None = None
    stop_requested: bool = False
    parent_run: str | None = None

    @property
    def duration(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    @property
    def fraction(self) -> float | None:
        if self.progress_total and self.progress_done is not None:
            return max(0.0, min(1.0, self.progress_done / self.progress_total))
        return None

    @property
    def eta(self) -> float | None:
        """Seconds left, extrapolated from the progress made since the run started."""
        f = self.fraction
        if self.status != "running" or not f or self.started is None:
            return None
        elapsed = (self.progress_time or time.time()) - self.started
        return max(0.0, elapsed / f * (1.0 - f) - (time.time() - (self.progress_time or time.time())))


@dataclass
class Artifact:
    id: int
    kind: str
    name: str
    path: str
    run: str | None
    meta: dict
    created: float
    parents: list[int] = field(default_factory=list)


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, ensure_ascii=False, default=str)


def _two(text: Any) -> tuple[str | None, str | None]:
    """(English, Korean) columns of a message: a Text has both; a plain string reads the same in each."""
    if text is None:
        return None, None
    if isinstance(text, Text):
        return text.en, text.ko
    return str(text), None


def _unjson(s: str | None) -> Any:
    return None if s is None else json.loads(s)


class Store:
    """All reads and writes of `<workspace>/workbench.db`."""

    def __init__(self, db_path: str | os.PathLike):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    # -- connections -------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _write(self, fn, *args):
        """Run fn(conn, *args) inside BEGIN IMMEDIATE, retrying while another writer holds the lock."""
        conn = self._conn()
        deadline = time.monotonic() + _WRITE_RETRY_SECONDS
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if ("locked" in str(e) or "busy" in str(e)) and time.monotonic() < deadline:
                    time.sleep(0.01 + random.random() * 0.05)
                    continue
                raise
            try:
                out = fn(conn, *args)
                conn.execute("COMMIT")
                return out
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        conn = self._conn()
        deadline = time.monotonic() + _WRITE_RETRY_SECONDS
        while True:
            try:
                return conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.OperationalError as e:
                if ("locked" in str(e) or "busy" in str(e)) and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                raise

    def _migrate(self) -> None:
        def apply(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for i in range(version, len(MIGRATIONS)):
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute(f"PRAGMA user_version={i + 1}")

        self._write(apply)

    @property
    def schema_version(self) -> int:
        return self._read("PRAGMA user_version")[0][0]

    # -- runs --------------------------------------------------------------------
    @staticmethod
    def new_run_id(stage: str) -> str:
        return f"{stage}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"

    def create_run(self, stage: str, config: dict, *, run_id: str | None = None, name: str | None = None,
                   command: list | None = None, device: str = "cpu", status: str = "queued",
                   parent_run: str | None = None) -> str:
        run_id = check_name(run_id or self.new_run_id(stage), "run id")
        if name:
            name = check_name(name, "run name")
        now = time.time()

        def ins(conn):
            conn.execute(
                "INSERT INTO runs (id, stage, name, status, config, command, device, created, started, parent_run)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run_id, stage, name, status, _json(config), _json(command), device, now,
                 now if status == "running" else None, parent_run),
            )

        self._write(ins)
        return run_id

    _RUN_COLUMNS = {"name", "status", "config", "command", "device", "started", "ended", "pid", "pid_started",
                    "exit_code", "error", "progress_done", "progress_total", "progress_msg", "progress_time",
                    "summary", "stop_requested", "parent_run", "error_ko", "progress_msg_ko"}

    def update_run(self, run_id: str, **fields) -> None:
        bad = set(fields) - self._RUN_COLUMNS
        if bad:
            raise StoreError(f"unknown run fields {sorted(bad)}")
        if "status" in fields and fields["status"] not in STATUSES:
            raise StoreError(f"unknown status {fields['status']!r}")
        for k in ("config", "command", "summary"):
            if k in fields:
                fields[k] = _json(fields[k])
        for k in ("error", "progress_msg"):  # both wordings of a message a person reads
            if k in fields:
                fields[k], fields[k + "_ko"] = _two(fields[k])
        cols = ", ".join(f"{k}=?" for k in fields)

        def upd(conn):
            conn.execute(f"UPDATE runs SET {cols} WHERE id=?", (*fields.values(), run_id))

        self._write(upd)

    def finish_run(self, run_id: str, status: str, *, error: str | None = None, exit_code: int | None = None,
                   summary: dict | None = None, only_if_active: bool = False) -> bool:
        """Mark a run ended. With only_if_active, leave a run that already ended alone (returns False)."""
        assert status in FINISHED, status

        def fin(conn):
            if only_if_active:
                row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None or row["status"] not in ACTIVE:
                    return False
            sets = ["status=?", "ended=?"]
            vals: list = [status, time.time()]
            en, ko = _two(error)
            if en is not None:  # both wordings together (a plain string clears an older Korean one)
                sets += ["error=?", "error_ko=?"]
                vals += [en, ko]
            for k, v in (("exit_code", exit_code), ("summary", _json(summary))):
                if v is not None:
                    sets.append(f"{k}=?")
                    vals.append(v)
            conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id=?", (*vals, run_id))
            return True

        return self._write(fin)

    def claim_next(self, device: str) -> Run | None:
        """Atomically take the oldest queued run of a device whose device has nothing running."""
        def claim(conn):
            busy = conn.execute("SELECT 1 FROM runs WHERE status='running' AND device=? LIMIT 1", (device,)).fetchone()
            if busy:
                return None
            row = conn.execute("SELECT id FROM runs WHERE status='queued' AND device=? ORDER BY created, rowid LIMIT 1",
                               (device,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE runs SET status='running', started=? WHERE id=?", (time.time(), row["id"]))
            return row["id"]

        run_id = self._write(claim)
        return self.get_run(run_id) if run_id else None

    def requeue(self, run_id: str, command: list | None = None) -> None:
        """Put an ended run back in the queue (resume), clearing how it ended."""
        def rq(conn):
            sets = "status='queued', ended=NULL, error=NULL, error_ko=NULL, exit_code=NULL, stop_requested=0, pid=NULL, " \
                   "pid_started=NULL, summary=NULL"
            if command is not None:
                conn.execute(f"UPDATE runs SET {sets}, command=? WHERE id=?", (_json(command), run_id))
            else:
                conn.execute(f"UPDATE runs SET {sets} WHERE id=?", (run_id,))

        self._write(rq)

    def delete_metrics_after(self, run_id: str, step: int) -> None:
        """Drop metrics past a checkpoint's step, so a resumed run's curves continue without duplicates."""
        self._write(lambda c: c.execute("DELETE FROM metrics WHERE run=? AND step>?", (run_id, step)))

    def set_progress(self, run_id: str, done: float, total: float | None, msg: str | None = None) -> None:
        self.update_run(run_id, progress_done=done, progress_total=total, progress_msg=msg, progress_time=time.time())

    @staticmethod
    def _row_to_run(row: sqlite3.Row) -> Run:
        d = dict(row)
        for k in ("config", "command", "summary"):
            d[k] = _unjson(d[k])
        d["config"] = d["config"] or {}
        d["stop_requested"] = bool(d["stop_requested"])
        for k in ("error", "progress_msg"):
            ko = d.pop(k + "_ko", None)
            if d[k] is not None:
                d[k] = Text(d[k], ko)
        return Run(**d)

    def get_run(self, run_id: str) -> Run | None:
        rows = self._read("SELECT * FROM runs WHERE id=?", (run_id,))
        return self._row_to_run(rows[0]) if rows else None

    def list_runs(self, stage: str | None = None, status: Iterable[str] | None = None, limit: int = 200) -> list[Run]:
        sql, params = "SELECT * FROM runs WHERE 1=1", []
        if stage:
            sql += " AND stage=?"
            params.append(stage)
        if status:
            status = list(status)
            sql += f" AND status IN ({','.join('?' * len(status))})"
            params += status
        sql += " ORDER BY created DESC, rowid DESC LIMIT ?"
        params.append(limit)
        return [self._row_to_run(r) for r in self._read(sql, params)]

    def queue_position(self, run_id: str) -> int | None:
        """1-based place in its device's queue, or None if it is not queued."""
        run = self.get_run(run_id)
        if run is None or run.status != "queued":
            return None
        rows = self._read("SELECT id FROM runs WHERE status='queued' AND device=? ORDER BY created, rowid", (run.device,))
        return [r["id"] for r in rows].index(run_id) + 1

    def request_stop(self, run_id: str) -> None:
        self.update_run(run_id, stop_requested=1)

    def delete_run(self, run_id: str) -> None:
        self._write(lambda c: c.execute("DELETE FROM runs WHERE id=?", (run_id,)))

    # -- metrics -----------------------------------------------------------------
    def log_metrics(self, run_id: str, rows: Iterable[tuple[int, str, float]], when: float | None = None) -> int:
        """Insert (step, name, value) rows in one transaction. Non-finite values are kept out."""
        now = when or time.time()
        data = [(run_id, int(s), str(n), float(v), now) for s, n, v in rows
                if v is not None and float(v) == float(v) and abs(float(v)) != float("inf")]
        if data:
            self._write(lambda c: c.executemany(
                "INSERT INTO metrics (run, step, name, value, time) VALUES (?,?,?,?,?)", data))
        return len(data)

    def metrics(self, run_id: str, names: Iterable[str] | None = None, after_id: int = 0) -> list[dict]:
        sql, params = "SELECT id, step, name, value, time FROM metrics WHERE run=? AND id>?", [run_id, after_id]
        if names:
            names = list(names)
            sql += f" AND name IN ({','.join('?' * len(names))})"
            params += names
        return [dict(r) for r in self._read(sql + " ORDER BY id", params)]

    def metric_count(self, run_id: str) -> int:
        return self._read("SELECT COUNT(*) FROM metrics WHERE run=?", (run_id,))[0][0]

    def last_metrics(self, run_id: str) -> dict[str, float]:
        rows = self._read(
            "SELECT name, value FROM metrics WHERE id IN (SELECT MAX(id) FROM metrics WHERE run=? GROUP BY name)",
            (run_id,))
        return {r["name"]: r["value"] for r in rows}

    # -- events ------------------------------------------------------------------
    def add_event(self, run_id: str, kind: str, payload: Any) -> None:
        self._write(lambda c: c.execute("INSERT INTO events (run, time, kind, payload) VALUES (?,?,?,?)",
                                        (run_id, time.time(), kind, _json(payload))))

    def events(self, run_id: str, kind: str | None = None, limit: int = 100) -> list[dict]:
        sql, params = "SELECT id, time, kind, payload FROM events WHERE run=?", [run_id]
        if kind:
            sql += " AND kind=?"
            params.append(kind)
        rows = self._read(sql + " ORDER BY id DESC LIMIT ?", params + [limit])
        return [dict(id=r["id"], time=r["time"], kind=r["kind"], payload=_unjson(r["payload"])) for r in reversed(rows)]

    # -- artifacts ---------------------------------------------------------------
    def add_artifact(self, kind: str, name: str, path: str | os.PathLike, *, run: str | None = None,
                     parents: Iterable[int] = (), meta: dict | None = None, overwrite: bool = False) -> int:
        kind = check_name(kind, "artifact kind")
        name = check_name(name, "artifact name")
        parents = [int(p) for p in parents]

        def add(conn):
            row = conn.execute("SELECT id FROM artifacts WHERE kind=? AND name=?", (kind, name)).fetchone()
            if row is not None and not overwrite:
                raise ArtifactExists(
                    f"a {kind} artifact named '{name}' already exists: choose another name, or allow overwriting.")
            if row is not None:
                art_id = row["id"]
                conn.execute("UPDATE artifacts SET path=?, run=?, meta=?, created=? WHERE id=?",
                             (str(path), run, _json(meta or {}), time.time(), art_id))
                conn.execute("DELETE FROM artifact_parents WHERE artifact=?", (art_id,))
            else:
                art_id = conn.execute(
                    "INSERT INTO artifacts (kind, name, path, run, meta, created) VALUES (?,?,?,?,?,?)",
                    (kind, name, str(path), run, _json(meta or {}), time.time())).lastrowid
            for p in parents:
                if p != art_id:
                    conn.execute("INSERT OR IGNORE INTO artifact_parents (artifact, parent) VALUES (?,?)", (art_id, p))
            return art_id

        return self._write(add)

    def _row_to_artifact(self, row: sqlite3.Row) -> Artifact:
        parents = [r["parent"] for r in self._read("SELECT parent FROM artifact_parents WHERE artifact=?", (row["id"],))]
        return Artifact(id=row["id"], kind=row["kind"], name=row["name"], path=row["path"], run=row["run"],
                        meta=_unjson(row["meta"]) or {}, created=row["created"], parents=parents)

    def get_artifact(self, art_id: int | None = None, *, kind: str | None = None, name: str | None = None) -> Artifact | None:
        if art_id is not None:
            rows = self._read("SELECT * FROM artifacts WHERE id=?", (int(art_id),))
        else:
            rows = self._read("SELECT * FROM artifacts WHERE kind=? AND name=?", (kind, name))
        return self._row_to_artifact(rows[0]) if rows else None

    def list_artifacts(self, kind: str | Iterable[str] | None = None, run: str | None = None) -> list[Artifact]:
        sql, params = "SELECT * FROM artifacts WHERE 1=1", []
        if kind:
            kinds = [kind] if isinstance(kind, str) else list(kind)
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += kinds
        if run:
            sql += " AND run=?"
            params.append(run)
        return [self._row_to_artifact(r) for r in self._read(sql + " ORDER BY created DESC, id DESC", params)]

    def lineage(self, art_id: int) -> Iterator[Artifact]:
        """The artifact and all its ancestors, nearest first (each once)."""
        seen, todo = set(), [int(art_id)]
        while todo:
            a = self.get_artifact(todo.pop(0))
            if a is None or a.id in seen:
                continue
            seen.add(a.id)
            yield a
            todo.extend(a.parents)

    def delete_artifact(self, art_id: int) -> None:
        self._write(lambda c: c.execute("DELETE FROM artifacts WHERE id=?", (int(art_id),)))

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check")[0][0] == "ok"
