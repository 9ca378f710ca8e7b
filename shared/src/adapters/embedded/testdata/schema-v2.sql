-- The embedded store's schema version 2, as the previous release created it (tables only).
CREATE TABLE IF NOT EXISTS settings (
    workspace_id TEXT PRIMARY KEY,
    version      INTEGER NOT NULL,
    doc          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS handoffs (
    workspace_id    TEXT NOT NULL,
    handoff_id      TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    state           TEXT NOT NULL,
    active          INTEGER NOT NULL,
    assignee        TEXT,
    channel         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    PRIMARY KEY (workspace_id, handoff_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS handoffs_one_active_per_conversation
    ON handoffs (workspace_id, conversation_id) WHERE active = 1;
-- One index per Inbox view, each in queue order, so a page reads only what it returns however
-- many closed handoffs the workspace has.
DROP INDEX IF EXISTS handoffs_inbox;
CREATE INDEX IF NOT EXISTS handoffs_active ON handoffs (workspace_id, created_at, handoff_id) WHERE active = 1;
CREATE INDEX IF NOT EXISTS handoffs_by_state ON handoffs (workspace_id, state, created_at, handoff_id);
CREATE INDEX IF NOT EXISTS handoffs_by_assignee
    ON handoffs (workspace_id, assignee, active, created_at, handoff_id) WHERE assignee IS NOT NULL;
CREATE TABLE IF NOT EXISTS escalations (
    workspace_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    record       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
);
-- One row per decision: its timeline lines, its effects and which were sent.
CREATE TABLE IF NOT EXISTS decisions (
    workspace_id TEXT NOT NULL,
    owner        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    recorded_at  TEXT NOT NULL,
    pending      INTEGER NOT NULL,
    doc          TEXT NOT NULL,
    PRIMARY KEY (workspace_id, owner, version)
);
CREATE INDEX IF NOT EXISTS decisions_pending ON decisions (recorded_at) WHERE pending = 1;
CREATE TABLE IF NOT EXISTS timers (
    timer_id TEXT PRIMARY KEY,
    due_at   TEXT NOT NULL,
    timer    TEXT NOT NULL
);
-- In firing order, so the earliest timer is one index step however many are pending.
DROP INDEX IF EXISTS timers_due;
CREATE INDEX IF NOT EXISTS timers_in_order ON timers (due_at, timer_id);
CREATE TABLE IF NOT EXISTS outbound_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL,
    event        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_log_by_workspace ON outbound_log (workspace_id, seq);
