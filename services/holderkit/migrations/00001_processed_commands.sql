-- +goose Up
-- holderkit's own table in every holder's database: one row per (request,
-- action) it has carried out, with the result it reported. A redelivered or
-- resent command is answered from here and never executed twice.
CREATE TABLE holderkit_processed_commands (
    request_id   text NOT NULL,
    action       text NOT NULL,
    command_id   text NOT NULL,
    result       bytea NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, action)
);

-- +goose Down
DROP TABLE holderkit_processed_commands;
