-- +goose Up
-- Inquiries by mail, phone, form or letter (policy §1 お客様からの直接のご提供).

-- Companies (委託元) on whose behalf inquiries are received under
-- entrustment (委託): their records are acted on only on their instruction
-- (policy §5). contact_email is the company's business contact.
CREATE TABLE entrusting_companies (
    company_id    text PRIMARY KEY,
    name          text NOT NULL,
    contact_email text NOT NULL
);

CREATE TABLE inquiries (
    inquiry_id            text PRIMARY KEY,
    member_id             text,          -- NULL: not (yet) a member
    name                  text NOT NULL DEFAULT '',
    name_kana             text NOT NULL DEFAULT '',
    email                 text NOT NULL DEFAULT '',
    phone                 text NOT NULL DEFAULT '',
    channel               text NOT NULL CHECK (channel IN ('mail', 'phone', 'form', 'letter')),
    received_at           timestamptz NOT NULL,
    topic                 text NOT NULL,
    body                  text NOT NULL,
    status                text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    -- Set when the inquiry was received on behalf of an entrusting company.
    entrusting_company_id text REFERENCES entrusting_companies (company_id),
    use_suspended_at      timestamptz,   -- 利用停止
    corrected_at          timestamptz
);
CREATE INDEX inquiries_member ON inquiries (member_id);
CREATE INDEX inquiries_email ON inquiries (lower(email));

CREATE TABLE inquiry_responses (
    inquiry_id   text NOT NULL REFERENCES inquiries (inquiry_id) ON DELETE CASCADE,
    responded_at timestamptz NOT NULL,
    channel      text NOT NULL,
    body         text NOT NULL,
    PRIMARY KEY (inquiry_id, responded_at)
);

-- Seed data for development and tests: the same fictional people as members.
INSERT INTO entrusting_companies (company_id, name, contact_email) VALUES
  ('facility-kanda', 'デイサービスかんだ運営株式会社', 'privacy@kanda-care.example.jp');
INSERT INTO inquiries (inquiry_id, member_id, name, name_kana, email, phone, channel, received_at, topic, body, status, entrusting_company_id) VALUES
  ('Q-0001', 'M-1001', '山田 花子', 'やまだ はなこ', 'hanako@example.jp', '090-1234-5678', 'phone', '2026-09-02 10:15+09',
   'ご利用日の変更', '来週火曜日の利用を水曜日に変更したい。', 'closed', NULL),
  ('Q-0002', 'M-1001', '山田 花子', 'やまだ はなこ', 'hanako@example.jp', '', 'mail', '2026-10-15 16:40+09',
   '請求書の送付先について', '請求書を長男の住所に送ってほしい。', 'closed', NULL),
  ('Q-0003', 'M-1001', '山田 花子', 'やまだ はなこ', 'hanako@example.jp', '090-1234-5678', 'phone', '2026-11-05 09:05+09',
   'デイサービスかんだ 送迎時間', 'デイサービスかんだの送迎時間を30分早めてほしい(委託による受付)。', 'open', 'facility-kanda'),
  ('Q-0004', 'M-1002', '佐藤 太郎', 'さとう たろう', 'taro@example.jp', '', 'mail', '2026-08-20 11:00+09',
   'パスワード再設定', 'ログインできない。', 'closed', NULL),
  ('Q-0005', 'M-1003', '鈴木 一郎', 'すずき いちろう', 'ichiro@example.jp', '070-4444-5555', 'phone', '2026-07-01 14:30+09',
   '要介護認定の更新', '更新後の介護度を登録したい。', 'closed', NULL),
  ('Q-0006', NULL, 'Emily Clark', '', 'emily@example.com', '', 'form', '2026-01-20 22:10+09',
   'English support', 'Do you offer your service in English?', 'closed', NULL),
  ('Q-0007', 'M-1004', 'Emily Clark', '', 'emily@example.com', '', 'mail', '2026-11-22 08:45+09',
   'Invoice language', 'Could I receive invoices in English?', 'open', NULL);
INSERT INTO inquiry_responses (inquiry_id, responded_at, channel, body) VALUES
  ('Q-0001', '2026-09-02 10:20+09', 'phone', '水曜日に変更しました。'),
  ('Q-0002', '2026-10-16 10:00+09', 'mail', '送付先の変更には書面でのお手続きが必要です。'),
  ('Q-0004', '2026-08-20 13:00+09', 'mail', '再設定用のリンクをお送りしました。'),
  ('Q-0006', '2026-01-21 09:00+09', 'mail', 'Yes, an English page is available.');

-- +goose Down
DROP TABLE inquiry_responses;
DROP TABLE inquiries;
DROP TABLE entrusting_companies;
