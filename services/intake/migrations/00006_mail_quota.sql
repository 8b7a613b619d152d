-- +goose Up
-- The mail quota (INTAKE_MAIL_PER_ADDRESS_PER_DAY): how many submissions a
-- day had their mails addressed to one e-mail address, so that nobody can
-- flood a person's mailbox with request mails by filing in their name. The
-- address is never stored: address_key is a keyed hash of it (HMAC-SHA256
-- under the pseudonym key, platform/pseudonym). day is the calendar day in
-- JST. Refused submissions may add to submissions too: only whether it
-- passed the limit matters. Rows of past days are purged (retention purge).
CREATE TABLE mail_quota (
    address_key text    NOT NULL,
    day         date    NOT NULL,
    submissions integer NOT NULL CHECK (submissions > 0),
    PRIMARY KEY (address_key, day)
);
-- No index on day: the table holds a day or two of addresses, and the
-- hourly purge reads it whole; each submission would pay for one.

-- +goose Down
DROP TABLE mail_quota;
