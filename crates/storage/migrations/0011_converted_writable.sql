-- Converted meetings the user organises are two-way (threadline-sync's `Link::writable`):
-- 1 when the event, as last seen with a new etag, is organised by the calendar it was read
-- from (`organizer.self`) and is not a series master, so that a converted meeting's CRM
-- edits are written to it; kept on block links too, so that converting a block knows it.
-- Existing rows get 0 (unknown, hence not written: the behaviour they had) until Google next
-- changes their event. Same portable-SQL rules as 0001 (booleans as INTEGER 0/1).
ALTER TABLE calendar_links ADD COLUMN writable INTEGER NOT NULL DEFAULT 0 CHECK (writable IN (0, 1));
