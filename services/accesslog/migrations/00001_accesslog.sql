-- +goose Up
-- Automatically collected data (policy §1 自動的な情報収集, §4 クッキー):
-- web access logs and the cookie / web-beacon identifiers linked to a member.

-- A member known to the web analytics: linked when they log in.
CREATE TABLE linked_members (
    member_id              text PRIMARY KEY,
    login_email            text NOT NULL DEFAULT '',
    linked_at              timestamptz NOT NULL DEFAULT now(),
    -- 利用停止: excluded from analytics (security logging goes on).
    analytics_suspended_at timestamptz
);
CREATE INDEX linked_members_email ON linked_members (lower(login_email));

-- Cookie and web-beacon identifiers linked to a member. source is
-- 'first_party' or the partner whose cookie information was linked with the
-- member's prior consent (policy §4).
CREATE TABLE web_identifiers (
    identifier   text PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('cookie', 'web_beacon')),
    source       text NOT NULL DEFAULT 'first_party',
    member_id    text NOT NULL REFERENCES linked_members (member_id) ON DELETE CASCADE,
    first_seen   timestamptz NOT NULL,
    last_seen    timestamptz NOT NULL,
    consented_at timestamptz
);
CREATE INDEX web_identifiers_member ON web_identifiers (member_id);

-- Access log lines. member_id is set for logged-in requests; identifier is
-- the cookie the request carried (before login too).
CREATE TABLE access_logs (
    log_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accessed_at timestamptz NOT NULL,
    member_id   text,
    identifier  text,
    ip          inet,
    user_agent  text,
    method      text NOT NULL DEFAULT 'GET',
    path        text NOT NULL,
    referrer    text,
    status      integer NOT NULL
);
CREATE INDEX access_logs_member ON access_logs (member_id);
CREATE INDEX access_logs_identifier ON access_logs (identifier);

-- Seed data for development and tests: the same fictional people as members.
INSERT INTO linked_members (member_id, login_email, linked_at) VALUES
  ('M-1001', 'hanako@example.jp', '2021-04-01 10:00+09'),
  ('M-1002', 'taro@example.jp', '2022-06-15 09:30+09'),
  ('M-1003', 'ichiro@example.jp', '2024-01-10 14:00+09'),
  ('M-1004', 'emily@example.com', '2026-02-01 20:00+09');
INSERT INTO web_identifiers (identifier, kind, source, member_id, first_seen, last_seen, consented_at) VALUES
  ('ck_7f3a91c2e4', 'cookie', 'first_party', 'M-1001', '2021-03-28 21:14+09', '2026-11-20 08:02+09', NULL),
  ('wb_55d0e1a9', 'web_beacon', 'first_party', 'M-1001', '2025-12-01 07:00+09', '2026-11-01 07:00+09', NULL),
  ('pc_kanda_0042', 'cookie', 'partner:facility-kanda', 'M-1001', '2023-10-01 12:00+09', '2026-10-30 12:00+09', '2023-10-01 12:00+09'),
  ('ck_b81d4f0a77', 'cookie', 'first_party', 'M-1002', '2022-06-15 09:00+09', '2026-11-18 19:45+09', NULL),
  ('ck_c02e9b3d15', 'cookie', 'first_party', 'M-1003', '2024-01-09 22:10+09', '2026-11-10 10:20+09', NULL),
  ('ck_e4a7f1c800', 'cookie', 'first_party', 'M-1004', '2026-02-01 19:55+09', '2026-11-24 23:01+09', NULL);
INSERT INTO access_logs (accessed_at, member_id, identifier, ip, user_agent, method, path, referrer, status) VALUES
  ('2021-03-28 21:14+09', NULL, 'ck_7f3a91c2e4', '203.0.113.24', 'Mozilla/5.0 (iPhone; CPU iPhone OS 14_4)', 'GET', '/', 'https://www.google.com/', 200),
  ('2026-11-20 08:00+09', 'M-1001', 'ck_7f3a91c2e4', '203.0.113.24', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1)', 'POST', '/login', NULL, 302),
  ('2026-11-20 08:02+09', 'M-1001', 'ck_7f3a91c2e4', '203.0.113.24', 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1)', 'GET', '/mypage/reservations?month=2026-11', '/mypage', 200),
  ('2026-11-18 19:45+09', 'M-1002', 'ck_b81d4f0a77', '198.51.100.7', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64)', 'GET', '/mypage', NULL, 200),
  ('2026-11-10 10:20+09', 'M-1003', 'ck_c02e9b3d15', '2001:db8:85a3::8a2e:370:7334', 'Mozilla/5.0 (Linux; Android 14)', 'GET', '/services/dayservice', NULL, 200),
  ('2026-11-24 23:01+09', 'M-1004', 'ck_e4a7f1c800', '192.0.2.146', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6)', 'GET', '/en/mypage', NULL, 200),
  ('2026-11-24 23:30+09', NULL, 'ck_0000anon01', '192.0.2.200', 'Mozilla/5.0 (X11; Linux x86_64)', 'GET', '/', NULL, 200);

-- +goose Down
DROP TABLE access_logs;
DROP TABLE web_identifiers;
DROP TABLE linked_members;
