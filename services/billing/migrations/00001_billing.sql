-- +goose Up
-- Billing (policy §2: 利用料金の請求・決済手続き): billing accounts, invoices,
-- payments and the payment processor's card tokens.
CREATE TABLE billing_accounts (
    account_id        text PRIMARY KEY,
    member_id         text,
    email             text NOT NULL DEFAULT '',
    billing_name      text NOT NULL DEFAULT '',
    billing_name_kana text NOT NULL DEFAULT '',
    phone             text NOT NULL DEFAULT '',
    postal_code       text NOT NULL DEFAULT '',
    address           text NOT NULL DEFAULT '',
    opened_at         timestamptz NOT NULL DEFAULT now(),
    -- 利用停止: excluded from marketing and analytics use (invoicing goes on).
    marketing_use_suspended_at timestamptz,
    corrected_at      timestamptz,
    -- Set on erasure when invoices must still be kept: contact data is gone,
    -- only what the retained invoices need remains.
    anonymised_at     timestamptz
);
CREATE INDEX billing_accounts_member ON billing_accounts (member_id);
CREATE INDEX billing_accounts_email ON billing_accounts (lower(email));

-- Invoices as issued. Kept for 7 years after the filing deadline of the
-- fiscal year of issue (法人税法施行規則第59条, 電子帳簿保存法); retain_until is
-- that date (fiscal year April–March, filing deadline end of May).
CREATE TABLE invoices (
    invoice_no      text PRIMARY KEY,
    account_id      text NOT NULL REFERENCES billing_accounts (account_id),
    issued_on       date NOT NULL,
    period_from     date,
    period_to       date,
    description     text NOT NULL,
    amount_excl_tax integer NOT NULL,
    tax             integer NOT NULL,
    total           integer NOT NULL,
    billed_name     text NOT NULL,  -- 宛名, part of the issued document
    billed_address  text,           -- removed on erasure
    retain_until    date NOT NULL
);
CREATE INDEX invoices_account ON invoices (account_id);

CREATE TABLE payments (
    payment_id  text PRIMARY KEY,
    invoice_no  text NOT NULL REFERENCES invoices (invoice_no) ON DELETE CASCADE,
    paid_on     date NOT NULL,
    amount      integer NOT NULL,
    method      text NOT NULL CHECK (method IN ('card', 'bank_transfer', 'direct_debit')),
    card_last4  text            -- removed on erasure
);
CREATE INDEX payments_invoice ON payments (invoice_no);

-- Tokens of the payment processor (never card numbers), used for recurring
-- charges. Deleted on erasure: nothing requires keeping them.
CREATE TABLE payment_cards (
    token_id        text PRIMARY KEY,
    account_id      text NOT NULL REFERENCES billing_accounts (account_id) ON DELETE CASCADE,
    processor_token text NOT NULL,
    brand           text NOT NULL,
    last4           text NOT NULL,
    exp_month       integer NOT NULL,
    exp_year        integer NOT NULL,
    registered_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_cards_account ON payment_cards (account_id);

-- Seed data for development and tests: the same fictional people as members.
INSERT INTO billing_accounts (account_id, member_id, email, billing_name, billing_name_kana, phone, postal_code, address, opened_at) VALUES
  ('BA-0001', 'M-1001', 'hanako@example.jp', '山田 花子', 'やまだ はなこ', '090-1234-5678', '759-5331', '山口県下関市豊北町神田1-1', '2017-04-01'),
  ('BA-0002', 'M-1002', 'taro@example.jp', '佐藤 太郎', 'さとう たろう', '080-2222-3333', '750-0001', '山口県下関市丸山町2-2', '2022-06-15'),
  ('BA-0003', 'M-1003', 'ichiro@example.jp', '鈴木 一郎', 'すずき いちろう', '070-4444-5555', '753-0001', '山口県山口市上竪小路3-3', '2024-01-10'),
  ('BA-0004', 'M-1004', 'emily@example.com', 'Emily Clark', '', '+44 20 7946 0000', '', 'London', '2026-02-01');
INSERT INTO invoices (invoice_no, account_id, issued_on, period_from, period_to, description, amount_excl_tax, tax, total, billed_name, billed_address, retain_until) VALUES
  ('INV-201705-0001', 'BA-0001', '2017-05-10', '2017-04-01', '2017-04-30', 'ケアスマイリー利用料 2017年4月分', 9000, 720, 9720, '山田 花子', '山口県下関市豊北町神田1-1', '2025-05-31'),
  ('INV-202510-0001', 'BA-0001', '2025-10-10', '2025-09-01', '2025-09-30', 'ケアスマイリー利用料 2025年9月分', 12000, 1200, 13200, '山田 花子', '山口県下関市豊北町神田1-1', '2033-05-31'),
  ('INV-202610-0001', 'BA-0001', '2026-10-10', '2026-09-01', '2026-09-30', 'ケアスマイリー利用料 2026年9月分', 12000, 1200, 13200, '山田 花子', '山口県下関市豊北町神田1-1', '2034-05-31'),
  ('INV-202610-0002', 'BA-0002', '2026-10-10', '2026-09-01', '2026-09-30', 'ケアスマイリー利用料 2026年9月分', 8000, 800, 8800, '佐藤 太郎', '山口県下関市丸山町2-2', '2034-05-31'),
  ('INV-202610-0003', 'BA-0003', '2026-10-10', '2026-09-01', '2026-09-30', 'ケアスマイリー利用料 2026年9月分', 15000, 1500, 16500, '鈴木 一郎', '山口県山口市上竪小路3-3', '2034-05-31'),
  ('INV-202610-0004', 'BA-0004', '2026-10-10', '2026-09-01', '2026-09-30', 'CareSmiley subscription, September 2026', 3000, 300, 3300, 'Emily Clark', 'London', '2034-05-31');
INSERT INTO payments (payment_id, invoice_no, paid_on, amount, method, card_last4) VALUES
  ('PAY-0001', 'INV-201705-0001', '2017-05-27', 9720, 'card', '4242'),
  ('PAY-0002', 'INV-202510-0001', '2025-10-27', 13200, 'card', '4242'),
  ('PAY-0003', 'INV-202610-0001', '2026-10-27', 13200, 'card', '4242'),
  ('PAY-0004', 'INV-202610-0002', '2026-10-31', 8800, 'bank_transfer', NULL),
  ('PAY-0005', 'INV-202610-0003', '2026-10-27', 16500, 'card', '1881'),
  ('PAY-0006', 'INV-202610-0004', '2026-10-27', 3300, 'card', '0005');
INSERT INTO payment_cards (token_id, account_id, processor_token, brand, last4, exp_month, exp_year, registered_at) VALUES
  ('CT-0001', 'BA-0001', 'tok_test_hanako_4242', 'VISA', '4242', 12, 2028, '2017-04-01'),
  ('CT-0003', 'BA-0003', 'tok_test_ichiro_1881', 'JCB', '1881', 3, 2029, '2024-01-10'),
  ('CT-0004', 'BA-0004', 'tok_test_emily_0005', 'AMEX', '0005', 7, 2030, '2026-02-01');

-- +goose Down
DROP TABLE payment_cards;
DROP TABLE payments;
DROP TABLE invoices;
DROP TABLE billing_accounts;
