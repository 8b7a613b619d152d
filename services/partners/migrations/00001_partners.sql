-- +goose Up
-- Provision to and from third parties with the person's consent (policy §1
-- 第三者からの提供, §2–§3 提携先への提供), and the records the APPI requires of
-- every provision (第三者提供記録: Art. 29 when we provide, Art. 30 when we
-- receive).

-- Third parties (提携先). Name, address and representative are record items.
CREATE TABLE third_parties (
    third_party_id text PRIMARY KEY,
    name           text NOT NULL,
    address        text NOT NULL,
    representative text NOT NULL DEFAULT '',
    purpose        text NOT NULL
);

-- The people whose data is provided or received.
CREATE TABLE provision_subjects (
    subject_id           text PRIMARY KEY,
    member_id            text,
    email                text NOT NULL DEFAULT '',
    name                 text NOT NULL DEFAULT '',  -- 本人の氏名: a record item
    -- 第三者提供の停止: nothing more is provided, whatever the consents say.
    provision_stopped_at timestamptz,
    -- Erased: only what the kept provision records need remains.
    erased_at            timestamptz
);
CREATE INDEX provision_subjects_member ON provision_subjects (member_id);
CREATE INDEX provision_subjects_email ON provision_subjects (lower(email));

CREATE TABLE provision_consents (
    consent_id     text PRIMARY KEY,
    subject_id     text NOT NULL REFERENCES provision_subjects (subject_id) ON DELETE CASCADE,
    third_party_id text NOT NULL REFERENCES third_parties (third_party_id),
    items          text[] NOT NULL,
    purpose        text NOT NULL,
    consented_at   timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX provision_consents_subject ON provision_consents (subject_id);

-- 第三者提供記録. Kept for 3 years from the provision (施行規則第21条) even
-- when the person asks for erasure; retain_until is that date. No cascade
-- from provision_subjects: a record must never disappear with its subject.
CREATE TABLE provision_records (
    record_id      text PRIMARY KEY,
    subject_id     text NOT NULL REFERENCES provision_subjects (subject_id),
    direction      text NOT NULL CHECK (direction IN ('provided_to', 'received_from')),
    third_party_id text NOT NULL REFERENCES third_parties (third_party_id),
    provided_on    date NOT NULL,
    items          text[] NOT NULL,
    basis          text NOT NULL,   -- 'consent' (本人の同意) or the law
    -- Art. 30: how the provider obtained the data (取得の経緯).
    circumstances  text NOT NULL DEFAULT '',
    retain_until   date NOT NULL
);
CREATE INDEX provision_records_subject ON provision_records (subject_id);

-- Seed data for development and tests: the same fictional people as members.
INSERT INTO third_parties (third_party_id, name, address, representative, purpose) VALUES
  ('TP-PHARMA', '株式会社みどり薬局', '山口県下関市竹崎町4-4', '代表取締役 緑川 薫', '服薬指導およびお薬の配達'),
  ('TP-RENTAL', '株式会社やまぐち福祉用具', '山口県山口市小郡下郷5-5', '代表取締役 山口 歩', '福祉用具レンタルのご案内'),
  ('TP-KANDA', 'デイサービスかんだ運営株式会社', '山口県下関市豊北町神田6-6', '代表取締役 神田 誠', 'デイサービスの利用調整');
INSERT INTO provision_subjects (subject_id, member_id, email, name) VALUES
  ('PS-0001', 'M-1001', 'hanako@example.jp', '山田 花子'),
  ('PS-0002', 'M-1002', 'taro@example.jp', '佐藤 太郎'),
  ('PS-0003', 'M-1003', 'ichiro@example.jp', '鈴木 一郎'),
  ('PS-0004', 'M-1004', 'emily@example.com', 'Emily Clark');
INSERT INTO provision_consents (consent_id, subject_id, third_party_id, items, purpose, consented_at, revoked_at) VALUES
  ('PC-0001', 'PS-0001', 'TP-PHARMA', '{氏名,住所,電話番号,要介護度}', '服薬指導およびお薬の配達', '2025-04-01 10:00+09', NULL),
  ('PC-0002', 'PS-0001', 'TP-RENTAL', '{氏名,住所,電話番号}', '福祉用具レンタルのご案内', '2020-05-20 15:00+09', NULL),
  ('PC-0003', 'PS-0002', 'TP-RENTAL', '{氏名,住所}', '福祉用具レンタルのご案内', '2024-11-20 11:00+09', '2025-06-30 09:00+09'),
  ('PC-0004', 'PS-0003', 'TP-PHARMA', '{氏名,住所,電話番号,要介護度}', '服薬指導およびお薬の配達', '2026-04-20 10:00+09', NULL),
  ('PC-0005', 'PS-0004', 'TP-RENTAL', '{氏名,メールアドレス}', '福祉用具レンタルのご案内', '2026-02-01 20:00+09', NULL);
INSERT INTO provision_records (record_id, subject_id, direction, third_party_id, provided_on, items, basis, circumstances, retain_until) VALUES
  ('PR-0001', 'PS-0001', 'provided_to', 'TP-RENTAL', '2020-06-01', '{氏名,住所,電話番号}', 'consent', '', '2023-06-01'),
  ('PR-0002', 'PS-0001', 'provided_to', 'TP-PHARMA', '2025-04-10', '{氏名,住所,電話番号,要介護度}', 'consent', '', '2028-04-10'),
  ('PR-0003', 'PS-0001', 'provided_to', 'TP-PHARMA', '2026-10-01', '{氏名,住所,電話番号,要介護度}', 'consent', '', '2029-10-01'),
  ('PR-0004', 'PS-0001', 'received_from', 'TP-KANDA', '2024-04-01', '{氏名,連絡先,利用曜日}', 'consent',
   'デイサービスかんだの利用申込時に本人から取得', '2027-04-01'),
  ('PR-0005', 'PS-0002', 'provided_to', 'TP-RENTAL', '2024-12-01', '{氏名,住所}', 'consent', '', '2027-12-01'),
  ('PR-0006', 'PS-0003', 'provided_to', 'TP-PHARMA', '2026-05-01', '{氏名,住所,電話番号,要介護度}', 'consent', '', '2029-05-01');

-- +goose Down
DROP TABLE provision_records;
DROP TABLE provision_consents;
DROP TABLE provision_subjects;
DROP TABLE third_parties;
