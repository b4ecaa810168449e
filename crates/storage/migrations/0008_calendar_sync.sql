-- Google Calendar two-way sync (src/sync/calendar/): per connection, which calendars are
-- imported and which one CRM meetings are exported to; per calendar, the sync token; the link
-- table (threadline-sync's `Link`); and the grey busy blocks. Same portable-SQL rules as 0001.

-- The connection's choice. `export_calendar_id` NULL: export off. `crm_cursor` is the
-- changes-feed `seq` (per organisation) up to which CRM meeting changes were planned; it is
-- saved with the run's other writes, after them, in one transaction.
CREATE TABLE calendar_settings (
    connection_id       TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    export_calendar_id  TEXT,
    crm_cursor          INTEGER NOT NULL DEFAULT 0,
    updated_at          TEXT NOT NULL
);

-- The calendars imported as busy blocks.
CREATE TABLE calendar_imports (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    calendar_id    TEXT NOT NULL,
    PRIMARY KEY (connection_id, calendar_id)
);

-- Each read calendar's `nextSyncToken`. No row: the next listing is a full one (first sync,
-- after a 410, after the calendar was selected again).
CREATE TABLE calendar_cursors (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    calendar_id    TEXT NOT NULL,
    sync_token     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, calendar_id)
);

-- One row per (calendar, remote event) of the connection: threadline-sync's `Link`.
-- `crm_id` is the meeting (kind exported, converted) or the busy block (kind block);
-- `hash` and `snapshot` (JSON of the owned fields, NULL for a cancelled instance's block)
-- are what both sides said at the last sync; `remote_etag` our own write's, for echoes.
CREATE TABLE calendar_links (
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    calendar_id    TEXT NOT NULL,
    remote_id      TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('exported', 'block', 'converted')),
    crm_id         TEXT NOT NULL,
    remote_etag    TEXT,
    hash           TEXT NOT NULL,
    snapshot       TEXT,
    series_id      TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (connection_id, calendar_id, remote_id)
);
CREATE INDEX calendar_links_crm_idx ON calendar_links (connection_id, crm_id);

-- Grey busy blocks: events of imported calendars, shown in the CRM's calendar, not meetings.
-- The id is derived from (connection, calendar, event), so a re-import upserts the same row.
-- A series is one block with its recurrence lines (JSON array); each exception its own block
-- with `series_id` and `original_start` (`cancelled` 1 for a cancelled instance). Private
-- events keep only their time (`private` 1; no title, location, description or attendees).
-- `range_start`/`range_end` (RFC 3339 UTC; an all-day date as its UTC midnight; NULL end for
-- a series, which may recur for ever) serve time-range queries.
CREATE TABLE busy_blocks (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organisations (id),
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id   TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    calendar_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    title           TEXT,
    all_day         INTEGER NOT NULL CHECK (all_day IN (0, 1)),
    start_at        TEXT,
    end_at          TEXT,
    time_zone       TEXT,
    start_date      TEXT,
    end_date        TEXT,
    location        TEXT,
    description     TEXT,
    -- JSON text: an array of addresses.
    attendees       TEXT NOT NULL,
    recurrence      TEXT NOT NULL,
    series_id       TEXT,
    original_start  TEXT,
    cancelled       INTEGER NOT NULL CHECK (cancelled IN (0, 1)),
    private         INTEGER NOT NULL CHECK (private IN (0, 1)),
    range_start     TEXT,
    range_end       TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX busy_blocks_user_range_idx ON busy_blocks (user_id, range_start);
CREATE INDEX busy_blocks_connection_idx ON busy_blocks (connection_id, calendar_id);
