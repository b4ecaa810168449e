-- OAuth hardening (issue 10). Same portable-SQL rules as 0001.

-- The token that created a token over the API (`POST /api/v1/tokens`); NULL for tokens made
-- by the CLI, with a new user, or before 0012. Revoking a token revokes every token below it.
ALTER TABLE api_tokens ADD COLUMN parent_token_id TEXT REFERENCES api_tokens (id);
CREATE INDEX api_tokens_parent_idx ON api_tokens (parent_token_id);
