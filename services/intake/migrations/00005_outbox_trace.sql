-- +goose Up
-- The W3C trace context (traceparent, tracestate) of the HTTP request that
-- wrote an outbox row, so that the relayed message continues the request's
-- trace. Ids and vendor state only: never personal data. NULL when the
-- request was not traced.
ALTER TABLE outbox
    ADD COLUMN traceparent text,
    ADD COLUMN tracestate  text;

-- +goose Down
ALTER TABLE outbox
    DROP COLUMN tracestate,
    DROP COLUMN traceparent;
