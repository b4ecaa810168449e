-- "Apply anyway" after a review (src/sync/schedule.rs `review`). A run that a guard refused
-- (it would delete more than half of the linked items, or a calendar suddenly listed empty)
-- pauses its schedule for a person. When that person chooses to apply it, the schedule's
-- next run may pass the guards once: 1 until a run ends other than by a passing fault
-- (a retry or an interruption keeps it for the run that follows), then 0 again, so a
-- later, unreviewed mass deletion is refused as before.
ALTER TABLE sync_schedules ADD COLUMN apply_anyway INTEGER NOT NULL DEFAULT 0;
