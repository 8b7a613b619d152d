-- +goose Up
-- Staff who may read decrypted payloads (codec server) and act on requests
-- (dsrctl). Only the SHA-256 of a bearer token is stored; the token itself is
-- shown once, when the account is created or its token rotated.
CREATE TABLE staff_accounts (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9._-]{1,62}$'),
    display_name text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- staff: read and act; viewer: read (decrypt, list, show) only.
    role         text NOT NULL CHECK (role IN ('staff', 'viewer')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    disabled     boolean NOT NULL DEFAULT false
);

-- One row per staff action attempt: who, when, what (action, request,
-- non-personal fields), why (reason) and what came of it. Append-only: the
-- triggers below refuse UPDATE, DELETE and TRUNCATE, even for the owner.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- staff_accounts.id, or "unauthenticated", or "operator:<os user>".
    actor       text NOT NULL,
    action      text NOT NULL,
    receipt     text NOT NULL DEFAULT '',
    workflow_id text NOT NULL DEFAULT '',
    -- The Temporal update id: finds the action in the workflow history.
    update_id   text NOT NULL DEFAULT '',
    -- Non-personal request fields (reason codes, grounds, field names,
    -- company ids, holder names, amounts) — never correction values.
    fields      jsonb NOT NULL DEFAULT '{}',
    reason      text NOT NULL DEFAULT '',
    -- accepted / rejected (the workflow's validator, a wrong stage, no such
    -- request, not authorised) / failed (outcome unknown: Temporal unreachable).
    result      text NOT NULL CHECK (result IN ('accepted', 'rejected', 'failed')),
    message     text NOT NULL DEFAULT '',
    stage_after text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_receipt ON audit_log (receipt, id);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE staff_accounts;
