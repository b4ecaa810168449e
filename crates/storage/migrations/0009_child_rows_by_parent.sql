-- Saving a contact, company or meeting replaces its child rows with
-- `DELETE FROM <child> WHERE org_id = $1 AND <parent>_id = $2` (records::replace_children).
-- SQLite, without statistics, served that from the (org_id, …) lookup index: a scan of every
-- child row of the organisation, so each save cost O(rows of the org) and an import of
-- 100,000 contacts was quadratic (measured: about 40 contacts/s after 17,000). An index on
-- both columns matches the whole condition, so both engines take it.
CREATE INDEX contact_emails_org_contact_idx ON contact_emails (org_id, contact_id);
CREATE INDEX company_domains_org_company_idx ON company_domains (org_id, company_id);
CREATE INDEX meeting_links_org_meeting_idx ON meeting_links (org_id, meeting_id);
