-- +goose Up
-- The person's status page is reached only through a secret link e-mailed
-- to them; the database keeps the SHA-256 of its token, never the token.
ALTER TABLE requests ADD COLUMN status_token_hash bytea UNIQUE;

-- +goose Down
ALTER TABLE requests DROP COLUMN status_token_hash;
