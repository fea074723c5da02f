"""Schema of the project-state store, as an ordered list of migrations.

`PRAGMA user_version` holds how many have been applied. Never edit a released
migration: append a new one, so old workspaces upgrade in place.
"""

MIGRATIONS: list[str] = [
    # 1: runs, metrics, artifacts with lineage, events (samples, notes)
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        stage TEXT NOT NULL,
        name TEXT,
        status TEXT NOT NULL CHECK (status IN
            ('queued','running','succeeded','failed','stopped','interrupted')),
        config TEXT NOT NULL DEFAULT '{}',
        command TEXT,
        device TEXT NOT NULL DEFAULT 'cpu',
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        pid INTEGER,
        pid_started REAL,
        exit_code INTEGER,
        error TEXT,
        progress_done REAL,
        progress_total REAL,
        progress_msg TEXT,
        progress_time REAL,
        summary TEXT,
        stop_requested INTEGER NOT NULL DEFAULT 0,
        parent_run TEXT
    );
    CREATE INDEX runs_stage_created ON runs(stage, created);
    CREATE INDEX runs_status ON runs(status);

    CREATE TABLE metrics (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        name TEXT NOT NULL,
        value REAL NOT NULL,
        time REAL NOT NULL
    );
    CREATE INDEX metrics_run ON metrics(run, id);

    CREATE TABLE artifacts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        run TEXT REFERENCES runs(id) ON DELETE SET NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        created REAL NOT NULL,
        UNIQUE (kind, name)
    );

    CREATE TABLE artifact_parents (
        artifact INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        parent INTEGER NOT NULL REFERENCES artifacts(id) ON DELETE CASCADE,
        PRIMARY KEY (artifact, parent)
    );

    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        time REAL NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_run ON events(run, id);
    """,
    # 2: the Korean wording of a run's error and progress message (the English stays in error / progress_msg)
    """
    ALTER TABLE runs ADD COLUMN error_ko TEXT;
    ALTER TABLE runs ADD COLUMN progress_msg_ko TEXT
    """,
]
