package staff

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"madoguchi.dev/platform/testinfra"
	"madoguchi.dev/services/staff/migrations"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

func newStore(t *testing.T) *Store {
	t.Helper()
	return NewStore(testinfra.Pool(t, "t_staff", migrations.FS))
}

func TestTokensAuthenticateOnlyActiveAccountsAndOnlyTheirHashIsStored(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	token, err := s.CreateAccount(ctx, "sato", "佐藤 (privacy office)", RoleStaff)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(token, TokenPrefix) || len(token) < 40 {
		t.Fatalf("token %q: want a long prefixed random token", token)
	}
	var stored int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM staff_accounts WHERE token_hash = $1", []byte(token)).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("raw token stored (%d rows, %v)", stored, err)
	}
	a, err := s.Authenticate(ctx, token)
	if err != nil || a.ID != "sato" || a.Role != RoleStaff || !a.CanAct() {
		t.Fatalf("Authenticate = %+v, %v", a, err)
	}
	for _, bad := range []string{"", " ", token + "x", TokenPrefix + "guess"} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	if _, err := s.CreateAccount(ctx, "sato", "again", RoleViewer); !errors.Is(err, ErrAccountExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := s.CreateAccount(ctx, "Bad Id", "x", RoleStaff); err == nil {
		t.Error("invalid id accepted")
	}
	if _, err := s.CreateAccount(ctx, "admin2", "x", Role("admin")); err == nil {
		t.Error("unknown role accepted")
	}

	if err := s.SetDisabled(ctx, "sato", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled account authenticated: %v", err)
	}
	if err := s.SetDisabled(ctx, "sato", false); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.RotateToken(ctx, "sato")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("old token still works after rotation: %v", err)
	}
	if _, err := s.Authenticate(ctx, fresh); err != nil {
		t.Errorf("new token: %v", err)
	}
	viewerToken, _ := s.CreateAccount(ctx, "suzuki", "鈴木", RoleViewer)
	if v, err := s.Authenticate(ctx, viewerToken); err != nil || v.CanAct() {
		t.Errorf("viewer = %+v, %v: a viewer must not act", v, err)
	}
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	e, err := s.Append(ctx, AuditEntry{Actor: "sato", Action: "approve", Receipt: "20261126-7K3M9Q",
		WorkflowID: "dsr-20261126-7K3M9Q", Fields: map[string]any{"outcome": "approve", "correction_fields": []string{"email"}},
		Reason: "本人確認済み", Result: Accepted, Message: "decision recorded: approve", StageAfter: "staff_review"})
	if err != nil {
		t.Fatal(err)
	}
	if e.ID == 0 || e.At.IsZero() {
		t.Fatalf("appended row = %+v", e)
	}
	for _, stmt := range []string{
		"UPDATE audit_log SET result = 'rejected'",
		"DELETE FROM audit_log",
		"TRUNCATE audit_log",
	} {
		_, err := s.pool.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || !strings.Contains(pgErr.Message, "append-only") {
			t.Errorf("%s: err = %v, want the append-only trigger to refuse it", stmt, err)
		}
	}
	if _, err := s.Append(ctx, AuditEntry{Actor: "sato", Action: "x", Result: "maybe"}); err == nil {
		t.Error("unknown result accepted")
	}
	rows, err := s.Audit(ctx, AuditFilter{Receipt: "20261126-7K3M9Q"})
	if err != nil || len(rows) != 1 {
		t.Fatalf("audit rows = %v, %v", rows, err)
	}
	r := rows[0]
	if r.Actor != "sato" || r.Result != Accepted || r.Reason != "本人確認済み" || r.Fields["outcome"] != "approve" {
		t.Errorf("row = %+v", r)
	}
}

func TestActionsRecordFieldNamesNeverCorrectionValues(t *testing.T) {
	a := Approve("20261126-7K3M9Q", nil, map[string]string{"email": "new@example.jp", "address": "東京都千代田区1-1"}, "")
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"new@example.jp", "東京都"} {
		if strings.Contains(strings.Join(flatten(a.Fields), " "), v) || strings.Contains(a.Reason, v) {
			t.Errorf("audit fields carry the correction value %q: %v", v, a.Fields)
		}
	}
	if got := a.Fields["correction_fields"]; strings.Join(got.([]string), ",") != "address,email" {
		t.Errorf("correction_fields = %v", got)
	}
	for _, bad := range []Action{
		Refuse("20261126-7K3M9Q", "", "text", false),
		Refuse("20261126-7K3M9Q", "not_found", " ", false),
		ReviewIdentity("20261126-7K3M9Q", false, ""),
		FeePaid("20261126-7K3M9Q", "", 1000),
		Extend("20261126-7K3M9Q", ""),
		Entrusted("20261126-7K3M9Q", "", true, ""),
		RetryHolder("20261126-7K3M9Q", "", ""),
		CloseWithdrawn("20261126-7K3M9Q", ""),
		Extend("not a receipt", "reason"),
	} {
		if bad.Err() == nil {
			t.Errorf("%s %+v: accepted without its required parts", bad.Name, bad.Fields)
		}
	}
}

func flatten(m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, k)
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []string:
			out = append(out, x...)
		}
	}
	return out
}
