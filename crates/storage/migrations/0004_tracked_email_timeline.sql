-- Timelines list tracked emails newest first by date (when sent, else when tracked) and id:
-- an index in that order, so that a page is read from the index, not sorted.
CREATE INDEX tracked_emails_org_date_idx
    ON tracked_emails (org_id, (COALESCE(sent_at, created_at)), id);
