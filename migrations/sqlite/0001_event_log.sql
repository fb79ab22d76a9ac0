-- The event log, snapshots and hand histories.

CREATE TABLE tables (
    table_id   TEXT PRIMARY KEY,
    epoch      TEXT NOT NULL,          -- identifies this log: a new log, a new epoch
    created_at INTEGER NOT NULL        -- ms since the Unix epoch
) WITHOUT ROWID;

-- One row per event; seq is gapless from 1 per table.
CREATE TABLE events (
    table_id    TEXT NOT NULL REFERENCES tables (table_id),
    seq         INTEGER NOT NULL CHECK (seq >= 1),
    type        TEXT NOT NULL,         -- the event's wire name, e.g. hand_started
    payload     TEXT NOT NULL,         -- the event, JSON, by pokerd.codec
    recorded_at INTEGER NOT NULL,      -- ms since the Unix epoch
    PRIMARY KEY (table_id, seq)
) WITHOUT ROWID;

-- The log is append-only, and the database itself says so.
CREATE TRIGGER events_are_never_updated BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event is never updated');
END;

CREATE TRIGGER events_are_never_deleted BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only: an event is never deleted');
END;

-- A second writer that read the same end of the log cannot fork it: the
-- primary key refuses a seq taken, this refuses a gap.
CREATE TRIGGER events_are_gapless BEFORE INSERT ON events
WHEN NEW.seq != 1 + COALESCE(
    (SELECT MAX(seq) FROM events WHERE table_id = NEW.table_id), 0)
BEGIN
    SELECT RAISE(ABORT, 'seq conflict: the log does not end just before this seq');
END;

-- A cached fold of a table's log up to seq; `format` names the encoding, so a
-- snapshot from an older pokerd is ignored rather than misread.
CREATE TABLE snapshots (
    table_id TEXT NOT NULL REFERENCES tables (table_id),
    seq      INTEGER NOT NULL,
    format   INTEGER NOT NULL,
    state    TEXT NOT NULL,            -- the TableState, JSON, by pokerd.codec
    PRIMARY KEY (table_id, seq)
) WITHOUT ROWID;

-- One row per finished hand, written in the transaction of its hand_ended.
CREATE TABLE hands (
    table_id   TEXT NOT NULL REFERENCES tables (table_id),
    hand       INTEGER NOT NULL,
    first_seq  INTEGER NOT NULL,
    last_seq   INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER NOT NULL,
    engine     TEXT NOT NULL,
    summary    TEXT NOT NULL,          -- JSON: seats, names, board, pots, net results, shown cards
    hole_cards TEXT NOT NULL,          -- JSON: {seat: cards}, each only for that seat's owner
    phh        TEXT NOT NULL,          -- the hand as PHH, as a spectator may see it
    PRIMARY KEY (table_id, hand)
) WITHOUT ROWID;
