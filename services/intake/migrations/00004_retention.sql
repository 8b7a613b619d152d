-- +goose Up
-- Retention (privacy policy §7: personal data is kept only as long as its
-- purpose needs). The request workflow announces its end (RequestConcluded);
-- once the retention period has passed since then, the purge removes the
-- sealed personal data, the status link, the fingerprints derived from the
-- submission, the documents and the sent outbox rows. What remains is the
-- non-personal trail: receipt, kind, jurisdiction, dates and how it ended.
ALTER TABLE requests
    ADD COLUMN concluded_at timestamptz,
    ADD COLUMN conclusion   text,
    ADD COLUMN purged_at    timestamptz,
    ALTER COLUMN personal_key_id DROP NOT NULL,
    ALTER COLUMN personal_nonce DROP NOT NULL,
    ALTER COLUMN personal_sealed DROP NOT NULL,
    ALTER COLUMN submission_hash DROP NOT NULL,
    -- Personal data is absent exactly when the row was purged.
    ADD CONSTRAINT requests_personal_until_purged CHECK (
        (purged_at IS NULL AND personal_sealed IS NOT NULL AND personal_nonce IS NOT NULL
             AND personal_key_id IS NOT NULL AND submission_hash IS NOT NULL)
        OR (purged_at IS NOT NULL AND personal_sealed IS NULL AND personal_nonce IS NULL
             AND personal_key_id IS NULL AND submission_hash IS NULL
             AND status_token_hash IS NULL AND idempotency_key IS NULL));

CREATE INDEX requests_due_for_purge ON requests (concluded_at)
    WHERE purged_at IS NULL AND concluded_at IS NOT NULL;

-- +goose Down
-- Fails once a row has been purged: its personal data cannot come back.
DROP INDEX requests_due_for_purge;
ALTER TABLE requests
    DROP CONSTRAINT requests_personal_until_purged,
    ALTER COLUMN personal_key_id SET NOT NULL,
    ALTER COLUMN personal_nonce SET NOT NULL,
    ALTER COLUMN personal_sealed SET NOT NULL,
    ALTER COLUMN submission_hash SET NOT NULL,
    DROP COLUMN purged_at,
    DROP COLUMN conclusion,
    DROP COLUMN concluded_at;
