//! Forward-only schema migrations. Each entry moves the workspace from version `i` to `i + 1`
//! and runs in its own transaction; `PRAGMA user_version` records the version reached.
//! Never edit a released migration: add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: projects and their definitions.
    r"
    CREATE TABLE projects (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL,
        source_dir  TEXT,
        schedules   TEXT NOT NULL,
        revision    INTEGER NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE assets (
        project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        position     INTEGER NOT NULL,
        key          TEXT NOT NULL,
        layer        TEXT NOT NULL CHECK (layer IN ('bronze', 'silver', 'gold')),
        description  TEXT NOT NULL,
        owner        TEXT,
        asset_group  TEXT,
        code_version TEXT,
        tags         TEXT NOT NULL,
        definition   TEXT NOT NULL,
        partitions   TEXT NOT NULL,
        freshness    TEXT,
        compute      TEXT NOT NULL,
        pii          TEXT NOT NULL,
        PRIMARY KEY (project_id, position)
    );
    CREATE INDEX assets_by_key ON assets (project_id, key);
    CREATE TABLE dependencies (
        project_id     INTEGER NOT NULL,
        asset_position INTEGER NOT NULL,
        position       INTEGER NOT NULL,
        upstream_key   TEXT NOT NULL,
        PRIMARY KEY (project_id, asset_position, position),
        FOREIGN KEY (project_id, asset_position) REFERENCES assets(project_id, position) ON DELETE CASCADE
    );
    CREATE TABLE checks (
        project_id     INTEGER NOT NULL,
        asset_position INTEGER NOT NULL,
        position       INTEGER NOT NULL,
        name           TEXT NOT NULL,
        kind           TEXT NOT NULL,
        severity       TEXT NOT NULL CHECK (severity IN ('warn', 'error')),
        blocking       INTEGER NOT NULL,
        description    TEXT NOT NULL,
        spec           TEXT NOT NULL,
        PRIMARY KEY (project_id, asset_position, position),
        FOREIGN KEY (project_id, asset_position) REFERENCES assets(project_id, position) ON DELETE CASCADE
    );
    CREATE TABLE resources (
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        name        TEXT NOT NULL,
        kind        TEXT NOT NULL,
        description TEXT NOT NULL,
        config      TEXT NOT NULL,
        PRIMARY KEY (project_id, position)
    );
    CREATE TABLE layout (
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        asset_key  TEXT NOT NULL,
        x          REAL NOT NULL,
        y          REAL NOT NULL,
        PRIMARY KEY (project_id, asset_key)
    );
    ",
    // 2: runs and what they produce, ready for the engine.
    r"
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        selection     TEXT NOT NULL,
        partition_key TEXT,
        target        TEXT NOT NULL,
        status        TEXT NOT NULL CHECK (status IN
                        ('queued', 'starting', 'started', 'success', 'failure', 'canceling', 'canceled')),
        trigger       TEXT NOT NULL,
        created_at    TEXT NOT NULL,
        started_at    TEXT,
        ended_at      TEXT,
        error         TEXT
    );
    CREATE INDEX runs_by_project ON runs (project_id, created_at);
    CREATE TABLE run_events (
        run_id    TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        seq       INTEGER NOT NULL,
        timestamp TEXT NOT NULL,
        asset_key TEXT,
        kind      TEXT NOT NULL,
        level     TEXT,
        message   TEXT NOT NULL,
        payload   TEXT,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE materializations (
        id              INTEGER PRIMARY KEY,
        run_id          TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        asset_key       TEXT NOT NULL,
        partition_key   TEXT,
        location        TEXT NOT NULL,
        row_count       INTEGER NOT NULL,
        byte_count      INTEGER NOT NULL,
        schema          TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        code_version    TEXT,
        input_versions  TEXT NOT NULL,
        data_version    TEXT NOT NULL,
        created_at      TEXT NOT NULL
    );
    CREATE INDEX materializations_by_asset ON materializations (asset_key, partition_key, created_at);
    CREATE TABLE check_evaluations (
        id             INTEGER PRIMARY KEY,
        run_id         TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        asset_key      TEXT NOT NULL,
        partition_key  TEXT,
        check_name     TEXT NOT NULL,
        passed         INTEGER NOT NULL,
        severity       TEXT NOT NULL CHECK (severity IN ('warn', 'error')),
        blocking       INTEGER NOT NULL,
        description    TEXT NOT NULL,
        failing_count  INTEGER NOT NULL,
        failing_sample TEXT,
        created_at     TEXT NOT NULL
    );
    CREATE INDEX check_evaluations_by_asset ON check_evaluations (asset_key, check_name, created_at);
    ",
    // 3: remote runs on AWS — every remote identifier, log position and measured figure, so
    // a run survives the app's restart and its actual cost can be computed.
    r"
    CREATE TABLE remote_runs (
        run_id           TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        aws_resource     TEXT NOT NULL,
        request          TEXT NOT NULL,
        finished         INTEGER NOT NULL DEFAULT 0,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        driver           TEXT,
        lease_until      TEXT,
        next_seq         INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE remote_steps (
        run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        position      INTEGER NOT NULL,
        step_id       TEXT NOT NULL,
        tier          TEXT NOT NULL,
        tier_reason   TEXT NOT NULL,
        assets        TEXT NOT NULL,
        partitions    TEXT NOT NULL,
        vcpu          REAL NOT NULL,
        memory_mb     INTEGER NOT NULL,
        spot          INTEGER NOT NULL,
        timeout_secs  INTEGER,
        status        TEXT NOT NULL CHECK (status IN
                        ('pending', 'submitting', 'submitted', 'success', 'failure', 'canceled', 'skipped')),
        remote_id     TEXT,
        plan_uri      TEXT,
        result_uri    TEXT,
        remote_status TEXT,
        exit_code     INTEGER,
        stop_reason   TEXT,
        submitted_at  TEXT,
        ended_at      TEXT,
        duration_secs REAL,
        error         TEXT,
        PRIMARY KEY (run_id, position)
    );
    CREATE TABLE remote_logs (
        run_id       TEXT NOT NULL,
        position     INTEGER NOT NULL,
        child        INTEGER NOT NULL,
        log_position TEXT,
        next_event   INTEGER NOT NULL DEFAULT 0,
        done         INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, position, child),
        FOREIGN KEY (run_id, position) REFERENCES remote_steps(run_id, position) ON DELETE CASCADE
    );
    ",
    // 4: the compute planner's costs — estimated and actual cost per run step — and the
    // user's price overrides. Tables prefixed cost_ / price_.
    r"
    CREATE TABLE cost_run_steps (
        run_id              TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        asset_key           TEXT NOT NULL,
        partition_key       TEXT NOT NULL DEFAULT '',
        tier                TEXT NOT NULL,
        vcpu                REAL NOT NULL,
        memory_mb           INTEGER NOT NULL,
        spot                INTEGER NOT NULL,
        est_duration_secs   REAL,
        est_cost_usd        REAL,
        actual_duration_secs REAL,
        actual_cost_usd     REAL,
        prices_as_of        TEXT,
        missing_price       TEXT,
        updated_at          TEXT NOT NULL,
        PRIMARY KEY (run_id, asset_key, partition_key)
    );
    CREATE INDEX cost_run_steps_by_asset ON cost_run_steps (asset_key, updated_at);
    CREATE TABLE price_overrides (
        price_id  TEXT PRIMARY KEY,
        usd       REAL NOT NULL CHECK (usd >= 0),
        item      TEXT,
        edited_on TEXT NOT NULL
    );
    ",
    // 5: retention — when an old materialization's file was removed. The row stays, so row
    // counts over time and run history keep working.
    r"
    ALTER TABLE materializations ADD COLUMN purged_at TEXT;
    ",
    // 6: which revision the last import from a directory wrote, so an import can tell edits
    // made in the workspace since then (no row: never imported, or imported before this).
    r"
    CREATE TABLE project_imports (
        project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
        revision   INTEGER NOT NULL
    );
    ",
    // 7: who runs a run — the process id and its start time (and where that pid means
    // something), and a heartbeat — so a run whose process is gone (killed, out of memory)
    // can be found and ended as failed instead of staying queued or started forever.
    r"
    ALTER TABLE runs ADD COLUMN owner_host TEXT;
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_start TEXT;
    ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
    CREATE INDEX runs_by_status ON runs (status);
    ",
    // 8: checks are definitions too — which definition of a check a result is for
    // (`check_hash`) and which materialization it judged (an earlier run's, when only the
    // checks ran); runs that overrode a failed check, and checks-only runs.
    r"
    ALTER TABLE check_evaluations ADD COLUMN check_hash TEXT NOT NULL DEFAULT '';
    ALTER TABLE check_evaluations ADD COLUMN materialization_run_id TEXT;
    UPDATE check_evaluations SET materialization_run_id = run_id;
    CREATE INDEX check_evaluations_by_materialization
        ON check_evaluations (materialization_run_id, asset_key);
    ALTER TABLE runs ADD COLUMN allow_failed_upstream INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN checks_only INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX run_events_by_kind ON run_events (kind, asset_key);
    ",
    // 9: alerts — the project's alert targets and rules (JSON), every alert raised and every
    // delivery attempt, the freshness episodes already alerted (one alert per episode), and a
    // queue of finished runs filled by a trigger, so every run that ends — by any path — is
    // considered for alerts exactly once, even after a crash.
    r"
    ALTER TABLE projects ADD COLUMN alerts TEXT NOT NULL DEFAULT '{}';
    CREATE TABLE alert_events (
        id         INTEGER PRIMARY KEY,
        project    TEXT NOT NULL,
        kind       TEXT NOT NULL,
        subject    TEXT NOT NULL,
        summary    TEXT NOT NULL,
        payload    TEXT NOT NULL,
        raised_at  TEXT NOT NULL
    );
    CREATE INDEX alert_events_by_project ON alert_events (project, raised_at);
    CREATE TABLE alert_deliveries (
        id           INTEGER PRIMARY KEY,
        event_id     INTEGER NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
        rule         TEXT NOT NULL,
        target       TEXT NOT NULL,
        target_kind  TEXT NOT NULL,
        attempt      INTEGER NOT NULL,
        attempted_at TEXT NOT NULL,
        ok           INTEGER NOT NULL,
        final        INTEGER NOT NULL,
        answer       TEXT NOT NULL
    );
    CREATE INDEX alert_deliveries_by_event ON alert_deliveries (event_id);
    CREATE TABLE freshness_alerts (
        project         TEXT NOT NULL,
        asset_key       TEXT NOT NULL,
        materialized_at TEXT NOT NULL,
        overdue_since   TEXT NOT NULL,
        alerted_at      TEXT NOT NULL,
        PRIMARY KEY (project, asset_key, materialized_at)
    );
    CREATE TABLE alert_run_outbox (
        run_id     TEXT PRIMARY KEY,
        queued_at  TEXT NOT NULL,
        claimed_at TEXT,
        done_at    TEXT
    );
    CREATE TRIGGER runs_finished_to_alert_outbox AFTER UPDATE OF status ON runs
    WHEN NEW.status IN ('success', 'failure', 'canceled')
     AND OLD.status NOT IN ('success', 'failure', 'canceled')
    BEGIN
        INSERT OR IGNORE INTO alert_run_outbox (run_id, queued_at)
        VALUES (NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    END;
    ",
    // 10: automation — every tick of a schedule or sensor with its outcome and reason, schedule
    // and sensor cursors, run keys (unique: a request is made once), the lease that says which
    // process evaluates a project's automation, and on/off switches. Keyed by project name, so
    // a re-import keeps cursors and run keys. (Sensor definitions live beside the schedules in
    // `projects.schedules`.)
    r"
    CREATE TABLE automation_ticks (
        id           INTEGER PRIMARY KEY,
        project      TEXT NOT NULL,
        automation   TEXT NOT NULL,
        kind         TEXT NOT NULL CHECK (kind IN ('schedule', 'sensor')),
        tick_at      TEXT NOT NULL,
        evaluated_at TEXT NOT NULL,
        outcome      TEXT NOT NULL CHECK (outcome IN ('requested', 'skipped', 'failed')),
        reason       TEXT NOT NULL,
        run_id       TEXT,
        run_key      TEXT,
        holder       TEXT NOT NULL
    );
    CREATE INDEX automation_ticks_by_project ON automation_ticks (project, automation, id);
    CREATE TABLE automation_cursors (
        project      TEXT NOT NULL,
        automation   TEXT NOT NULL,
        cursor       TEXT,
        evaluated_at TEXT,
        PRIMARY KEY (project, automation)
    );
    CREATE TABLE automation_run_keys (
        project       TEXT NOT NULL,
        automation    TEXT NOT NULL,
        run_key       TEXT NOT NULL,
        run_id        TEXT NOT NULL UNIQUE,
        partition_key TEXT,
        tick_id       INTEGER NOT NULL,
        state         TEXT NOT NULL CHECK (state IN ('reserved', 'launched', 'failed')),
        requested_at  TEXT NOT NULL,
        error         TEXT,
        PRIMARY KEY (project, automation, run_key)
    );
    CREATE TABLE automation_leases (
        project     TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        acquired_ms INTEGER NOT NULL,
        expires_ms  INTEGER NOT NULL
    );
    CREATE TABLE automation_switches (
        project    TEXT NOT NULL,
        automation TEXT NOT NULL,
        enabled    INTEGER NOT NULL,
        changed_at TEXT NOT NULL,
        PRIMARY KEY (project, automation)
    );
    ",
    // 11: a run ended by a later process after its own died has an unknown end time.
    "ALTER TABLE runs ADD COLUMN end_known INTEGER NOT NULL DEFAULT 1;",
    // 12: the automation lease records its holder's process (where its pid can be looked up,
    // the pid, its start time), so a lease whose holder died is taken over at once instead of
    // when it expires.
    r"
    ALTER TABLE automation_leases ADD COLUMN owner_host TEXT;
    ALTER TABLE automation_leases ADD COLUMN owner_pid INTEGER;
    ALTER TABLE automation_leases ADD COLUMN owner_start TEXT;
    ",
    // 13: the audit log — append-only, each entry holding the previous entry's hash (a hash
    // chain, `store::audit`). AUTOINCREMENT keeps the highest number ever given in
    // `sqlite_sequence`, so deleting the newest entries shows too. Keyed by project name, not
    // id: the entries outlive the project.
    r"
    CREATE TABLE audit_log (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        at            TEXT NOT NULL,
        who           TEXT NOT NULL,
        action        TEXT NOT NULL,
        project       TEXT,
        subject       TEXT NOT NULL,
        place         TEXT NOT NULL,
        estimated_usd REAL,
        actual_usd    REAL,
        detail        TEXT NOT NULL,
        prev_hash     TEXT NOT NULL,
        hash          TEXT NOT NULL
    );
    CREATE INDEX audit_log_by_project ON audit_log (project, seq);
    CREATE INDEX audit_log_by_subject ON audit_log (subject, action);
    ",
    // 14: how long a project's run history is kept (`model::RunRetention` as JSON; NULL: the
    // defaults).
    "ALTER TABLE projects ADD COLUMN retention TEXT;",
    // 15: an asset's schema contract (`model::contract::Contract` as JSON; NULL: none).
    "ALTER TABLE assets ADD COLUMN contract TEXT;",
    // 16: a project's masking policies bound to PII tags (`model::masking::MaskingPolicies` as
    // JSON; NULL: none).
    "ALTER TABLE projects ADD COLUMN masking TEXT;",
    // 17: an asset's SQL unit tests (`model::unit_test::UnitTest`s as a JSON array; NULL: none).
    "ALTER TABLE assets ADD COLUMN unit_tests TEXT;",
    // 18: the AWS resource and account a run ran under (remote launches and runs synced from a
    // deployment), for its audit entries; `account` is NULL when STS could not tell it.
    r"
    CREATE TABLE run_aws (
        run_id   TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        resource TEXT NOT NULL,
        account  TEXT
    );
    ",
    // 19: PII proposals dismissed in the studio (a column that looked like a kind of personal
    // data and is not), so they are not proposed again. Keyed by project name, like the
    // automation tables: a re-import keeps them.
    r"
    CREATE TABLE pii_dismissals (
        project      TEXT NOT NULL,
        asset        TEXT NOT NULL,
        column_name  TEXT NOT NULL,
        kind         TEXT NOT NULL,
        dismissed_at TEXT NOT NULL,
        PRIMARY KEY (project, asset, column_name, kind)
    );
    ",
    // 20: a project's canvas extras — groups collapsed into one card and notes on the canvas
    // (`store::canvas`, JSON; NULL: none).
    "ALTER TABLE projects ADD COLUMN canvas TEXT;",
    // 21: where `medallion sync` starts listing a deployed state machine's executions next
    // time: every execution that started before `started_from` is in the run history.
    r"
    CREATE TABLE deploy_sync_cursors (
        state_machine_arn TEXT PRIMARY KEY,
        project           TEXT NOT NULL,
        started_from      TEXT NOT NULL,
        synced_at         TEXT NOT NULL
    );
    ",
];
