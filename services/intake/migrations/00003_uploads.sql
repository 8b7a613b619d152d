-- +goose Up
-- Documents supporting an agent's filing (委任状, proof of legal
-- representation, the agent's ID). Each file is sealed with the key ring
-- (AES-256-GCM, additional data "upload|<id>"), so a dump reveals nothing and
-- a ciphertext cannot be moved to another row. The original file name is not
-- kept (it often holds a name).
--
-- A file from a form attempt that failed on other fields is kept unclaimed
-- (request_id NULL) under the hash of a claim token the page carries, so the
-- person need not choose it again; unclaimed files are purged after a day.
CREATE TABLE uploads (
    id            uuid PRIMARY KEY,
    request_id    uuid REFERENCES requests (id) ON DELETE CASCADE,
    purpose       text NOT NULL CHECK (purpose IN ('authority', 'agent_id')),
    content_type  text NOT NULL,
    size_bytes    integer NOT NULL CHECK (size_bytes > 0),
    key_id        text NOT NULL,
    nonce         bytea NOT NULL,
    sealed        bytea NOT NULL,
    claim_hash    bytea UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((request_id IS NULL) = (claim_hash IS NOT NULL))
);
CREATE INDEX uploads_request ON uploads (request_id);
CREATE INDEX uploads_unclaimed ON uploads (created_at) WHERE request_id IS NULL;

-- +goose Down
DROP TABLE uploads;
