-- The event log, snapshots, hand histories and table leases (PostgreSQL).
-- The same tables and rules as migrations/sqlite/0001_event_log.sql, plus the
-- leases that let several pokerd nodes share one database.

CREATE TABLE tables (
    table_id   TEXT PRIMARY KEY,
    epoch      TEXT NOT NULL,          -- identifies this log: a new log, a new epoch
    created_at BIGINT NOT NULL         -- ms since the Unix epoch
);

-- One row per event; seq is gapless from 1 per table.
CREATE TABLE events (
    table_id    TEXT NOT NULL REFERENCES tables (table_id),
    seq         BIGINT NOT NULL CHECK (seq >= 1),
    type        TEXT NOT NULL,         -- the event's wire name, e.g. hand_started
    payload     TEXT NOT NULL,         -- the event, JSON, by pokerd.codec (as sent)
    recorded_at BIGINT NOT NULL,       -- ms since the Unix epoch
    PRIMARY KEY (table_id, seq)
);

-- The log is append-only, and the database itself says so (TRUNCATE too).
CREATE FUNCTION events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only: an event is never %',
        CASE TG_OP WHEN 'UPDATE' THEN 'updated'
                   WHEN 'DELETE' THEN 'deleted'
                   ELSE 'truncated' END
        USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_append_only();

CREATE TRIGGER events_are_never_truncated BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_are_append_only();

-- A second writer that read the same end of the log cannot fork it: the
-- primary key refuses a seq taken, this refuses a gap. (A row of the same
-- statement, e.g. an earlier row of one COPY, is seen by the later rows.)
CREATE FUNCTION events_are_gapless() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq != 1 + COALESCE(
        (SELECT MAX(seq) FROM events WHERE table_id = NEW.table_id), 0)
    THEN
        RAISE EXCEPTION 'seq conflict: the log does not end just before this seq'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER events_are_gapless BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_are_gapless();

-- A cached fold of a table's log up to seq; `format` names the encoding, so a
-- snapshot from an older pokerd is ignored rather than misread.
CREATE TABLE snapshots (
    table_id TEXT NOT NULL REFERENCES tables (table_id),
    seq      BIGINT NOT NULL,
    format   INTEGER NOT NULL,
    state    TEXT NOT NULL,            -- the TableState, JSON, by pokerd.codec
    PRIMARY KEY (table_id, seq)
);

-- One row per finished hand, written in the transaction of its hand_ended.
CREATE TABLE hands (
    table_id   TEXT NOT NULL REFERENCES tables (table_id),
    hand       BIGINT NOT NULL,
    first_seq  BIGINT NOT NULL,
    last_seq   BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT NOT NULL,
    engine     TEXT NOT NULL,
    summary    TEXT NOT NULL,          -- JSON: seats, names, board, pots, net results, shown cards
    hole_cards TEXT NOT NULL,          -- JSON: {seat: cards}, each only for that seat's owner
    phh        TEXT NOT NULL,          -- the hand as PHH, as a spectator may see it
    PRIMARY KEY (table_id, hand)
);

-- Which node may append to a table's log. `epoch` is the fencing token: every
-- take adds one, and every append transaction checks, under FOR SHARE, that
-- the row still carries the epoch its node took. Expiry is judged by the
-- database's clock only (now()), never a node's. A row is never deleted: the
-- epoch must only grow, or a stale node's old epoch could match again.
-- Not referencing `tables`: a node takes the lease of a new table before
-- the table's first event is written.
CREATE TABLE leases (
    table_id    TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,         -- the node id that took it last
    epoch       BIGINT NOT NULL CHECK (epoch >= 1),
    lease_until TIMESTAMPTZ NOT NULL   -- by the database's clock; -infinity: released
);

CREATE INDEX leases_by_expiry ON leases (lease_until);
