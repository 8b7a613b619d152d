-- +goose Up
-- 利用停止 (APPI Art. 35): when set, the member's data is suspended from use
-- beyond what the contract itself needs; corrected_at records the last
-- staff-approved correction (訂正・追加).
ALTER TABLE members
    ADD COLUMN use_suspended    boolean NOT NULL DEFAULT false,
    ADD COLUMN use_suspended_at timestamptz,
    ADD COLUMN corrected_at     timestamptz;

-- +goose Down
ALTER TABLE members
    DROP COLUMN corrected_at,
    DROP COLUMN use_suspended_at,
    DROP COLUMN use_suspended;
