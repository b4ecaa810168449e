-- The contact panel (issue 14): a contact's open tasks are read by the linked record
-- (crates/crm/src/card.rs). Same portable-SQL rules as 0001. Numbered 0025: 0021 to 0024 are
-- left to other work of the same issue; sqlx applies migrations in order and a missing
-- number is no error.
CREATE INDEX tasks_linked_idx ON tasks (org_id, linked_kind, linked_id);
