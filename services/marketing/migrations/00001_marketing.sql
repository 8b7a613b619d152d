-- +goose Up
-- Marketing (policy §2: キャンペーンの実施、各種ご案内の提供; 利用状況等の分析):
-- campaign subscriptions, deliveries and analytics segments.
CREATE TABLE subscribers (
    subscriber_id         text PRIMARY KEY,
    member_id             text,
    email                 text NOT NULL DEFAULT '',
    name                  text NOT NULL DEFAULT '',
    postal_code           text NOT NULL DEFAULT '',
    address               text NOT NULL DEFAULT '',  -- postal mailings
    created_at            timestamptz NOT NULL DEFAULT now(),
    -- 利用停止: no more campaigns, and no analytics.
    unsubscribed_at       timestamptz,
    analytics_excluded_at timestamptz,
    corrected_at          timestamptz
);
CREATE INDEX subscribers_member ON subscribers (member_id);
CREATE INDEX subscribers_email ON subscribers (lower(email));

CREATE TABLE campaigns (
    campaign_id text PRIMARY KEY,
    name        text NOT NULL,
    channel     text NOT NULL CHECK (channel IN ('email', 'post')),
    starts_on   date NOT NULL
);

CREATE TABLE campaign_subscriptions (
    subscriber_id   text NOT NULL REFERENCES subscribers (subscriber_id) ON DELETE CASCADE,
    campaign_id     text NOT NULL REFERENCES campaigns (campaign_id),
    subscribed_at   timestamptz NOT NULL,
    unsubscribed_at timestamptz,
    PRIMARY KEY (subscriber_id, campaign_id)
);

CREATE TABLE campaign_deliveries (
    subscriber_id text NOT NULL REFERENCES subscribers (subscriber_id) ON DELETE CASCADE,
    campaign_id   text NOT NULL REFERENCES campaigns (campaign_id),
    sent_at       timestamptz NOT NULL,
    opened_at     timestamptz,
    clicked_at    timestamptz,
    PRIMARY KEY (subscriber_id, campaign_id, sent_at)
);

-- Analytics segments: derived from usage and access data.
CREATE TABLE segments (
    segment_id  text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL
);

CREATE TABLE segment_memberships (
    segment_id    text NOT NULL REFERENCES segments (segment_id),
    subscriber_id text NOT NULL REFERENCES subscribers (subscriber_id) ON DELETE CASCADE,
    assigned_at   timestamptz NOT NULL,
    score         numeric(4, 3),
    PRIMARY KEY (segment_id, subscriber_id)
);

-- Seed data for development and tests: the same fictional people as members.
INSERT INTO campaigns (campaign_id, name, channel, starts_on) VALUES
  ('C-2026-AUTUMN', '秋の健康相談会のご案内', 'email', '2026-09-01'),
  ('C-2027-NENGA', '年賀状ダイレクトメール', 'post', '2026-12-20'),
  ('C-2026-EN', 'CareSmiley English newsletter', 'email', '2026-03-01');
INSERT INTO segments (segment_id, name, description) VALUES
  ('SEG-DAYSERVICE', 'デイサービス利用見込み', '過去90日にデイサービスのページを3回以上閲覧'),
  ('SEG-FAMILY', 'ご家族による利用', 'ご家族の連絡先からの問い合わせあり'),
  ('SEG-EN', 'English speakers', 'Browses the English pages');
INSERT INTO subscribers (subscriber_id, member_id, email, name, postal_code, address, created_at) VALUES
  ('S-0001', 'M-1001', 'hanako@example.jp', '山田 花子', '759-5331', '山口県下関市豊北町神田1-1', '2021-04-01'),
  ('S-0002', 'M-1002', 'taro@example.jp', '佐藤 太郎', '750-0001', '山口県下関市丸山町2-2', '2022-06-15'),
  ('S-0003', 'M-1003', 'ichiro@example.jp', '鈴木 一郎', '', '', '2024-01-10'),
  ('S-0004', 'M-1004', 'emily@example.com', 'Emily Clark', '', 'London', '2026-02-01');
INSERT INTO campaign_subscriptions (subscriber_id, campaign_id, subscribed_at, unsubscribed_at) VALUES
  ('S-0001', 'C-2026-AUTUMN', '2026-08-01', NULL),
  ('S-0001', 'C-2027-NENGA', '2026-11-01', NULL),
  ('S-0002', 'C-2026-AUTUMN', '2026-08-01', '2026-09-10'),
  ('S-0003', 'C-2026-AUTUMN', '2026-08-01', NULL),
  ('S-0004', 'C-2026-EN', '2026-03-01', NULL);
INSERT INTO campaign_deliveries (subscriber_id, campaign_id, sent_at, opened_at, clicked_at) VALUES
  ('S-0001', 'C-2026-AUTUMN', '2026-09-01 09:00+09', '2026-09-01 12:34+09', '2026-09-01 12:35+09'),
  ('S-0002', 'C-2026-AUTUMN', '2026-09-01 09:00+09', NULL, NULL),
  ('S-0003', 'C-2026-AUTUMN', '2026-09-01 09:00+09', '2026-09-03 08:00+09', NULL),
  ('S-0004', 'C-2026-EN', '2026-11-01 09:00+09', '2026-11-01 21:00+09', NULL);
INSERT INTO segment_memberships (segment_id, subscriber_id, assigned_at, score) VALUES
  ('SEG-DAYSERVICE', 'S-0001', '2026-10-01', 0.820),
  ('SEG-FAMILY', 'S-0001', '2026-10-16', 0.640),
  ('SEG-DAYSERVICE', 'S-0003', '2026-10-01', 0.510),
  ('SEG-EN', 'S-0004', '2026-03-01', 0.990);

-- +goose Down
DROP TABLE segment_memberships;
DROP TABLE segments;
DROP TABLE campaign_deliveries;
DROP TABLE campaign_subscriptions;
DROP TABLE campaigns;
DROP TABLE subscribers;
