-- +goose Up
-- Member registration (policy §1: お客様からの直接登録).
CREATE TABLE members (
    member_id     text PRIMARY KEY,
    name          text NOT NULL,
    name_kana     text NOT NULL DEFAULT '',
    email         text NOT NULL,
    phone         text NOT NULL DEFAULT '',
    postal_code   text NOT NULL DEFAULT '',
    address       text NOT NULL DEFAULT '',
    birth_date    date,
    care_level    text NOT NULL DEFAULT '',
    registered_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX members_email ON members (lower(email));

-- Care facilities the member registered with (登録事業所).
CREATE TABLE member_facilities (
    member_id   text NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    facility    text NOT NULL,
    since       date NOT NULL,
    PRIMARY KEY (member_id, facility)
);

-- Seed data for development and tests: fictional people.
INSERT INTO members (member_id, name, name_kana, email, phone, postal_code, address, birth_date, care_level) VALUES
  ('M-1001', '山田 花子', 'やまだ はなこ', 'hanako@example.jp', '090-1234-5678', '759-5331', '山口県下関市豊北町神田1-1', '1948-04-12', '要介護2'),
  ('M-1002', '佐藤 太郎', 'さとう たろう', 'taro@example.jp', '080-2222-3333', '750-0001', '山口県下関市丸山町2-2', '1951-09-30', '要支援1'),
  ('M-1003', '鈴木 一郎', 'すずき いちろう', 'ichiro@example.jp', '070-4444-5555', '753-0001', '山口県山口市上竪小路3-3', '1945-01-05', '要介護3'),
  ('M-1004', 'Emily Clark', '', 'emily@example.com', '+44 20 7946 0000', '', 'London', '1980-02-14', '');
INSERT INTO member_facilities (member_id, facility, since) VALUES
  ('M-1001', 'ケアスマイリー豊北', '2021-04-01'),
  ('M-1001', 'デイサービスかんだ', '2023-10-01'),
  ('M-1002', 'ケアスマイリー丸山', '2022-06-15');

-- +goose Down
DROP TABLE member_facilities;
DROP TABLE members;
