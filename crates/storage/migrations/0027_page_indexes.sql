-- The web app's lists and record pages on a large organisation (issue 11; BENCHMARKS.md,
-- "Pages on 1,000,000 contacts"). Same portable-SQL rules as 0001; the expressions are
-- those of the queries (crates/crm/src/records/list.rs, `name_key`), so that a page sorted
-- by name is read from the index in order instead of sorting the whole organisation.
-- The contacts list by name, its pages both ways.
CREATE INDEX contacts_org_name_idx
    ON contacts (org_id, (lower(first_name || ' ' || last_name)), id);
-- A company's contacts (its page, `?company=`) and its projects, by name: the company and
-- the order in one index (with the company alone, SQLite's planner walks the name index
-- instead, through every contact of the organisation).
CREATE INDEX contacts_org_company_idx
    ON contacts (org_id, company_id, (lower(first_name || ' ' || last_name)), id);
CREATE INDEX projects_org_company_idx ON projects (org_id, company_id, (lower(name)), id);
-- The companies list by name (also the company choices of a contact's form).
CREATE INDEX companies_org_lower_name_idx ON companies (org_id, (lower(name)), id);
