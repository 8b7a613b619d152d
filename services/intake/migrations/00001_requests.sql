-- +goose Up
-- One row per privacy request. Personal data is stored only sealed
-- (AES-256-GCM under the key ring), so a database dump alone reveals nothing.
CREATE TABLE requests (
    id               uuid PRIMARY KEY,
    receipt          text NOT NULL UNIQUE,
    kind             text NOT NULL,
    jurisdiction     text NOT NULL,
    locale           text NOT NULL,
    filed_by_agent   boolean NOT NULL DEFAULT false,
    personal_key_id  text NOT NULL,
    personal_nonce   bytea NOT NULL,
    personal_sealed  bytea NOT NULL,
    -- Client-chosen retry key; a retry with the same key returns this row.
    idempotency_key  text UNIQUE,
    -- SHA-256 of the canonical submission, to refuse a key reused for another request.
    submission_hash  bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- The transactional outbox: written in the same transaction as the row it
-- announces, published to JetStream by the relay, then marked sent.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    request_id  uuid NOT NULL,
    subject     text NOT NULL,
    msg_id      text NOT NULL,
    msg_type    text NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    last_error  text,
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE requests;
